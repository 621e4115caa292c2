import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/**
 * proto-loader options, explicit because its defaults change what handlers see:
 * - keepCase: true: messages use the proto field names (`idempotency_key`). With false,
 *   protobufjs renames fields to camelCase in the descriptors too, so server reflection would
 *   publish field names that differ from the .proto files, the primary API.
 * - longs: String: 64-bit integers (revisions, positions, Timestamp.seconds) arrive as decimal
 *   strings; never lossy JS numbers.
 * - enums: String: enum values are their names (`WALLET_STATUS_OPEN`).
 * - defaults: true: absent scalars read as their zero value ('' / 0 / false / []), absent
 *   messages as null, so handlers never see undefined.
 * - oneofs: true: each oneof gets a virtual field naming the member that is set.
 * - bytes: Buffer.
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
  json: false,
});

/** Loads .proto files (absolute paths, or relative to `includeDirs`) with PROTO_LOADER_OPTIONS. */
export function loadProtoFiles(files: readonly string[], includeDirs: readonly string[] = []): PackageDefinition {
  if (files.length === 0) throw new Error('loadProtoFiles: no .proto files given');
  return loadSync([...files], { ...PROTO_LOADER_OPTIONS, includeDirs: [...includeDirs] });
}
