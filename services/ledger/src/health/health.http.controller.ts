import { Public } from '@ledger/auth';
import { probeWithin, type ReadinessCheck } from '@ledger/nest';
import { Controller, Get, HttpCode, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { EVENT_STORE_RUNTIME, LEDGER_CONFIG } from '../ledger.tokens';
import type { LedgerConfig } from '../config/ledger.config';
import type { EventStoreRuntime } from '../event-store.runtime';

/**
 * Liveness says the process can serve (no dependencies checked, so a database outage does not
 * get healthy pods restarted); readiness says it can do its job (the event store answers).
 */
@Public()
@Controller('health')
export class HealthHttpController {
  constructor(
    @Inject(EVENT_STORE_RUNTIME) private readonly runtime: EventStoreRuntime,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  @Get('live')
  @HttpCode(HttpStatus.OK)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) response: Response): Promise<{ status: 'ok' | 'unavailable'; checks: { eventStore: ReadinessCheck } }> {
    const eventStore = await this.checkEventStore();
    const ok = eventStore.status === 'up';
    response.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ok ? 'ok' : 'unavailable', checks: { eventStore } };
  }

  private checkEventStore(): Promise<ReadinessCheck> {
    return probeWithin(this.config.readinessTimeoutMs, () => this.runtime.store.readAll({ fromPosition: 0n, maxCount: 1 }));
  }
}
