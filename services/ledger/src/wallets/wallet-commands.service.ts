import { randomUUID } from 'node:crypto';
import { assertCanActOnWallet, hasScope, requiresPin, Scopes, type Principal } from '@ledger/auth';
import { ForbiddenError, ValidationError } from '@ledger/errors';
import {
  parseIdempotencyKey,
  requestHash,
  type CommandProcessor,
  type CommandRequest,
  type DomainEvent,
  type StreamView,
} from '@ledger/event-sourcing';
import type { JsonObject } from '@ledger/event-store';
import {
  decideCaptureHoldToWallet,
  decideTransfer,
  decideWallet,
  isSystemAccountName,
  walletStreamId,
  type CommandContext,
  type WalletCommand,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';
import { parseAmount, parseCurrency, type Money } from '@ledger/money';
import { toWalletView, type WalletView } from './wallet.view';
import { walletStreamModel } from './wallet.stream-model';

/** Confirms a money-moving action with the acting principal's transaction PIN. */
export interface PinGate {
  /** @throws ValidationError PIN_REQUIRED / PIN_FORMAT_INVALID, IllegalStateError PIN_NOT_SET, ... PIN_INVALID, RateLimitedError PIN_LOCKED */
  confirm(principal: Principal, pin: string | undefined, now: Date): Promise<void>;
}

export interface CommandResponse extends JsonObject {
  /** Global position of the append: pass it as minPosition to read your own write. */
  position: string;
  replayed: boolean;
  transactionId: string | null;
  holdId: string | null;
  /** The wallet(s) after the command, as decided. */
  wallets: WalletView[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OWNER_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;

/**
 * The ledger's money-moving use cases: validate input, authorise, confirm the PIN, then hand a
 * pure decision to the group-committing CommandProcessor. Inputs arrive as strings from REST or
 * gRPC; every bad one is a named ValidationError before anything is decided.
 */
export class WalletCommandsService {
  constructor(
    private readonly processor: CommandProcessor,
    private readonly pins: PinGate,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async openWallet(principal: Principal, input: { ownerId?: string; currency: unknown; idempotencyKey: unknown }): Promise<CommandResponse> {
    const currency = parseCurrency(input.currency);
    const ownerId = input.ownerId ?? principal.subject;
    if (!OWNER_ID.test(ownerId)) throw new ValidationError('INVALID_OWNER_ID', 'ownerId must be 1-200 characters of letters, digits and _ . : @ -');
    const forSelf = principal.kind === 'user' && ownerId === principal.subject;
    if (!forSelf && !hasScope(principal, Scopes.ledgerAdmin) && !hasScope(principal, Scopes.ledgerService)) {
      throw new ForbiddenError('WALLET_ACCESS_DENIED', 'Only admins and services open wallets for someone else', { action: 'open' });
    }
    const walletId = randomUUID();
    return this.single(principal, input.idempotencyKey, { op: 'OpenWallet', ownerId, currency }, walletId, () => ({
      type: 'OpenWallet',
      walletId,
      ownerId,
      currency,
    }), { skipOwnerCheck: true });
  }

  async deposit(principal: Principal, input: MoneyInput & { reference?: unknown }): Promise<CommandResponse> {
    assertSystemMover(principal, 'deposit');
    const walletId = parseWalletId(input.walletId);
    const amount = parseMoney(input);
    const reference = parseReference(input.reference);
    const transactionId = randomUUID();
    return this.single(principal, input.idempotencyKey, { op: 'Deposit', walletId, ...moneyKey(amount), reference: reference ?? null }, walletId, () => ({
      type: 'Deposit',
      walletId,
      transactionId,
      amount,
      ...(reference ? { reference } : {}),
    }), { transactionId });
  }

  async withdraw(principal: Principal, input: MoneyInput & { reference?: unknown; pin?: unknown }): Promise<CommandResponse> {
    const walletId = parseWalletId(input.walletId);
    const amount = parseMoney(input);
    const reference = parseReference(input.reference);
    await this.confirmPin(principal, input.pin);
    const transactionId = randomUUID();
    return this.single(principal, input.idempotencyKey, { op: 'Withdraw', walletId, ...moneyKey(amount), reference: reference ?? null }, walletId, () => ({
      type: 'Withdraw',
      walletId,
      transactionId,
      amount,
      ...(reference ? { reference } : {}),
    }), { transactionId });
  }

  async placeHold(principal: Principal, input: MoneyInput & { expiresAt: unknown; pin?: unknown }): Promise<CommandResponse> {
    const walletId = parseWalletId(input.walletId);
    const amount = parseMoney(input);
    const expiresAt = parseInstant(input.expiresAt, 'expiresAt');
    await this.confirmPin(principal, input.pin);
    const holdId = randomUUID();
    return this.single(principal, input.idempotencyKey, { op: 'PlaceHold', walletId, ...moneyKey(amount), expiresAt: expiresAt.toISOString() }, walletId, () => ({
      type: 'PlaceHold',
      walletId,
      holdId,
      amount,
      expiresAt,
    }), { holdId });
  }

  async releaseHold(principal: Principal, input: { walletId: unknown; holdId: unknown; idempotencyKey: unknown }): Promise<CommandResponse> {
    const walletId = parseWalletId(input.walletId);
    const holdId = parseUuid(input.holdId, 'INVALID_HOLD_ID', 'holdId');
    return this.single(principal, input.idempotencyKey, { op: 'ReleaseHold', walletId, holdId }, walletId, () => ({ type: 'ReleaseHold', walletId, holdId }), { holdId });
  }

  async freezeWallet(principal: Principal, input: { walletId: unknown; reason: unknown; idempotencyKey: unknown }): Promise<CommandResponse> {
    assertSystemMover(principal, 'freeze');
    const walletId = parseWalletId(input.walletId);
    if (typeof input.reason !== 'string') throw new ValidationError('FREEZE_REASON_INVALID', 'reason must be a string');
    const reason = input.reason;
    return this.single(principal, input.idempotencyKey, { op: 'FreezeWallet', walletId, reason }, walletId, () => ({ type: 'FreezeWallet', walletId, reason }), {});
  }

  async unfreezeWallet(principal: Principal, input: { walletId: unknown; idempotencyKey: unknown }): Promise<CommandResponse> {
    assertSystemMover(principal, 'unfreeze');
    const walletId = parseWalletId(input.walletId);
    return this.single(principal, input.idempotencyKey, { op: 'UnfreezeWallet', walletId }, walletId, () => ({ type: 'UnfreezeWallet', walletId }), {});
  }

  async closeWallet(principal: Principal, input: { walletId: unknown; idempotencyKey: unknown }): Promise<CommandResponse> {
    const walletId = parseWalletId(input.walletId);
    return this.single(principal, input.idempotencyKey, { op: 'CloseWallet', walletId }, walletId, () => ({ type: 'CloseWallet', walletId }), {});
  }

  async transfer(
    principal: Principal,
    input: { fromWalletId: unknown; toWalletId: unknown; amount: unknown; currency: unknown; idempotencyKey: unknown; reference?: unknown; pin?: unknown },
  ): Promise<CommandResponse> {
    const fromWalletId = parseWalletId(input.fromWalletId, 'fromWalletId');
    const toWalletId = parseWalletId(input.toWalletId, 'toWalletId');
    const amount = parseMoney(input);
    const reference = parseReference(input.reference);
    await this.confirmPin(principal, input.pin);
    const transactionId = randomUUID();
    const key = { op: 'Transfer', fromWalletId, toWalletId, ...moneyKey(amount), reference: reference ?? null };
    return this.pair(principal, input.idempotencyKey, key, fromWalletId, toWalletId, (from, to, context) => {
      const decided = decideTransfer({ type: 'Transfer', transactionId, fromWalletId, toWalletId, amount, ...(reference ? { reference } : {}) }, from, to, context);
      return [decided.fromEvents, decided.toEvents];
    }, { transactionId });
  }

  async captureHold(
    principal: Principal,
    input: { walletId: unknown; holdId: unknown; amount?: unknown; currency?: unknown; toWalletId?: unknown; toSystemAccount?: unknown; idempotencyKey: unknown; reference?: unknown; pin?: unknown },
  ): Promise<CommandResponse> {
    const walletId = parseWalletId(input.walletId);
    const holdId = parseUuid(input.holdId, 'INVALID_HOLD_ID', 'holdId');
    const amount = input.amount === undefined || input.amount === '' ? undefined : parseMoney({ amount: input.amount, currency: input.currency });
    const reference = parseReference(input.reference);
    const hasWallet = input.toWalletId !== undefined && input.toWalletId !== '';
    const hasSystem = input.toSystemAccount !== undefined && input.toSystemAccount !== '';
    if (hasWallet === hasSystem) throw new ValidationError('CAPTURE_DESTINATION_INVALID', 'Give exactly one of toWalletId and toSystemAccount');
    await this.confirmPin(principal, input.pin);
    const transactionId = randomUUID();
    const base = { op: 'CaptureHold', walletId, holdId, amount: amount ? moneyKey(amount) : null };
    if (hasSystem) {
      const account = input.toSystemAccount;
      if (!isSystemAccountName(account)) throw new ValidationError('UNKNOWN_SYSTEM_ACCOUNT', 'toSystemAccount must be external-funding or payout-settlement');
      return this.single(principal, input.idempotencyKey, { ...base, account }, walletId, () => ({
        type: 'CaptureHoldToSystem', walletId, holdId, transactionId, account, ...(amount ? { amount } : {}),
      }), { transactionId, holdId });
    }
    const toWalletId = parseWalletId(input.toWalletId, 'toWalletId');
    return this.pair(principal, input.idempotencyKey, { ...base, toWalletId, reference: reference ?? null }, walletId, toWalletId, (from, to, context) => {
      const decided = decideCaptureHoldToWallet(
        { type: 'CaptureHoldToWallet', walletId, holdId, transactionId, toWalletId, ...(amount ? { amount } : {}), ...(reference ? { reference } : {}) },
        from, to, context,
      );
      return [decided.fromEvents, decided.toEvents];
    }, { transactionId, holdId });
  }

  private async confirmPin(principal: Principal, pin: unknown): Promise<void> {
    if (!requiresPin(principal, 'move')) return;
    if (pin !== undefined && typeof pin !== 'string') throw new ValidationError('PIN_FORMAT_INVALID', 'The transaction PIN is a string of 4 digits');
    await this.pins.confirm(principal, pin, this.clock());
  }

  /** A command on one wallet, authorised against its owner inside the decision. */
  private single(
    principal: Principal,
    idempotencyKey: unknown,
    request: JsonObject,
    walletId: string,
    command: () => WalletCommand,
    ids: { transactionId?: string; holdId?: string; skipOwnerCheck?: boolean },
  ): Promise<CommandResponse> {
    return this.submit(principal, parseIdempotencyKey(idempotencyKey), request, [walletId], (views, context) => {
      const [view] = views as [StreamView<WalletState>];
      if (!ids.skipOwnerCheck && view.state.status !== 'none') assertCanActOnWallet(principal, view.state.ownerId, 'move');
      const events = decideWallet(command(), view.state, context);
      return { events: [events as unknown as DomainEvent[]], result: response([advance(view, events)], ids) };
    });
  }

  /** A command over two wallets (source first): one atomic append to both streams. */
  private pair(
    principal: Principal,
    idempotencyKey: unknown,
    request: JsonObject,
    fromWalletId: string,
    toWalletId: string,
    decide: (from: WalletState, to: WalletState, context: CommandContext) => [WalletEvent[], WalletEvent[]],
    ids: { transactionId?: string; holdId?: string },
  ): Promise<CommandResponse> {
    const key = parseIdempotencyKey(idempotencyKey);
    if (fromWalletId === toWalletId) throw new ValidationError('SAME_WALLET', 'Source and destination must be different wallets');
    return this.submit(principal, key, request, [fromWalletId, toWalletId], (views, context) => {
      const [from, to] = views as [StreamView<WalletState>, StreamView<WalletState>];
      // Moving money out needs rights on the source; crediting another wallet needs none on it.
      if (from.state.status !== 'none') assertCanActOnWallet(principal, from.state.ownerId, 'move');
      const [fromEvents, toEvents] = decide(from.state, to.state, context);
      const fromView = advance(from, fromEvents);
      // The caller sees the destination only if they may read it.
      const toView = advance(to, toEvents);
      const visible = toView && canRead(principal, toView) ? [fromView, toView] : [fromView];
      return { events: [fromEvents as unknown as DomainEvent[], toEvents as unknown as DomainEvent[]], result: response(visible, ids) };
    });
  }

  /** Hands a decision over the given wallets to the processor, under the caller's idempotency key. */
  private async submit(
    principal: Principal,
    key: string,
    request: JsonObject,
    walletIds: readonly string[],
    decide: (views: readonly StreamView[], context: CommandContext) => ReturnType<CommandRequest<CommandResponse>['decide']>,
  ): Promise<CommandResponse> {
    const context: CommandContext = { now: this.clock() };
    const outcome = await this.processor.execute<CommandResponse>({
      streams: walletIds.map((walletId) => ({ streamId: walletStreamId(walletId), model: walletStreamModel as never })),
      decide: (views) => decide(views, context),
      idempotency: { scope: principal.subject, key, requestHash: requestHash(request) },
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), principal: principalId(principal) },
    });
    return { ...outcome.result, position: outcome.position.toString(), replayed: outcome.replayed };
  }
}

interface MoneyInput {
  walletId: unknown;
  amount: unknown;
  currency: unknown;
  idempotencyKey: unknown;
}

function advance(view: StreamView<WalletState>, events: readonly WalletEvent[]): WalletView | undefined {
  const state = events.reduce((s, e) => walletStreamModel.evolve(s, e as unknown as DomainEvent), view.state);
  const base = view.revision === 'no_stream' ? -1n : view.revision;
  return toWalletView(state, base + BigInt(events.length));
}

function response(views: Array<WalletView | undefined>, ids: { transactionId?: string; holdId?: string }): CommandResponse {
  return {
    position: '0',
    replayed: false,
    transactionId: ids.transactionId ?? null,
    holdId: ids.holdId ?? null,
    wallets: views.filter((v): v is WalletView => v !== undefined),
  };
}

function canRead(principal: Principal, view: WalletView): boolean {
  try {
    assertCanActOnWallet(principal, view.ownerId, 'read');
    return true;
  } catch {
    return false;
  }
}

/** Deposits and freezes are operator or service actions, never a user's own. */
function assertSystemMover(principal: Principal, action: string): void {
  if (!hasScope(principal, Scopes.ledgerAdmin) && !hasScope(principal, Scopes.ledgerService)) {
    throw new ForbiddenError('SCOPE_REQUIRED', `Only operators (ledger:admin) and services (ledger:service) may ${action}`, { scope: Scopes.ledgerAdmin });
  }
}

export function principalId(principal: Principal): string {
  return `${principal.kind}:${principal.subject}`;
}

export function parseWalletId(value: unknown, field = 'walletId'): string {
  return parseUuid(value, 'INVALID_WALLET_ID', field);
}

function parseUuid(value: unknown, code: string, field: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new ValidationError(code, `${field} must be a lower-case UUID`, { field });
  return value;
}

function parseMoney(input: { amount: unknown; currency: unknown }): Money {
  return parseAmount(input.amount, parseCurrency(input.currency));
}

function moneyKey(amount: Money): { amountMinor: string; currency: string } {
  return { amountMinor: amount.amountMinor.toString(), currency: amount.currency };
}

function parseReference(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ValidationError('REFERENCE_INVALID', 'reference must be a string of at most 140 characters');
  return value;
}

function parseInstant(value: unknown, field: string): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ValidationError('INVALID_TIMESTAMP', `${field} must be an RFC 3339 UTC timestamp such as 2026-11-21T10:00:00Z`, { field });
  }
  return new Date(value);
}

