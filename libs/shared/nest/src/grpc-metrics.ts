import { status as GrpcStatus } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './metrics.registry';

export type GrpcCallType = 'unary' | 'client_stream' | 'server_stream';

type GrpcLabels = 'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code';

/** The go-grpc-prometheus names and labels, so existing dashboards work unchanged. */
export interface GrpcMetrics {
  readonly handled: Counter<GrpcLabels>;
  readonly handlingSeconds: Histogram<GrpcLabels>;
}

export function createGrpcMetrics(registry: Registry): GrpcMetrics {
  const labelNames = ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'] as const;
  return {
    handled: new Counter({ name: 'grpc_server_handled_total', help: 'gRPC calls completed on the server, by status code', labelNames, registers: [registry] }),
    handlingSeconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'gRPC call duration on the server in seconds, until the status was sent',
      labelNames,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers: [registry],
    }),
  };
}

/**
 * Records one finished call. `path` is the call's `/package.Service/Method` (only registered
 * methods reach a handler, so the labels are bounded); `code` is the status sent (or that the
 * client saw, for cancelled and timed-out calls).
 */
export function observeGrpcCall(metrics: GrpcMetrics, type: GrpcCallType, path: string, code: GrpcStatus, seconds: number): void {
  const [service = 'unknown', method = 'unknown'] = path.replace(/^\//, '').split('/');
  const labels = { grpc_type: type, grpc_service: service, grpc_method: method, grpc_code: GrpcStatus[code] ?? String(code) };
  metrics.handled.inc(labels);
  metrics.handlingSeconds.observe(labels, seconds);
}
