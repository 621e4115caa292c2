import { Public } from '@ledger/auth';
import { probeWithin, type ReadinessCheck } from '@ledger/nest';
import { Controller, Get, HttpCode, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { PayoutsConfig } from '../config/payouts.config';
import type { PayoutsRuntime } from '../payouts.runtime';
import { PAYOUTS_CONFIG, PAYOUTS_RUNTIME } from '../payouts.tokens';

/** Liveness: the process serves. Readiness: the database (event store and tables) answers. */
@Public()
@Controller('health')
export class PayoutsHealthHttpController {
  constructor(
    @Inject(PAYOUTS_RUNTIME) private readonly runtime: PayoutsRuntime,
    @Inject(PAYOUTS_CONFIG) private readonly config: PayoutsConfig,
  ) {}

  @Get('live')
  @HttpCode(HttpStatus.OK)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) response: Response): Promise<{ status: 'ok' | 'unavailable'; checks: { database: ReadinessCheck } }> {
    const database = await this.checkDatabase();
    const ok = database.status === 'up';
    response.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ok ? 'ok' : 'unavailable', checks: { database } };
  }

  private checkDatabase(): Promise<ReadinessCheck> {
    return probeWithin(this.config.readinessTimeoutMs, () => this.runtime.pool.query('SELECT 1'));
  }
}
