import { AuthModule, JwtAuthGuard } from '@ledger/auth';
import { Inject, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { LedgerConfig } from './config/ledger.config';
import type { EventStoreRuntime } from './event-store.runtime';
import { HealthHttpController } from './health/health.http.controller';
import { EVENT_STORE_RUNTIME, LEDGER_CLOCK, LEDGER_CONFIG, PIN_SERVICE, WALLET_COMMANDS, WALLET_QUERIES } from './ledger.tokens';
import { WALLET_READ_MODEL_QUERIES } from './queries/queries.tokens';
import { WalletQueriesHttpController } from './queries/wallet-queries.http.controller';
import { createWalletReadModelQueries } from './queries/wallet-queries.wiring';
import { PinServiceGate } from './wallets/pin-gate';
import { WalletCommandsService } from './wallets/wallet-commands.service';
import { WalletQueriesService } from './wallets/wallet-queries.service';
import { WalletsHttpController } from './wallets/wallets.http.controller';

@Module({})
export class LedgerModule implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly beforeShutdownSteps: Array<() => Promise<void>> = [];

  constructor(@Inject(EVENT_STORE_RUNTIME) private readonly runtime: EventStoreRuntime) {}

  /** Registers work to finish before HTTP closes (e.g. draining gRPC). */
  beforeShutdown(step: () => Promise<void>): void {
    this.beforeShutdownSteps.push(step);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.beforeShutdownSteps.map((step) => step()));
  }

  static forRoot(config: LedgerConfig, runtime: EventStoreRuntime, clock: () => Date = () => new Date()): DynamicModule {
    return {
      module: LedgerModule,
      imports: [AuthModule.forVerifier(runtime.verifier)],
      controllers: [HealthHttpController, WalletsHttpController, WalletQueriesHttpController],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: EVENT_STORE_RUNTIME, useValue: runtime },
        { provide: LEDGER_CLOCK, useValue: clock },
        { provide: PIN_SERVICE, useValue: runtime.pins },
        { provide: WALLET_COMMANDS, useValue: new WalletCommandsService(runtime.processor, new PinServiceGate(runtime.pins), clock) },
        { provide: WALLET_QUERIES, useValue: new WalletQueriesService(runtime.store) },
        { provide: WALLET_READ_MODEL_QUERIES, useValue: createWalletReadModelQueries(runtime.pool, config) },
        // Every route needs a token unless marked @Public(): a new controller cannot forget it.
        { provide: APP_GUARD, useExisting: JwtAuthGuard },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}
