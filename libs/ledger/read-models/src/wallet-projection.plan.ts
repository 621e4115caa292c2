import { parseStreamName, type RecordedEvent } from '@ledger/event-store';
import {
  evolveWallet,
  initialWalletState,
  WALLET_CATEGORY,
  WALLET_EVENT_TYPES,
  type ExistingWallet,
  type OpenHold,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';
import { ProjectionPoisonError } from './projection-poison.error';

/**
 * The wallet projection as a pure function: given the stored rows of the wallets a batch touches
 * and a batch of events, what to write. All balance arithmetic is evolveWallet's own (the same
 * fold the deciders use), so the read model cannot disagree with the domain; this module only
 * adds the revision guard and derives the history rows from the state before and after.
 */

export type WalletStatus = ExistingWallet['status'];

/** A wallet's balances row as stored (amounts as bigint minor units). */
export interface StoredWallet {
  readonly walletId: string;
  readonly ownerId: string;
  readonly currency: string;
  readonly status: WalletStatus;
  readonly balanceMinor: bigint;
  readonly heldMinor: bigint;
  readonly streamRevision: bigint;
  readonly globalPosition: bigint;
}

export interface BalanceRow extends StoredWallet {
  /** Recorded time of the last applied event, so a rebuild writes the same rows as the live run. */
  readonly updatedAt: Date;
}

export interface HistoryRow {
  readonly walletId: string;
  readonly streamRevision: bigint;
  readonly eventId: string;
  readonly globalPosition: bigint;
  readonly recordedAt: Date;
  readonly type: string;
  /** Signed effect on the balance (0 for lifecycle and hold placement). */
  readonly amountMinor: bigint;
  readonly balanceAfter: bigint;
  readonly heldAfter: bigint;
  readonly currency: string;
  readonly counterparty: string | null;
  readonly transactionId: string | null;
  readonly holdId: string | null;
  readonly reference: string | null;
  readonly idempotencyKey: string | null;
  readonly correlationId: string | null;
}

export interface DirectoryRow {
  readonly walletId: string;
  readonly ownerId: string;
  readonly currency: string;
  readonly status: WalletStatus;
  readonly openedAt: string;
}

export interface HoldKey {
  readonly walletId: string;
  readonly holdId: string;
}

export interface HoldRow extends HoldKey {
  readonly amountMinor: bigint;
}

export interface WalletBatchPlan {
  /** In input order; one per applied event. */
  readonly history: readonly HistoryRow[];
  /** The final row of every wallet that changed. */
  readonly balances: readonly BalanceRow[];
  /** Wallets opened in this batch. */
  readonly directoryInserts: readonly DirectoryRow[];
  /** Wallets opened earlier whose status changed. */
  readonly directoryStatus: readonly { readonly walletId: string; readonly status: WalletStatus }[];
  readonly holdsToDelete: readonly HoldKey[];
  readonly holdsToUpsert: readonly HoldRow[];
  readonly applied: number;
  readonly duplicates: number;
  /** The last event applied (or skipped as a duplicate) before any poison. */
  readonly lastHandled: RecordedEvent | undefined;
  /** Set when an event could not be applied: nothing from it on is in the plan. */
  readonly poison: ProjectionPoisonError | undefined;
}

/** Events that take from an open hold, so need its stored amount; all but HoldDrawn resolve it, a HoldDrawn may. */
const HOLD_TAKERS = new Set(['HoldCaptured', 'HoldReleased', 'HoldExpired', 'HoldDrawn']);
const KNOWN_TYPES: ReadonlySet<string> = new Set(WALLET_EVENT_TYPES);
const NO_RESOLVED_HOLDS: ReadonlySet<string> = new Set();

/** The wallet id of a `wallet-<id>` stream; anything else is poison for this projection. */
export function walletIdOf(event: RecordedEvent): string {
  let parsed: { category: string; id: string } | undefined;
  try {
    parsed = parseStreamName(event.streamId);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.category !== WALLET_CATEGORY) {
    throw new ProjectionPoisonError('NOT_A_WALLET_EVENT', locate(event), `stream is not a ${WALLET_CATEGORY} stream`);
  }
  return parsed.id;
}

export function holdKey(walletId: string, holdId: string): string {
  return `${walletId}\u0000${holdId}`;
}

/**
 * The (wallet, hold) pairs whose stored amounts the batch needs: those its resolutions and draws
 * name. Events of foreign streams are left for planWalletBatch to report.
 */
export function holdsToLoad(events: readonly RecordedEvent[]): HoldKey[] {
  const keys = new Map<string, HoldKey>();
  for (const event of events) {
    if (!HOLD_TAKERS.has(event.type)) continue;
    const holdId = event.data['holdId'];
    if (typeof holdId !== 'string') continue;
    let walletId: string;
    try {
      walletId = walletIdOf(event);
    } catch {
      continue;
    }
    keys.set(holdKey(walletId, holdId), { walletId, holdId });
  }
  return [...keys.values()];
}

interface Working {
  readonly initialHolds: ReadonlyMap<string, bigint>;
  readonly wasStored: boolean;
  readonly initialStatus: WalletStatus | undefined;
  state: WalletState;
  revision: bigint;
  position: bigint;
  recordedAt: Date;
  openedAt: string | undefined;
  changed: boolean;
}

/**
 * Plans one batch in order. Per wallet: revision ≤ stored → duplicate (skipped, no change);
 * revision = stored + 1 → applied with evolveWallet; anything else, or an event evolveWallet
 * refuses, → poison: the plan keeps what came before it and nothing from it on.
 *
 * @param stored the balances rows of (at least) every wallet in the batch that has one
 * @param storedHolds open hold amounts keyed by holdKey, at least for holdsToLoad(events)
 */
export function planWalletBatch(
  events: readonly RecordedEvent[],
  stored: ReadonlyMap<string, StoredWallet>,
  storedHolds: ReadonlyMap<string, bigint>,
): WalletBatchPlan {
  const holdsByWallet = new Map<string, Map<string, bigint>>();
  for (const [key, amount] of storedHolds) {
    const [walletId, holdId] = key.split('\u0000') as [string, string];
    let forWallet = holdsByWallet.get(walletId);
    if (!forWallet) holdsByWallet.set(walletId, (forWallet = new Map()));
    forWallet.set(holdId, amount);
  }
  const working = new Map<string, Working>();
  const history: HistoryRow[] = [];
  let duplicates = 0;
  let lastHandled: RecordedEvent | undefined;
  let poison: ProjectionPoisonError | undefined;

  for (const event of events) {
    let walletId: string;
    try {
      walletId = walletIdOf(event);
    } catch (error) {
      poison = error as ProjectionPoisonError;
      break;
    }
    let wallet = working.get(walletId);
    if (!wallet) {
      wallet = startWorking(stored.get(walletId), holdsByWallet.get(walletId) ?? new Map());
      working.set(walletId, wallet);
    }
    if (event.revision <= wallet.revision) {
      duplicates += 1;
      lastHandled = event;
      continue;
    }
    if (event.revision !== wallet.revision + 1n) {
      poison = new ProjectionPoisonError('REVISION_GAP', locate(event), `expected revision ${wallet.revision + 1n} of the stream, got ${event.revision}`);
      break;
    }
    let next: WalletState;
    try {
      next = evolve(wallet.state, event, walletId);
    } catch (error) {
      poison = new ProjectionPoisonError('CANNOT_FOLLOW', locate(event), error instanceof Error ? error.message : String(error), { cause: error });
      break;
    }
    if (next.status === 'none') {
      poison = new ProjectionPoisonError('CANNOT_FOLLOW', locate(event), 'the wallet has no state after the event');
      break;
    }
    const before = wallet.state.status === 'none' ? 0n : wallet.state.balanceMinor;
    history.push(historyRow(event, walletId, next, next.balanceMinor - before));
    if (event.type === 'WalletOpened') wallet.openedAt = String(event.data['openedAt'] ?? event.recordedAt.toISOString());
    wallet.state = next;
    wallet.revision = event.revision;
    wallet.position = event.position;
    wallet.recordedAt = event.recordedAt;
    wallet.changed = true;
    lastHandled = event;
  }

  return { ...rowsOf(working), history, applied: history.length, duplicates, lastHandled, poison };
}

function startWorking(row: StoredWallet | undefined, holds: ReadonlyMap<string, bigint>): Working {
  const openHolds = new Map<string, OpenHold>();
  for (const [holdId, amountMinor] of holds) openHolds.set(holdId, { holdId, amountMinor, expiresAt: '' });
  const state: WalletState = row
    ? {
        status: row.status,
        walletId: row.walletId,
        ownerId: row.ownerId,
        currency: row.currency as ExistingWallet['currency'],
        balanceMinor: row.balanceMinor,
        heldMinor: row.heldMinor,
        openHolds,
        resolvedHoldIds: NO_RESOLVED_HOLDS,
      }
    : initialWalletState;
  return {
    initialHolds: row ? holds : new Map(),
    wasStored: row !== undefined,
    initialStatus: row?.status,
    state,
    revision: row ? row.streamRevision : -1n,
    position: row ? row.globalPosition : 0n,
    recordedAt: new Date(0),
    openedAt: undefined,
    changed: false,
  };
}

/** evolveWallet, after the checks it leaves to its callers (type known, event of this wallet). */
function evolve(state: WalletState, event: RecordedEvent, walletId: string): WalletState {
  if (!KNOWN_TYPES.has(event.type)) throw new Error(`unknown event type '${event.type.slice(0, 80)}'`);
  if (event.data['walletId'] !== walletId) throw new Error(`data.walletId '${String(event.data['walletId']).slice(0, 80)}' is not the stream's wallet`);
  // The projection does not answer HOLD_ALREADY_RESOLVED, so it does not carry the resolved ids
  // (evolveWallet would copy that set on every resolution).
  const input = HOLD_TAKERS.has(event.type) && state.status !== 'none' ? { ...state, resolvedHoldIds: NO_RESOLVED_HOLDS } : state;
  return evolveWallet(input, event as unknown as WalletEvent);
}

function historyRow(event: RecordedEvent, walletId: string, after: ExistingWallet, amountMinor: bigint): HistoryRow {
  const data = event.data;
  return {
    walletId,
    streamRevision: event.revision,
    eventId: event.id,
    globalPosition: event.position,
    recordedAt: event.recordedAt,
    type: event.type,
    amountMinor,
    balanceAfter: after.balanceMinor,
    heldAfter: after.heldMinor,
    currency: after.currency,
    counterparty: counterpartyOf(event.type as WalletEvent['type'], data),
    transactionId: text(data['transactionId']),
    holdId: text(data['holdId']),
    reference: text(data['reference']),
    idempotencyKey: text(event.metadata?.idempotencyKey),
    correlationId: text(event.metadata?.correlationId),
  };
}

/** The other leg of the movement: a wallet id, or a system account id (`system:<name>:<currency>`). */
function counterpartyOf(type: WalletEvent['type'], data: RecordedEvent['data']): string | null {
  switch (type) {
    case 'FundsDeposited':
      return text(data['from']);
    case 'FundsWithdrawn':
      return text(data['to']);
    case 'TransferDebited':
      return text(data['toWalletId']);
    case 'TransferCredited':
      return text(data['fromWalletId']);
    case 'HoldCaptured':
    case 'HoldDrawn': {
      const to = data['to'] as { kind?: unknown; walletId?: unknown; account?: unknown } | null;
      if (!to || typeof to !== 'object') return null;
      return to.kind === 'wallet' ? text(to.walletId) : text(to.account);
    }
    default:
      return null;
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function rowsOf(working: ReadonlyMap<string, Working>): Pick<WalletBatchPlan, 'balances' | 'directoryInserts' | 'directoryStatus' | 'holdsToDelete' | 'holdsToUpsert'> {
  const balances: BalanceRow[] = [];
  const directoryInserts: DirectoryRow[] = [];
  const directoryStatus: Array<{ walletId: string; status: WalletStatus }> = [];
  const holdsToDelete: HoldKey[] = [];
  const holdsToUpsert: HoldRow[] = [];
  for (const [walletId, wallet] of working) {
    if (!wallet.changed || wallet.state.status === 'none') continue;
    const state = wallet.state;
    balances.push({
      walletId,
      ownerId: state.ownerId,
      currency: state.currency,
      status: state.status,
      balanceMinor: state.balanceMinor,
      heldMinor: state.heldMinor,
      streamRevision: wallet.revision,
      globalPosition: wallet.position,
      updatedAt: wallet.recordedAt,
    });
    if (!wallet.wasStored) {
      directoryInserts.push({ walletId, ownerId: state.ownerId, currency: state.currency, status: state.status, openedAt: wallet.openedAt ?? wallet.recordedAt.toISOString() });
    } else if (wallet.initialStatus !== state.status) {
      directoryStatus.push({ walletId, status: state.status });
    }
    for (const holdId of wallet.initialHolds.keys()) {
      if (!state.openHolds.has(holdId)) holdsToDelete.push({ walletId, holdId });
    }
    for (const [holdId, hold] of state.openHolds) {
      if (wallet.initialHolds.get(holdId) !== hold.amountMinor) holdsToUpsert.push({ walletId, holdId, amountMinor: hold.amountMinor });
    }
  }
  return { balances, directoryInserts, directoryStatus, holdsToDelete, holdsToUpsert };
}

function locate(event: RecordedEvent): { eventId: string; streamId: string; revision: bigint; position: bigint } {
  return { eventId: event.id, streamId: event.streamId, revision: event.revision, position: event.position };
}
