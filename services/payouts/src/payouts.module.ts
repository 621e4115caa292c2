import { AuthModule, JwtAuthGuard } from '@ledger/auth';
import { Inject, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { PayoutsConfig } from './config/payouts.config';
import { PayoutsHealthHttpController } from './health/health.http.controller';
import { PAYOUTS_HTTP_CONTROLLERS } from './http/payouts.http.controller';
import type { PayoutsRuntime } from './payouts.runtime';
import { PAYOUTS_APPLICATION, PAYOUTS_CONFIG, PAYOUTS_RUNTIME } from './payouts.tokens';

@Module({})
export class PayoutsModule implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly beforeShutdownSteps: Array<() => Promise<void>> = [];

  constructor(@Inject(PAYOUTS_RUNTIME) private readonly runtime: PayoutsRuntime) {}

  /** Registers work to finish before HTTP closes (e.g. draining gRPC). */
  beforeShutdown(step: () => Promise<void>): void {
    this.beforeShutdownSteps.push(step);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.beforeShutdownSteps.map((step) => step()));
  }

  static forRoot(config: PayoutsConfig, runtime: PayoutsRuntime): DynamicModule {
    return {
      module: PayoutsModule,
      imports: [AuthModule.forVerifier(runtime.verifier)],
      controllers: [PayoutsHealthHttpController, ...PAYOUTS_HTTP_CONTROLLERS],
      providers: [
        { provide: PAYOUTS_CONFIG, useValue: config },
        { provide: PAYOUTS_RUNTIME, useValue: runtime },
        { provide: PAYOUTS_APPLICATION, useValue: runtime.application },
        // Every route needs a token unless marked @Public().
        { provide: APP_GUARD, useExisting: JwtAuthGuard },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}
