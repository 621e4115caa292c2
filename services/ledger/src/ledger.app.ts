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
import { join } from 'node:path';
import { createLedgerGrpcImplementation, LEDGER_GRPC_SERVICE_NAME } from './grpc/ledger.grpc.handlers';
import { WALLET_READ_MODEL_QUERIES } from './queries/queries.tokens';
import { createWalletQueryGrpcImplementation, WALLET_QUERY_GRPC_SERVICE_NAME } from './queries/wallet-queries.grpc.handlers';
import type { WalletReadModelQueriesService } from './queries/wallet-read-model-queries.service';
import { WALLET_COMMANDS, WALLET_QUERIES } from './ledger.tokens';
import type { WalletCommandsService } from './wallets/wallet-commands.service';
import type { WalletQueriesService } from './wallets/wallet-queries.service';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LedgerConfig } from './config/ledger.config';
import { openEventStoreRuntime } from './event-store.runtime';
import { LedgerModule } from './ledger.module';
import { registerPayoutCommandMetrics } from './payouts/payout-command.metrics';

export interface LedgerApp {
  readonly app: INestApplication;
  /** The bound HTTP address, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  /** The bound gRPC address, e.g. 127.0.0.1:50051 */
  readonly grpcAddress: string;
  /** The PostgreSQL URL the ledger uses (its embedded server's in embedded mode). */
  readonly databaseUrl: string;
  /** Stops gRPC (drain, bounded), then HTTP and the event store. */
  close(): Promise<void>;
}

/** proto/ at the repository root, found from this file (source tree or container image alike). */
const PROTO_ROOT = join(__dirname, '..', '..', '..', 'proto');
const LEDGER_PROTO = join(PROTO_ROOT, 'ledger', 'v1', 'ledger.proto');
/** Imports ledger/v1/ledger.proto (WalletStatus): resolved through includeDirs = PROTO_ROOT. */
const WALLET_QUERIES_PROTO = join(PROTO_ROOT, 'ledger', 'v1', 'wallet_queries.proto');

/** Builds and starts the ledger service: event store first, then HTTP. Used by main.ts and tests. */
export async function startLedgerApp(config: LedgerConfig, logger = new JsonLogger('ledger', config.logLevel)): Promise<LedgerApp> {
  const runtime = await openEventStoreRuntime(config, logger);
  let app: NestExpressApplication | undefined;
  let grpc: RunningGrpcServer | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(LedgerModule.forRoot(config, runtime), { logger, bufferLogs: false, bodyParser: false });
    const registry = createMetricsRegistry({ prefix: 'ledger_', defaultLabels: { service: 'ledger' } });
    installHttpEdge(app, { bodyLimitBytes: config.http.bodyLimitBytes, logger, metrics: createHttpMetrics(registry) });
    mountMetricsEndpoint(app, registry);
    const payoutCommands = runtime.payoutCommands;
    if (payoutCommands) registerPayoutCommandMetrics(registry, () => payoutCommands.status());
    setupOpenApi(app, { title: 'Ledger', version: '1', path: 'docs' });
    app.enableShutdownHooks();
    await app.listen(config.http.port, config.http.host);
    // One set of handlers (and metrics) for every service on the server.
    const grpcHandlers = createGrpcHandlers({ metrics: createGrpcMetrics(registry), logger });
    grpc = await startGrpcServer({
      ...config.grpc,
      protoFiles: [LEDGER_PROTO, WALLET_QUERIES_PROTO],
      includeDirs: [PROTO_ROOT],
      services: [
        {
          name: LEDGER_GRPC_SERVICE_NAME,
          implementation: createLedgerGrpcImplementation({
            commands: app.get<WalletCommandsService>(WALLET_COMMANDS),
            queries: app.get<WalletQueriesService>(WALLET_QUERIES),
            pins: runtime.pins,
            verifier: runtime.verifier,
            clock: () => new Date(),
            handlers: grpcHandlers,
          }),
        },
        {
          name: WALLET_QUERY_GRPC_SERVICE_NAME,
          implementation: createWalletQueryGrpcImplementation({
            queries: app.get<WalletReadModelQueriesService>(WALLET_READ_MODEL_QUERIES),
            verifier: runtime.verifier,
            handlers: grpcHandlers,
          }),
        },
      ],
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
  // Nest closes the app on SIGTERM (enableShutdownHooks) or close(); gRPC drains first, bounded.
  let grpcStopped: Promise<void> | undefined;
  httpApp.get(LedgerModule).beforeShutdown(() => (grpcStopped ??= grpcServer.stop(Math.max(100, config.shutdownTimeoutMs - 1_000)).then(() => undefined)));
  const close = (): Promise<void> => httpApp.close();
  logger.log({ msg: 'ledger service listening', url, grpc: grpcAddress }, 'Bootstrap');
  return { app, url, grpcAddress, databaseUrl: runtime.databaseUrl, close };
}
