import type { LoggerService } from '@nestjs/common';
import type { RelayMetrics } from '../observability/relay.metrics';
import { abortableDelay } from '@ledger/async';
import type { CheckpointLease } from '../publishing/relay.loop';

export type RelayRole = 'connecting' | 'standby' | 'leader' | 'stopped';

/** A lock session as the runner uses it (LeaderLock in production). */
export interface LeaderSession extends CheckpointLease {
  tryAcquire(): Promise<boolean>;
  close(): Promise<void>;
}

export interface RelayRunnerOptions {
  readonly openSession: () => Promise<LeaderSession>;
  /** Runs one leader term until stop (resolves) or failure (throws); see runRelayLoop. */
  readonly lead: (lease: CheckpointLease, stop: AbortSignal) => Promise<void>;
  readonly leaderRetryMs: number;
  readonly errorBackoffMs: number;
  readonly metrics: RelayMetrics;
  readonly logger: LoggerService;
}

/**
 * Leader election around the relay loop. Standby: hold a session, try the advisory lock every
 * leaderRetryMs. Leader: run terms; a failed term (store or Kafka down) backs off and starts
 * again from the stored checkpoint while keeping the lock; a lost lock ends leadership at once
 * and the runner goes back to standby on a new session. stop(): the term in flight finishes its
 * batch, the lock is released, the session closed.
 */
export class RelayRunner {
  private readonly stopController = new AbortController();
  private currentRole: RelayRole = 'connecting';
  private lastTermError: string | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: RelayRunnerOptions) {}

  get role(): RelayRole {
    return this.currentRole;
  }

  /** Why the leader's last batch failed, while it has not succeeded since (readiness reports it). */
  get failure(): string | undefined {
    return this.lastTermError;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort('stopping');
    await this.running;
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    const { logger } = this.options;
    while (!stop.aborted) {
      let session: LeaderSession | undefined;
      try {
        this.currentRole = 'connecting';
        session = await this.options.openSession();
        while (!stop.aborted && !session.lost.aborted && !(await session.tryAcquire())) {
          if (this.currentRole !== 'standby') logger.log({ msg: 'standby: another relay holds the lock' }, 'Relay');
          this.currentRole = 'standby';
          await abortableDelay(this.options.leaderRetryMs, [stop, session.lost]);
        }
        if (!stop.aborted && !session.lost.aborted) await this.leadWhileHeld(session);
      } catch (error) {
        logger.error({ msg: 'relay session failed', error: messageOf(error) }, 'Relay');
      } finally {
        this.options.metrics.setLeader(false);
        await session?.close();
      }
      if (!stop.aborted) await abortableDelay(this.options.leaderRetryMs, [stop]);
    }
    this.currentRole = 'stopped';
  }

  private async leadWhileHeld(session: LeaderSession): Promise<void> {
    const stop = this.stopController.signal;
    const { logger, metrics } = this.options;
    this.currentRole = 'leader';
    metrics.setLeader(true);
    logger.log({ msg: 'leadership acquired' }, 'Relay');
    while (!stop.aborted && !session.lost.aborted) {
      try {
        await this.options.lead(session, stop);
        this.lastTermError = undefined;
      } catch (error) {
        if (session.lost.aborted) break;
        this.lastTermError = messageOf(error);
        metrics.batchFailed();
        logger.error({ msg: 'relay batch failed; retrying from the checkpoint', error: this.lastTermError, retryInMs: this.options.errorBackoffMs }, 'Relay');
        await abortableDelay(this.options.errorBackoffMs, [stop, session.lost]);
      }
    }
    metrics.setLeader(false);
    this.lastTermError = undefined;
    if (session.lost.aborted && !stop.aborted) {
      logger.warn({ msg: 'leadership lost: stopped publishing, back to standby', reason: String(session.lost.reason) }, 'Relay');
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
