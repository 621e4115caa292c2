import { assertCanActOnWallet, type Principal } from '@ledger/auth';
import { NotFoundError, ValidationError } from '@ledger/errors';
import { walletNotFound } from '@ledger/ledger-domain';
import { parseWalletId } from '../wallets/wallet-commands.service';
import { decodeDirectoryCursor, decodeHistoryCursor, encodeCursor } from './page-cursor';
import { positionFromFuture, QueryErrorCodes, readModelNotCaughtUp, walletNotYetOpened } from './query.errors';
import {
  parseEventTypes,
  parseHistoryOrder,
  parseInstant,
  parseOwnerId,
  parsePageSize,
  parsePosition,
  parseTimeRange,
  parseWalletIds,
} from './query-input';
import {
  balanceFromCurrent,
  balanceFromHistory,
  directoryEntry,
  historyEntry,
  type BalanceAtResponse,
  type BalancesResponse,
  type CurrentBalanceResponse,
  type HistoryPageResponse,
  type WalletsPageResponse,
} from './query.views';
import {
  selectBalance,
  selectBalancesAtPosition,
  selectDirectoryEntries,
  selectFirstHistory,
  selectHistoryAtTime,
  selectHistoryPage,
  selectWalletsOfOwner,
  type DirectoryRow,
} from './wallet-read-model.sql';
import type { ReadModelSnapshot, WalletReadModelStore } from './wallet-read-model.store';
import type { WatermarkWaiter } from './watermark.waiter';

/** The transport's view of the call: gRPC passes its cancellation signal and deadline. */
export interface QueryCall {
  readonly signal?: AbortSignal;
  readonly deadline?: Date;
}

/** Every query takes an optional `minPosition` (read-your-writes). Inputs are raw: parsed here. */
export interface ReadYourWrites {
  readonly minPosition?: unknown;
}

/**
 * The wallet queries over the read models (ADR 0007, "Queries"). Each one: parses its input
 * (named validation errors, before any I/O); waits, bounded, until the live projection's
 * watermark reaches `minPosition`; then reads in ONE repeatable-read snapshot, authorising
 * against the wallet's owner as the commands do (a user reads their own wallets; anyone else
 * needs ledger:admin, ledger:service or ledger:audit).
 */
export class WalletReadModelQueriesService {
  constructor(
    private readonly store: WalletReadModelStore,
    private readonly waiter: WatermarkWaiter,
    private readonly options: { readonly maxWaitMs: number },
  ) {}

  /**
   * The wallet's current projected balance (its balances row).
   * @throws INVALID_WALLET_ID, INVALID_POSITION, POSITION_FROM_FUTURE, READ_MODEL_NOT_CAUGHT_UP,
   *   READ_MODEL_NOT_READY, WALLET_NOT_FOUND, WALLET_ACCESS_DENIED
   */
  async getBalance(principal: Principal, input: ReadYourWrites & { walletId: unknown }, call: QueryCall = {}): Promise<CurrentBalanceResponse> {
    const walletId = parseWalletId(input.walletId);
    const minPosition = parsePosition(input.minPosition, 'minPosition');
    await this.reach(minPosition, 'minPosition', call);
    return this.snapshot(minPosition, async (s) => {
      const row = await selectBalance(s, walletId);
      if (!row) throw walletNotFound(walletId);
      assertCanActOnWallet(principal, row.owner_id, 'read');
      return { ...balanceFromCurrent(row), watermark: s.watermark.toString() };
    });
  }

  /**
   * Several wallets as of the watermark W of one snapshot: each wallet's last event at or below
   * W, so a transfer between two of them is seen whole or not at all.
   * @throws WALLET_IDS_REQUIRED, TOO_MANY_WALLETS, INVALID_WALLET_ID, the minPosition errors,
   *   WALLET_NOT_FOUND (unknown, or no event at or below W yet), WALLET_ACCESS_DENIED (any one)
   */
  async getBalances(principal: Principal, input: ReadYourWrites & { walletIds: unknown }, call: QueryCall = {}): Promise<BalancesResponse> {
    const walletIds = parseWalletIds(input.walletIds);
    const minPosition = parsePosition(input.minPosition, 'minPosition');
    await this.reach(minPosition, 'minPosition', call);
    return this.snapshot(minPosition, async (s) => {
      await this.authorise(principal, s, walletIds);
      const rows = await selectBalancesAtPosition(s, walletIds, s.watermark);
      const found = new Set(rows.map((row) => row.wallet_id));
      const missing = walletIds.find((id) => !found.has(id));
      if (missing !== undefined) {
        throw new NotFoundError('WALLET_NOT_FOUND', `Wallet ${missing} has no event at or below position ${s.watermark} yet`, {
          walletId: missing,
          watermark: s.watermark.toString(),
        });
      }
      return { watermark: s.watermark.toString(), balances: rows.map((row) => balanceFromHistory(row, row.owner_id)) };
    });
  }

