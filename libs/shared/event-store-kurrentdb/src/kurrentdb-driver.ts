import {
  KurrentDBClient,
  type AllStreamResolvedEvent,
  type AppendResult as DriverAppendResult,
  type AppendStreamRequest,
  type AppendToStreamOptions,
  type EventData,
  type MultiAppendResult,
  type ReadAllOptions as DriverReadAllOptions,
  type ReadStreamOptions as DriverReadStreamOptions,
  type ResolvedEvent,
  type SetStreamMetadataOptions,
  type StreamMetadata,
} from '@kurrent/kurrentdb-client';

/**
 * The part of `KurrentDBClient` (@kurrent/kurrentdb-client 1.3.x) this adapter uses, and nothing
 * more. `KurrentDBClient` satisfies it structurally (checked by `createKurrentDbDriver` below);
 * unit tests substitute a fake that follows the same documented semantics.
 */
export interface KurrentDbDriver {
  /** v1 append: one stream, checked against `streamState`. */
  appendToStream(streamName: string, events: EventData[], options: AppendToStreamOptions): Promise<DriverAppendResult>;
  /** v2 append session (server 25.1+): several streams, one atomic commit. Metadata: string values only. */
  multiStreamAppend(requests: AppendStreamRequest[]): Promise<MultiAppendResult>;
  /** Throws the driver's StreamNotFoundError (type 'stream-not-found') when the stream does not exist. */
  readStream(streamName: string, options: DriverReadStreamOptions): AsyncIterable<ResolvedEvent>;
  readAll(options: DriverReadAllOptions): AsyncIterable<AllStreamResolvedEvent>;
  setStreamMetadata(streamName: string, metadata: StreamMetadata, options: SetStreamMetadataOptions): Promise<DriverAppendResult>;
  dispose(): Promise<void>;
}

/** Client options the adapter sets explicitly rather than inheriting the driver's defaults. */
export interface KurrentDbClientOptions {
  /** gRPC deadline of every call, in milliseconds (the driver's `defaultDeadline`). */
  readonly deadlineMs: number;
}

/** 10 s: the driver's own default, stated here so that it is a decision, not an accident. */
export const DEFAULT_KURRENTDB_DEADLINE_MS = 10_000;

/** Connection-string keys this adapter owns; a value given in the string for them is replaced. */
const OWNED_KEYS = ['defaultDeadline'] as const;

/** The driver compares option names case-insensitively, ignoring `-` and `_`. */
function flatKey(key: string): string {
  return key.trim().toLowerCase().replace(/[_-]/g, '');
}

/**
 * Returns the connection string with the adapter's client options set. Connection strings are
 * the only way `KurrentDBClient` (and its native read bridge) accept options, so the deadline is
 * written into the query string, replacing any value already there.
 */
export function applyClientOptions(connectionString: string, options: KurrentDbClientOptions): string {
  if (!Number.isSafeInteger(options.deadlineMs) || options.deadlineMs <= 0) {
    throw new RangeError(`deadlineMs must be a positive integer number of milliseconds; got ${options.deadlineMs}`);
  }
  const trimmed = connectionString.trim();
  const queryAt = trimmed.indexOf('?');
  const base = queryAt === -1 ? trimmed : trimmed.slice(0, queryAt);
  const query = queryAt === -1 ? '' : trimmed.slice(queryAt + 1);
  const owned = new Set(OWNED_KEYS.map(flatKey));
  const kept = query
    .split('&')
    .filter((pair) => pair.length > 0)
    .filter((pair) => !owned.has(flatKey(pair.split('=')[0] ?? '')));
  kept.push(`defaultDeadline=${options.deadlineMs}`);
  return `${base}?${kept.join('&')}`;
}

/** Opens a client on a `kurrentdb://` connection string with the adapter's explicit options. */
export function createKurrentDbDriver(connectionString: string, options: KurrentDbClientOptions): KurrentDbDriver {
  const client: KurrentDbDriver = KurrentDBClient.connectionString(applyClientOptions(connectionString, options));
  return client;
}
