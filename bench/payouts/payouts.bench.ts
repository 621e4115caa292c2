/**
 * Batch payouts end to end (issue 5, ADR 0008): a CSV of BENCH_ROWS rows from one source wallet
 * to BENCH_RECIPIENTS recipients, uploaded over REST as a streamed body and executed by the saga,
 * timed from the upload to COMPLETED, in embedded mode (ledger + payouts in this process, the
 * embedded bus) and in cluster mode (tools/local-cluster: every service its own process, Kafka).
 * Baseline in the same run: the same payments as plain single-row transfers through the ledger's
 * WalletCommandsService in-process, bounded concurrency (a fixed slice, extrapolated, by default).
 *
 * Run with `npm run bench:payouts`; see bench/README.md.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { machineInfo } from '../lib/machine-info';
import { readPayoutsBenchConfig, serviceSettings, type Mode } from './payouts.config';
import { formatMinor, PayoutPlan } from './payout-plan';
import { allChecksPassed, formatReport, type ModeOutcome, type ReportInput } from './payouts.report';
import { openRecipients, runBaseline, runPayoutBatch, waitForReadModel, type BaselineResult } from './payouts.run';
import { assertDurable, startClusterPlatform, startEmbeddedPlatform, type Platform } from './platforms';

const RESULTS_DIR = resolve(__dirname, '..', 'results');

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const config = readPayoutsBenchConfig();
  const settings = serviceSettings();
  const machine = machineInfo();
  const plan = new PayoutPlan(config.rows, config.recipients);
  const root = mkdtempSync(join(tmpdir(), 'ledger-bench-payouts-'));
  chmodSync(root, 0o755); // the embedded server runs as the postgres user and must enter it
  let current: Platform | undefined;
  let interrupted = false;
  const cleanUp = async (): Promise<void> => {
    const platform = current;
    current = undefined;
    await platform?.close().catch((error: unknown) => progress(`stopping: ${String(error)}`));
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  process.once('SIGINT', () => {
    interrupted = true;
    progress('interrupted: stopping every server …');
    void cleanUp().finally(() => process.exit(130));
  });

  const modes: ModeOutcome[] = [];
  const durability: string[] = [];
  let baseline: BaselineResult | undefined;
  let baselineError: string | undefined;
  try {
    // Embedded: the payouts run, and the in-process baseline (which needs an in-process ledger
    // even when only cluster mode is measured).
    if (config.modes.includes('embedded') || config.baselineRows > 0) {
      progress(`[embedded] starting PostgreSQL (fsync on), the ledger and payouts in this process (${root}) …`);
      const platform = await startEmbeddedPlatform(join(root, 'embedded'), settings, progress);
      current = platform;
      durability.push(`embedded: ${await assertDurable(platform.databaseUrl)}`);
      const outcome = await runMode(platform, plan, config, async (recipients) => {
        if (config.baselineRows === 0) return;
        try {
          baseline = await runBaseline(platform, plan, recipients, config.baselineRows, config.baselineConcurrency, progress);
          progress(`baseline: ${baseline.rows} transfers in ${baseline.seconds.toFixed(2)} s (${Math.round(baseline.rowsPerSecond)}/s); waiting for the read model …`);
          // The payouts run starts with the in-process projection idle, as the baseline did.
          await waitForReadModel(platform, recipients[0]!, baseline.lastPosition);
        } catch (error) {
          baselineError = (error as Error).message;
          progress(`baseline failed: ${(error as Error).stack ?? baselineError}`);
        }
      }, config.modes.includes('embedded'));
      if (outcome) modes.push(outcome);
      current = undefined;
      await platform.close();
    }
    if (config.modes.includes('cluster') && !interrupted) {
      progress('[cluster] starting the local cluster (PostgreSQL, Kafka, ledger, relay, projector, payouts) …');
      let platform: Platform | undefined;
      try {
        platform = await startClusterPlatform(join(root, 'cluster'), settings, progress);
        current = platform;
        durability.push(`cluster: ${await assertDurable(platform.databaseUrl)}`);
        const outcome = await runMode(platform, plan, config, async () => undefined, true);
        if (outcome) modes.push(outcome);
      } catch (error) {
        progress(`[cluster] failed: ${(error as Error).stack ?? String(error)}`);
        modes.push({ mode: 'cluster', error: (error as Error).message, notes: platform?.notes ?? [] });
      } finally {
        current = undefined;
        await platform?.close().catch((error: unknown) => progress(`[cluster] stopping: ${String(error)}`));
      }
    }

    const input: ReportInput = {
      machine,
      config,
      durability: durability.join('; ') || 'not started',
      settings,
      totalMinorText: formatMinor(plan.totalMinor()),
      ...(baseline ? { baseline } : {}),
      ...(baselineError ? { baselineError } : {}),
      modes,
    };
    process.stdout.write(`${formatReport(input)}\n`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `payouts-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(input, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2));
    progress(`\nResults written to ${file}`);
    if (!allChecksPassed(input)) process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

/**
 * Setup (recipients, the read model), then `beforeMeasuring` (the baseline, embedded only), then
 * the measured batch when `measure`. A failure of the measured part is reported, not thrown.
 */
async function runMode(
  platform: Platform,
  plan: PayoutPlan,
  config: ReturnType<typeof readPayoutsBenchConfig>,
  beforeMeasuring: (recipients: readonly string[]) => Promise<void>,
  measure: boolean,
): Promise<ModeOutcome | undefined> {
  const mode: Mode = platform.mode;
  progress(`[${mode}] setup: opening ${plan.recipients.toLocaleString('en-US')} recipient wallets (${config.setupConcurrency} in flight) …`);
  const recipients = await openRecipients(platform, plan, config);
  const readModelSeconds = (await waitForReadModel(platform, recipients.ids[recipients.ids.length - 1]!, recipients.lastPosition)) / 1_000;
  progress(`[${mode}] setup: ${recipients.ids.length} wallets in ${recipients.seconds.toFixed(1)} s; read model caught up ${readModelSeconds.toFixed(1)} s later`);
  await beforeMeasuring(recipients.ids);
  if (!measure) return undefined;
  const setup = { recipientsSeconds: recipients.seconds, readModelSeconds };
  try {
    const result = await runPayoutBatch(platform, plan, recipients.ids, config, progress);
    progress(`[${mode}] intake ${result.intakeSeconds.toFixed(2)} s, execution ${result.executionSeconds.toFixed(2)} s`);
    return { mode, result, notes: platform.notes, setup };
  } catch (error) {
    progress(`[${mode}] failed: ${(error as Error).stack ?? String(error)}`);
    return { mode, error: (error as Error).message, notes: platform.notes, setup };
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