  /**
   * One page of a wallet's history, newest first unless `order` is oldest_first.
   * @throws INVALID_WALLET_ID, INVALID_TIMESTAMP, INVALID_TIME_RANGE, INVALID_EVENT_TYPE,
   *   INVALID_ORDER, INVALID_PAGE_SIZE, PAGE_SIZE_TOO_LARGE, INVALID_CURSOR, the minPosition
   *   errors, WALLET_NOT_FOUND, WALLET_ACCESS_DENIED
   */
  async listHistory(
    principal: Principal,
    input: ReadYourWrites & { walletId: unknown; from?: unknown; to?: unknown; types?: unknown; order?: unknown; pageSize?: unknown; cursor?: unknown },
    call: QueryCall = {},
  ): Promise<HistoryPageResponse> {
    const walletId = parseWalletId(input.walletId);
    const range = parseTimeRange(input.from, input.to);
    const types = parseEventTypes(input.types);
    const order = parseHistoryOrder(input.order);
    const pageSize = parsePageSize(input.pageSize);
    const query = { kind: 'history' as const, walletId, order, from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null, types: types ?? null };
    const cursor = present(input.cursor) ? decodeHistoryCursor(cursorText(input.cursor), query) : undefined;
    const minPosition = parsePosition(input.minPosition, 'minPosition');
    await this.reach(minPosition, 'minPosition', call);
    return this.snapshot(minPosition, async (s) => {
      await this.authorise(principal, s, [walletId]);
      // One row more than the page tells whether another page exists, without a count.
      const rows = await selectHistoryPage(s, {
        walletId,
        from: range.from,
        to: range.to,
        types,
        newestFirst: order === 'newest_first',
        afterRevision: cursor ? BigInt(cursor.afterRevision) : undefined,
        limit: pageSize + 1,
      });
      const page = rows.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        watermark: s.watermark.toString(),
        entries: page.map(historyEntry),
        nextCursor: rows.length > pageSize && last ? encodeCursor({ ...query, afterRevision: last.stream_revision }) : null,
      };
    });
  }

  /**
   * The wallet's balance after its last event at or before a time or a global position (exactly
   * one). A position implies minPosition: the answer waits until the projection has passed it.
   * @throws INVALID_BALANCE_POINT, INVALID_TIMESTAMP, INVALID_POSITION, POSITION_FROM_FUTURE,
   *   READ_MODEL_NOT_CAUGHT_UP, WALLET_NOT_FOUND, WALLET_ACCESS_DENIED, WALLET_NOT_YET_OPENED
   */
  async getBalanceAt(principal: Principal, input: ReadYourWrites & { walletId: unknown; atTime?: unknown; atPosition?: unknown }, call: QueryCall = {}): Promise<BalanceAtResponse> {
    const walletId = parseWalletId(input.walletId);
    const atTime = parseInstant(input.atTime, 'atTime');
    const atPosition = parsePosition(input.atPosition, 'atPosition');
    if ((atTime === undefined) === (atPosition === undefined)) {
      throw new ValidationError(QueryErrorCodes.invalidBalancePoint, 'Give exactly one of atTime and atPosition', { field: 'atTime' });
    }
    const minPosition = parsePosition(input.minPosition, 'minPosition');
    const [waitFor, field] = atPosition !== undefined && (minPosition === undefined || atPosition > minPosition) ? [atPosition, 'atPosition'] : [minPosition, 'minPosition'];
    await this.reach(waitFor, field, call);
    return this.snapshot(waitFor, async (s) => {
      const [wallet] = await this.authorise(principal, s, [walletId]);
      const row =
        atPosition !== undefined
          ? (await selectBalancesAtPosition(s, [walletId], atPosition))[0]
          : await selectHistoryAtTime(s, walletId, atTime as Date);
      if (!row) {
        const first = await selectFirstHistory(s, walletId);
        throw walletNotYetOpened(walletId, first?.global_position ?? '', first?.recorded_at.toISOString() ?? (wallet as DirectoryRow).opened_at.toISOString());
      }
      return { ...balanceFromHistory(row, (wallet as DirectoryRow).owner_id), watermark: s.watermark.toString() };
    });
  }

  /**
   * One page of an owner's wallets (by wallet id). Absent ownerId: the caller's own.
   * @throws INVALID_OWNER_ID, INVALID_PAGE_SIZE, PAGE_SIZE_TOO_LARGE, INVALID_CURSOR, the
   *   minPosition errors, WALLET_ACCESS_DENIED (another owner without a reading scope)
   */
  async listWallets(principal: Principal, input: ReadYourWrites & { ownerId?: unknown; pageSize?: unknown; cursor?: unknown }, call: QueryCall = {}): Promise<WalletsPageResponse> {
    const ownerId = parseOwnerId(input.ownerId, principal.subject);
    const pageSize = parsePageSize(input.pageSize);
    const cursor = present(input.cursor) ? decodeDirectoryCursor(cursorText(input.cursor), ownerId) : undefined;
    const minPosition = parsePosition(input.minPosition, 'minPosition');
    // Listing is reading every wallet of the owner: the same rule as reading one of them.
    assertCanActOnWallet(principal, ownerId, 'read');
    await this.reach(minPosition, 'minPosition', call);
    return this.snapshot(minPosition, async (s) => {
      const rows = await selectWalletsOfOwner(s, ownerId, cursor?.afterWalletId, pageSize + 1);
      const page = rows.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        watermark: s.watermark.toString(),
        ownerId,
        wallets: page.map(directoryEntry),
        nextCursor: rows.length > pageSize && last ? encodeCursor({ kind: 'directory', ownerId, afterWalletId: last.wallet_id }) : null,
      };
    });
  }

  /** Directory rows of the wallets, in order; WALLET_NOT_FOUND, then WALLET_ACCESS_DENIED (for any one). */
  private async authorise(principal: Principal, s: ReadModelSnapshot, walletIds: readonly string[]): Promise<DirectoryRow[]> {
    const entries = await selectDirectoryEntries(s, walletIds);
    const rows = walletIds.map((id) => {
      const row = entries.get(id);
      if (!row) throw walletNotFound(id);
      return row;
    });
    for (const row of rows) assertCanActOnWallet(principal, row.owner_id, 'read');
    return rows;
  }

  /**
   * Read-your-writes: returns once the live watermark is at or above `position`.
   * POSITION_FROM_FUTURE when it is beyond the event store's head (checked only when the
   * watermark is below it: the watermark never passes the head).
   */
  private async reach(position: bigint | undefined, field: string, call: QueryCall): Promise<void> {
    if (position === undefined) return;
    const watermark = await this.store.currentWatermark();
    if (watermark >= position) return;
    const head = await this.store.eventStoreHead();
    if (position > head) throw positionFromFuture(field, position, head);
    await this.waiter.waitFor(position, this.waitBudgetMs(call), { ...(call.signal ? { signal: call.signal } : {}), observed: watermark });
  }

  /** QUERY_MAX_WAIT_MS, or less when the caller's own deadline comes first. */
  private waitBudgetMs(call: QueryCall): number {
    const untilDeadline = call.deadline ? call.deadline.getTime() - Date.now() : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(this.options.maxWaitMs, untilDeadline));
  }

  /**
   * One snapshot. A rebuild switching the live version between the wait and the snapshot could
   * in principle expose a lower watermark (the switch happens only once caught up, ADR 0007):
   * the snapshot is then refused as not caught up rather than answering older data.
   */
  private async snapshot<T>(minPosition: bigint | undefined, read: (s: ReadModelSnapshot) => Promise<T>): Promise<T> {
    return this.store.inSnapshot(async (s) => {
      if (minPosition !== undefined && s.watermark < minPosition) throw readModelNotCaughtUp(minPosition, s.watermark, 0);
      return read(s);
    });
  }
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function cursorText(value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(QueryErrorCodes.invalidCursor, 'cursor must be a string', { field: 'cursor' });
  return value;
}
