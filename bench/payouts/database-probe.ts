import { Client } from 'pg';

/**
 * What PostgreSQL did during a phase, server-wide: WAL volume, full-page images (the first change
 * of a page after a checkpoint writes the whole 8 KiB page to the WAL), checkpoints, WAL fsyncs
 * and committed transactions. Counters the server publishes with a delay (pg_stat_io, about once
 * a second for busy backends) are good to a second's worth of work: fine over a whole phase.
 */
export interface DatabaseMark {
  readonly lsn: string;
  readonly walFpi: bigint;
  readonly checkpoints: bigint;
  readonly walFsyncs: bigint;
  readonly commits: bigint;
}

export interface DatabaseUsage {
  readonly walBytes: number;
  readonly walFpi: number;
  readonly checkpoints: number;
  readonly walFsyncs: number;
  readonly commits: number;
}

/** PostgreSQL 17+ (pg_stat_checkpointer, pg_stat_io); the embedded server is 18. */
export async function markDatabase(databaseUrl: string): Promise<DatabaseMark | undefined> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'bench-payouts-probe' });
  await client.connect();
  try {
    const { rows } = await client.query<{ lsn: string; fpi: string; checkpoints: string; fsyncs: string; commits: string }>(
      `SELECT pg_current_wal_lsn()::text AS lsn,
              (SELECT wal_fpi FROM pg_stat_wal)::text AS fpi,
              (SELECT num_timed + num_requested FROM pg_stat_checkpointer)::text AS checkpoints,
              (SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal')::text AS fsyncs,
              (SELECT sum(xact_commit) FROM pg_stat_database)::text AS commits`,
    );
    const row = rows[0]!;
    return { lsn: row.lsn, walFpi: BigInt(row.fpi), checkpoints: BigInt(row.checkpoints), walFsyncs: BigInt(row.fsyncs), commits: BigInt(row.commits) };
  } catch {
    return undefined; // an older server without these views: no figures rather than wrong ones
  } finally {
    await client.end();
  }
}

export async function databaseUsageSince(databaseUrl: string, since: DatabaseMark | undefined): Promise<DatabaseUsage | undefined> {
  if (!since) return undefined;
  const now = await markDatabase(databaseUrl);
  if (!now) return undefined;
  const client = new Client({ connectionString: databaseUrl, application_name: 'bench-payouts-probe' });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint::text AS bytes', [now.lsn, since.lsn]);
    return {
      walBytes: Number(rows[0]!.bytes),
      walFpi: Number(now.walFpi - since.walFpi),
      checkpoints: Number(now.checkpoints - since.checkpoints),
      walFsyncs: Number(now.walFsyncs - since.walFsyncs),
      commits: Number(now.commits - since.commits),
    };
  } finally {
    await client.end();
  }
}

export function describeDatabaseUsage(usage: DatabaseUsage | undefined, rows: number): string {
  if (!usage) return 'no PostgreSQL statistics';
  const mib = usage.walBytes / 1024 / 1024;
  return (
    `WAL ${mib.toFixed(0)} MiB (${(usage.walBytes / rows / 1024).toFixed(1)} KiB/row), ${usage.walFpi.toLocaleString('en-US')} full-page images ` +
    `(up to ${(((usage.walFpi * 8192) / Math.max(1, usage.walBytes)) * 100).toFixed(0)}% of the WAL), ${usage.checkpoints} checkpoints, ` +
    `${usage.walFsyncs.toLocaleString('en-US')} WAL fsyncs, ${usage.commits.toLocaleString('en-US')} commits`
  );
}
