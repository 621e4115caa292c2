import 'reflect-metadata';
import { JsonLogger } from '@ledger/nest';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { LedgerConfig } from './config/ledger.config';
import { openEventStoreRuntime } from './event-store.runtime';
import { LedgerModule } from './ledger.module';

export interface LedgerApp {
  readonly app: INestApplication;
  /** The bound HTTP address, e.g. http://127.0.0.1:3000 */
  readonly url: string;
}

/** Builds and starts the ledger service: event store first, then HTTP. Used by main.ts and tests. */
export async function startLedgerApp(config: LedgerConfig, logger = new JsonLogger('ledger', config.logLevel)): Promise<LedgerApp> {
  const runtime = await openEventStoreRuntime(config, logger);
  let app: INestApplication;
  try {
    app = await NestFactory.create(LedgerModule.forRoot(config, runtime), { logger, bufferLogs: false });
    app.enableShutdownHooks();
    await app.listen(config.http.port, config.http.host);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${config.http.host}:${address.port}`;
  logger.log({ msg: 'ledger service listening', url }, 'Bootstrap');
  return { app, url };
}
