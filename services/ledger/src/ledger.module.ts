import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Inject } from '@nestjs/common';
import type { LedgerConfig } from './config/ledger.config';
import type { EventStoreRuntime } from './event-store.runtime';
import { HealthHttpController } from './health/health.http.controller';
import { EVENT_STORE_RUNTIME, LEDGER_CONFIG } from './ledger.tokens';

@Module({})
export class LedgerModule implements OnApplicationShutdown {
  constructor(@Inject(EVENT_STORE_RUNTIME) private readonly runtime: EventStoreRuntime) {}

  static forRoot(config: LedgerConfig, runtime: EventStoreRuntime): DynamicModule {
    return {
      module: LedgerModule,
      controllers: [HealthHttpController],
      providers: [
        { provide: LEDGER_CONFIG, useValue: config },
        { provide: EVENT_STORE_RUNTIME, useValue: runtime },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}
