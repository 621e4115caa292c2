import 'reflect-metadata';
import {
  createGrpcHandlers,
  createGrpcMetrics,
  createHttpMetrics,
  createMetricsRegistry,
  installHttpEdge,
  JsonLogger,
  mountMetricsEndpoint,
  setupOpenApi,
  startGrpcServer,
  type RunningGrpcServer,
} from '@ledger/nest';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { PayoutsConfig } from './config/payouts.config';
import { createPayoutsGrpcImplementation, PAYOUTS_GRPC_SERVICE_NAME, PAYOUTS_PROTO, PAYOUTS_PROTO_ROOT } from './grpc/payouts.grpc.handlers';
import { PayoutsModule } from './payouts.module';
import { openPayoutsRuntime, type PayoutsRuntime } from './payouts.runtime';

export interface PayoutsApp {
  readonly app: INestApplication;
  readonly runtime: PayoutsRuntime;
  /** The bound HTTP address, e.g. http://127.0.0.1:3001 */
  readonly url: string;
  /** The bound gRPC address, e.g. 127.0.0.1:50052 */
  readonly grpcAddress: string;
  /** Stops gRPC (drain, bounded), then HTTP, the saga, the bus and the database pool. */
  close(): Promise<void>;
}

/** Builds and starts the payouts service: runtime (database, bus, saga), then HTTP and gRPC. */
export async function startPayoutsApp(config: PayoutsConfig, logger = new JsonLogger('payouts', config.logLevel)): Promise<PayoutsApp> {
  const runtime = await openPayoutsRuntime(config, logger);
  let app: NestExpressApplication | undefined;
  let grpc: RunningGrpcServer | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(PayoutsModule.forRoot(config, runtime), { logger, bufferLogs: false, bodyParser: false });
    const registry = createMetricsRegistry({ prefix: 'payouts_', defaultLabels: { service: 'payouts' } });
    installHttpEdge(app, { bodyLimitBytes: config.http.bodyLimitBytes, logger, metrics: createHttpMetrics(registry) });
    mountMetricsEndpoint(app, registry);
    setupOpenApi(app, { title: 'Payouts', version: '1', path: 'docs' });
    app.enableShutdownHooks();
    await app.listen(config.http.port, config.http.host);
    const handlers = createGrpcHandlers({ metrics: createGrpcMetrics(registry), logger });
    grpc = await startGrpcServer({
      ...config.grpc,
      protoFiles: [PAYOUTS_PROTO],
      includeDirs: [PAYOUTS_PROTO_ROOT],
      services: [{ name: PAYOUTS_GRPC_SERVICE_NAME, implementation: createPayoutsGrpcImplementation({ application: runtime.application, verifier: runtime.verifier, handlers }) }],
    });
  } catch (error) {
    await grpc?.stop(1_000);
    if (app) await app.close();
    else await runtime.close();
    throw error;
  }
  const httpApp = app;
  const grpcServer = grpc;
  const address = httpApp.getHttpServer().address() as { port: number };
  const url = `http://${config.http.host}:${address.port}`;
  const grpcAddress = `${config.grpc.host}:${grpcServer.port}`;
  let grpcStopped: Promise<void> | undefined;
  httpApp.get(PayoutsModule).beforeShutdown(() => (grpcStopped ??= grpcServer.stop(Math.max(100, config.shutdownTimeoutMs - 1_000)).then(() => undefined)));
  logger.log({ msg: 'payouts service listening', url, grpc: grpcAddress }, 'Bootstrap');
  return { app, runtime, url, grpcAddress, close: () => httpApp.close() };
}
