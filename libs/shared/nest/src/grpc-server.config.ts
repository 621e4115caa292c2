import type { EnvReader } from './env-config';

/** Explicit server limits; grpc-js defaults (4 MiB messages, no keepalive, unbounded streams) are not ours. */
export interface GrpcServerLimits {
  /** Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response message sent. */
  readonly maxSendMessageBytes: number;
  /** Interval of server keepalive pings on idle connections, to find dead peers. */
  readonly keepaliveTimeMs: number;
  /** How long a keepalive ping may go unanswered before the connection is closed. */
  readonly keepaliveTimeoutMs: number;
  /** Concurrent calls per client connection. */
  readonly maxConcurrentStreams: number;
  /** A connection with no calls for this long is closed (clients reconnect transparently). */
  readonly maxConnectionIdleMs: number;
}

export interface GrpcServerConfig {
  readonly host: string;
  readonly port: number;
  readonly limits: GrpcServerLimits;
}

/**
 * Reads the gRPC server's named config in a service's config loader (one place reads the
 * environment). Variables, units and bounds:
 *
 * | variable                         | default   | bounds               |
 * |----------------------------------|-----------|----------------------|
 * | GRPC_HOST                        | 127.0.0.1 |                      |
 * | GRPC_PORT                        | 50051     | 0..65535 (0: any)    |
 * | GRPC_MAX_RECEIVE_MESSAGE_BYTES   | 65536     | 1024..16777216       |
 * | GRPC_MAX_SEND_MESSAGE_BYTES      | 4194304   | 1024..67108864       |
 * | GRPC_KEEPALIVE_TIME_MS           | 30000     | 1000..7200000        |
 * | GRPC_KEEPALIVE_TIMEOUT_MS        | 10000     | 1000..600000         |
 * | GRPC_MAX_CONCURRENT_STREAMS      | 1000      | 1..100000            |
 * | GRPC_MAX_CONNECTION_IDLE_MS      | 300000    | 1000..86400000       |
 */
export function readGrpcServerConfig(read: EnvReader): GrpcServerConfig {
  return {
    host: read.string('GRPC_HOST', '127.0.0.1'),
    port: read.integer('GRPC_PORT', 50_051, 0, 65_535),
    limits: {
      maxReceiveMessageBytes: read.integer('GRPC_MAX_RECEIVE_MESSAGE_BYTES', 65_536, 1_024, 16_777_216),
      maxSendMessageBytes: read.integer('GRPC_MAX_SEND_MESSAGE_BYTES', 4_194_304, 1_024, 67_108_864),
      keepaliveTimeMs: read.integer('GRPC_KEEPALIVE_TIME_MS', 30_000, 1_000, 7_200_000),
      keepaliveTimeoutMs: read.integer('GRPC_KEEPALIVE_TIMEOUT_MS', 10_000, 1_000, 600_000),
      maxConcurrentStreams: read.integer('GRPC_MAX_CONCURRENT_STREAMS', 1_000, 1, 100_000),
      maxConnectionIdleMs: read.integer('GRPC_MAX_CONNECTION_IDLE_MS', 300_000, 1_000, 86_400_000),
    },
  };
}
