import type { RecordedEvent } from '@ledger/event-store';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ProjectionPoisonError } from './projection-poison.error';

/** Where a projection reads the log from. */
export type ProjectionSource = 'store' | 'kafka';

/** A snapshot of a running projection, for health checks and metrics. */
export interface ProjectionStatus {
  readonly source: ProjectionSource;
  /** The version the last transaction applied to. */
  readonly liveVersion: number | undefined;
  /** Every event at or below it is applied (the minimum over the source rows). */
  readonly watermarkPosition: bigint;
  /** 0 when caught up; else now − recorded time of the last applied event. */
  readonly lagSeconds: number;
  /** Events applied by this process (duplicates not counted). */
  readonly eventsApplied: number;
  readonly duplicatesSkipped: number;
  /** Set once a poison event stopped the projection. */
  readonly stoppedReason: string | undefined;
  /** False after a stop (poison or shutdown). */
  readonly running: boolean;
}

/** Logging as the services' JsonLogger (Nest LoggerService) offers it. */
export interface ProjectionLogger {
  log(message: unknown, context?: string): void;
  warn(message: unknown, context?: string): void;
  error(message: unknown, context?: string): void;
}

/** Mutable status a runner updates and readers snapshot. */
export class ProjectionStatusTracker {
  private liveVersion: number | undefined;
  private watermark = 0n;
  private lastAppliedAtMs: number | undefined;
  private caughtUp = false;
  private applied = 0;
  private duplicates = 0;
  private stopped: string | undefined;
  private running = true;

  constructor(
    readonly source: ProjectionSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** After a committed batch. `caughtUp`: the source had nothing more ready when it was read. */
  batchApplied(input: { version: number; applied: number; duplicates: number; last: RecordedEvent | undefined; watermark: bigint | undefined; caughtUp: boolean }): void {
    this.liveVersion = input.version;
    this.applied += input.applied;
    this.duplicates += input.duplicates;
    if (input.last) this.lastAppliedAtMs = input.last.recordedAt.getTime();
    if (input.watermark !== undefined && input.watermark > this.watermark) this.watermark = input.watermark;
    this.caughtUp = input.caughtUp;
  }

  watermarkSeen(version: number, watermark: bigint, caughtUp: boolean): void {
    this.liveVersion = version;
    this.watermark = watermark;
    this.caughtUp = caughtUp;
  }

  poisoned(error: ProjectionPoisonError): void {
    this.stopped = error.message;
    this.running = false;
  }

  ended(): void {
    this.running = false;
  }

  snapshot(): ProjectionStatus {
    const lagSeconds = this.caughtUp || this.lastAppliedAtMs === undefined ? 0 : Math.max(0, (this.now() - this.lastAppliedAtMs) / 1000);
    return {
      source: this.source,
      liveVersion: this.liveVersion,
      watermarkPosition: this.watermark,
      lagSeconds,
      eventsApplied: this.applied,
      duplicatesSkipped: this.duplicates,
      stoppedReason: this.stopped,
      running: this.running,
    };
  }
}

/**
 * Registers the projection's metrics on a service's registry, read from `status` at scrape time:
 * ledger_projection_watermark_position, ledger_projection_lag_seconds,
 * ledger_projection_events_applied_total, ledger_projection_stopped (1 after a poison stop).
 * Positions exceed 2^53 in principle; the gauge shows a float, fine for graphs, not for equality.
 */
export function registerProjectionMetrics(registry: Registry, status: () => ProjectionStatus, projection = 'wallets'): void {
  const labels = { projection };
  new Gauge({
    name: 'ledger_projection_watermark_position',
    help: 'Global position up to which every event is applied to the live read model',
    labelNames: ['projection'],
    registers: [registry],
    collect() {
      this.set(labels, Number(status().watermarkPosition));
    },
  });
  new Gauge({
    name: 'ledger_projection_lag_seconds',
    help: 'Now minus the recorded time of the last applied event while the projection is behind; 0 when caught up',
    labelNames: ['projection'],
    registers: [registry],
    collect() {
      this.set(labels, status().lagSeconds);
    },
  });
  new Counter({
    name: 'ledger_projection_events_applied_total',
    help: 'Events applied to the read model by this process (duplicates excluded)',
    labelNames: ['projection'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc(labels, status().eventsApplied);
    },
  });
  new Gauge({
    name: 'ledger_projection_stopped',
    help: '1 when a poison event stopped the projection (see the error log and projection_state.stopped_reason)',
    labelNames: ['projection'],
    registers: [registry],
    collect() {
      this.set(labels, status().stoppedReason === undefined ? 0 : 1);
    },
  });
}
