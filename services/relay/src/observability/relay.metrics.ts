import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The relay's own series (ADR 0007). Lag is computed at scrape time from what the loop last
 * recorded, so a relay stuck on a dead broker shows its lag growing instead of a frozen value.
 */
export class RelayMetrics {
  private readonly published: Counter<'topic'>;
  private readonly watermarks: Counter<'topic'>;
  private readonly batchFailures: Counter;
  private readonly leader: Gauge;
  /** Recorded time of the newest published event, or of the oldest pending one before any was published. */
  private lagReference: Date | undefined;
  private behind = false;

  constructor(registry: Registry, private readonly now: () => number = Date.now) {
    this.published = new Counter({ name: 'ledger_relay_published_total', help: 'Events published to Kafka (duplicates after a retry included).', labelNames: ['topic'], registers: [registry] });
    this.watermarks = new Counter({ name: 'ledger_relay_watermarks_total', help: 'Watermark messages sent (one per partition per batch).', labelNames: ['topic'], registers: [registry] });
    this.batchFailures = new Counter({ name: 'ledger_relay_batch_failures_total', help: 'Batches that failed (store, Kafka or checkpoint) and will be read again.', registers: [registry] });
    this.leader = new Gauge({ name: 'ledger_relay_leader', help: '1 while this process holds the relay lock and publishes, else 0.', registers: [registry] });
    const lagSeconds = (): number => this.lagSeconds();
    new Gauge({
      name: 'ledger_relay_lag_seconds',
      help: 'While behind: now minus the recorded time of the newest published event; 0 when caught up or standby.',
      registers: [registry],
      collect() {
        this.set(lagSeconds());
      },
    });
    this.leader.set(0);
  }

  setLeader(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
    if (!isLeader) this.caughtUp();
  }

  /** A read returned events that are not published yet. */
  pending(oldestRecordedAt: Date): void {
    this.behind = true;
    this.lagReference ??= oldestRecordedAt;
  }

  publishedEvents(topic: string, count: number): void {
    this.published.inc({ topic }, count);
  }

  /** A batch is published and checkpointed; `more` says whether the log had more to read right away. */
  batchDone(newestRecordedAt: Date | undefined, more: boolean): void {
    if (newestRecordedAt) this.lagReference = newestRecordedAt;
    this.behind = more;
  }

  watermarksSent(topic: string, count: number): void {
    this.watermarks.inc({ topic }, count);
  }

  caughtUp(): void {
    this.behind = false;
  }

  batchFailed(): void {
    this.batchFailures.inc();
  }

  lagSeconds(): number {
    if (!this.behind || !this.lagReference) return 0;
    return Math.max(0, (this.now() - this.lagReference.getTime()) / 1_000);
  }
}
