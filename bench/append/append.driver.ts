import type { Pool } from 'pg';
import type { ScenarioName } from './append.config';

/** What one append attempt came to. Anything else is an error and stops the run. */
export const APPEND_OUTCOMES = ['ok', 'conflict'] as const;
export type AppendOutcome = (typeof APPEND_OUTCOMES)[number];

export const IMPLEMENTATIONS = ['baseline', 'adapter'] as const;
export type Implementation = (typeof IMPLEMENTATIONS)[number];

export interface CellContext {
  readonly scenario: ScenarioName;
  readonly pool: Pool;
  /** PostgreSQL schema holding this implementation's streams and events tables. */
  readonly schema: string;
  /** Unique per cell; part of every stream id the cell writes. */
  readonly cellTag: string;
  readonly writers: number;
  /** Transfers per appendBatch call (batch scenario, adapter); 1 everywhere else. */
  readonly batchSize: number;
}

/**
 * Drives one implementation through one scenario. A writer index is given to `append`; the
 * driver keeps each writer's last known stream revisions, as a command handler would after
 * reading its stream, so every append carries an exact expected revision.
 */
export interface AppendDriver {
  /** Untimed preparation before the cell starts. */
  setUp(): Promise<void>;
  /** One call to the store: one append, or in the batch scenario's adapter cells one appendBatch of batchSize transfers. */
  append(writer: number): Promise<AppendOutcome>;
}

/** Events written by one successful append request (in the batch scenario: one transfer). */
export const EVENTS_PER_APPEND: Readonly<Record<ScenarioName, number>> = { single: 1, transfer: 2, hot: 1, batch: 2 };

/** Scenarios that need more than one writer to mean anything (a hot stream with one writer is 'single'). */
export const MIN_WRITERS: Readonly<Record<ScenarioName, number>> = { single: 1, transfer: 1, hot: 2, batch: 1 };

export const SCENARIO_TITLES: Readonly<Record<ScenarioName, string>> = {
  single: '(a) single-stream append: 1 event, exact expected revision, one stream per writer (no conflicts)',
  transfer:
    '(b) two-stream atomic append (transfer): debit on A + credit on B, exact revisions, two streams per writer (no conflicts)',
  hot: '(c) hot stream: every writer appends 1 event to ONE stream with its last known revision; conflicts counted, not retried',
  batch:
    '(d) group commit: each writer appends B transfers (debit A + credit B, exact revisions) with ONE appendBatch call (one transaction);\n' +
    '    baseline: raw SQL, one transaction per transfer, at the same writer count',
};
