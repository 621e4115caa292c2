import type { Principal, PinService } from '@ledger/auth';
import { ValidationError } from '@ledger/errors';
import type { PinGate } from './wallet-commands.service';

/** Confirms money movement with the acting principal's own PIN (PinService counts and locks). */
export class PinServiceGate implements PinGate {
  constructor(private readonly pins: Pick<PinService, 'verifyPin'>) {}

  async confirm(principal: Principal, pin: string | undefined, now: Date): Promise<void> {
    if (pin === undefined || pin === '') {
      throw new ValidationError('PIN_REQUIRED', 'Moving money needs your 4-digit transaction PIN (transactionPin)');
    }
    await this.pins.verifyPin(principal.subject, pin, now);
  }
}
