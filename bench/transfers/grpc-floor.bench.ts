/**
 * The gRPC floor: what one unary call costs the server before the ledger does any work. The same
 * server the ledger starts (startGrpcServer: proto-loader, health, reflection, limits) serves
 * `LedgerService/Transfer` with a handler that answers at once, driven by the bench's lean client
 * from a forked process. Two cells in one run:
 *
 * - `grpc-js`: a bare grpc-js handler (the baseline: the library and node:http2 alone);
 * - `wrapper`: the same answer through `@ledger/nest`'s `unary` wrapper, as every ledger handler
 *   runs (request context, deadline timer, abort signal, trailers), without metrics.
 *
 * Prints calls/s and server CPU µs per call, with the wrapper's cost as a ratio of the baseline.
 * Compare with `svc µs/xfer` of bench:transfers to see how much of the ledger's CPU per transfer
 * is the transport. Run with `npm run bench:grpc-floor` (about 20 s); BENCH_FLOOR_CALLS sets the
 * calls per cell (default 40,000, at most 1,000,000).
 */
import { createGrpcHandlers, EnvReader, readGrpcServerConfig, startGrpcServer, type RunningGrpcServer } from '@ledger/nest';
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { cpuUsage } from 'node:process';
import { readInteger } from '../lib/bench-env';
import { formatProfileSummary, PhaseProfiler, type CpuProfileSummary } from '../lib/cpu-profile';
import { LeanGrpcTransferClient } from './lean-grpc.client';

const PROTO_ROOT = resolve(__dirname, '..', '..', 'proto');
const LEDGER_PROTO = resolve(PROTO_ROOT, 'ledger', 'v1', 'ledger.proto');
const CALLERS = 256;
const CHANNELS = 4;
const TIMEOUT_MS = 5_000;
const ANSWER = { position: '1', replayed: false, wallet: null, transaction_id: 'floor' };
const METHODS = ['OpenWallet', 'FreezeWallet', 'UnfreezeWallet', 'CloseWallet', 'Deposit', 'Withdraw', 'Transfer', 'PlaceHold', 'CaptureHold', 'ReleaseHold', 'GetWallet', 'SetTransactionPin'];

interface ClientReport {
  readonly callsPerSecond: number;
  readonly clientUsPerCall: number;
  readonly failures: number;
}

async function runClient(address: string, calls: number): Promise<ClientReport> {
  const client = new LeanGrpcTransferClient(address, CHANNELS, 'floor-token', TIMEOUT_MS);
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const cpuBefore = cpuUsage();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < calls) {
        const n = next++;
        const reason = await client.transfer({ from: 'a', to: 'b', amount: '0.01', amountMinor: 1, currency: 'USD', idempotencyKey: `floor-${n}` });
        if (reason !== null) failures += 1;
      }
    }),
  );
  const cpu = cpuUsage(cpuBefore);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.close();
  return { callsPerSecond: calls / seconds, clientUsPerCall: (cpu.user + cpu.system) / calls, failures };
}

interface CellReport extends ClientReport {
  readonly serverUsPerCall: number;
  readonly profile: CpuProfileSummary | undefined;
}

async function runCell(kind: 'grpc-js' | 'wrapper', calls: number, profileDir: string | undefined): Promise<CellReport> {
  const handlers = createGrpcHandlers({});
  const answer = kind === 'grpc-js'
    ? (_call: unknown, callback: (error: null, response: typeof ANSWER) => void) => callback(null, ANSWER)
    : handlers.unary(() => ANSWER);
  const implementation = Object.fromEntries(METHODS.map((method) => [method, answer]));
  // The ledger's own gRPC settings (GRPC_* from the environment, else its defaults), on a free port.
  const server: RunningGrpcServer = await startGrpcServer({
    ...readGrpcServerConfig(new EnvReader({ ...process.env, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0' })),
    protoFiles: [LEDGER_PROTO],
    includeDirs: [PROTO_ROOT],
    services: [{ name: 'ledger.v1.LedgerService', implementation: implementation as never }],
  });
  try {
    const profiler = profileDir === undefined ? undefined : await PhaseProfiler.start();
    const cpuBefore = cpuUsage();
    const child = fork(__filename, ['client', server.address, String(calls)], { execArgv: ['-r', '@swc-node/register'] });
    const report = await new Promise<ClientReport>((resolveReport, reject) => {
      child.once('message', (message) => resolveReport(message as ClientReport));
      child.once('exit', (code) => reject(new Error(`the client process exited (${code}) without a report`)));
    });
    const cpu = cpuUsage(cpuBefore);
    const profile = profiler === undefined ? undefined : await profiler.stop(profileDir as string, `grpc-floor-${kind}`);
    return { ...report, serverUsPerCall: (cpu.user + cpu.system) / calls, profile };
  } finally {
    await server.stop(1_000);
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'client') {
    const report = await runClient(process.argv[3] as string, Number(process.argv[4]));
    process.send?.(report, () => process.exit(0));
    return;
  }
  const calls = readInteger(process.env, 'BENCH_FLOOR_CALLS', 40_000, 1_000, 1_000_000);
  process.stdout.write(`gRPC floor: LedgerService/Transfer answered at once, ${calls.toLocaleString('en-US')} calls per cell, ${CALLERS} callers over ${CHANNELS} HTTP/2 connections (lean client, forked)\n\n`);
  // A profile of the server process per cell; profiling itself costs CPU, so compare cells of one run.
  const profileDir = process.env['BENCH_CPU_PROFILE_DIR'] || undefined;
  const baseline = await runCell('grpc-js', calls, profileDir);
  const wrapper = await runCell('wrapper', calls, profileDir);
  const row = (name: string, r: CellReport, ratio: string): string =>
    `${name.padEnd(9)}  ${Math.round(r.callsPerSecond).toLocaleString('en-US').padStart(7)}  ${r.serverUsPerCall.toFixed(1).padStart(14)}  ${r.clientUsPerCall.toFixed(1).padStart(14)}  ${String(r.failures).padStart(8)}  ${ratio.padStart(15)}`;
  process.stdout.write(`handler    calls/s  server µs/call  client µs/call  failures  server vs grpc-js\n`);
  process.stdout.write(`${row('grpc-js', baseline, '1.00x')}\n${row('wrapper', wrapper, `${(wrapper.serverUsPerCall / baseline.serverUsPerCall).toFixed(2)}x`)}\n`);
  for (const [name, cell] of [['grpc-js', baseline], ['wrapper', wrapper]] as const) {
    if (cell.profile) process.stdout.write(`\n${name} server profile (${cell.profile.file}):\n${formatProfileSummary(cell.profile, '  ').join('\n')}\n`);
  }
  if (baseline.failures + wrapper.failures > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:grpc-floor failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
