import type { LatencySummary } from '../lib/latency-recorder';
import type { TransferOutcome } from './transfer-outcomes';
import type { CellPlan, TransfersBenchConfig, Transport } from './transfers.config';

/**
 * Messages between the bench (which runs the ledger service in its own process) and the load
 * process (which runs every client: gRPC, HTTP and the raw-SQL baseline). Keeping the clients in
 * another process keeps their CPU off the service's event loop, lets each side's CPU be measured
 * on its own, and stops a busy service from delaying the open-loop schedule. JSON only: amounts
 * in minor units travel as decimal strings.
 */

export interface LoadInit {
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly pgUrl: string;
  /** A service token with ledger:service: moves any wallet without a PIN, deposits, reads. */
  readonly token: string;
  readonly runId: string;
  readonly protoFile: string;
  readonly config: TransfersBenchConfig;
}

export type LoadRequest =
  | { readonly kind: 'init'; readonly init: LoadInit }
  | { readonly kind: 'setup' }
  | { readonly kind: 'hot'; readonly transport: Transport }
  | { readonly kind: 'cell'; readonly cell: CellPlan; readonly index: number; readonly hotWallet: string | null }
  | { readonly kind: 'verify' }
  | { readonly kind: 'close' };

export interface Envelope {
  readonly id: number;
  readonly request: LoadRequest;
}

export type Reply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

export interface SetupResult {
  readonly wallets: number;
  readonly fundsPerWalletMinor: string;
  readonly seconds: number;
}

export interface HotWallet {
  readonly walletId: string;
}

export interface CellRun {
  /** Closed loop: measured successes ÷ (window start to last measured answer). Open loop: successes answered inside the window ÷ window. */
  readonly transfersPerSecond: number;
  /** Measured requests made (open loop: not counting drops). */
  readonly measured: number;
  readonly outcomes: Readonly<Record<TransferOutcome, number>>;
  /** Raw reason codes counted as OTHER, warm-up included. */
  readonly otherReasons: Readonly<Record<string, number>>;
  readonly latency: LatencySummary | null;
  /** Every request answered, warm-up included: the denominator of per-transfer CPU and WAL. */
  readonly totalOps: number;
  readonly hitMaxOps: boolean;
  /** Open loop only (0 in a closed loop). */
  readonly dropped: number;
  readonly unfinished: number;
  readonly maxSendLagMs: number | null;
  readonly maxInFlightSeen: number | null;
  /** CPU of the load process over the cell (warm-up included). */
  readonly clientCpuMs: number;
  /** Baseline cells: connections in the pool. */
  readonly poolSize: number | null;
}

export interface ConservationCheck {
  readonly system: 'service' | 'baseline';
  readonly wallets: number;
  readonly depositedMinor: string;
  readonly balancesMinor: string;
  readonly conserved: boolean;
  /** Baseline: journal rows against transfers acknowledged to the bench (warm-up included). */
  readonly journalRows: number | null;
  readonly acknowledged: number | null;
}
