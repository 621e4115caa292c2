import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * One platform service (ledger, payouts, relay, projector) run as its own Node process, the way cluster
 * mode runs it: TypeScript through @swc-node/register, config only from the environment, JSON
 * log lines prefixed with the service name. Used by `npm run cluster` and the cluster e2e test.
 */

const REPO_ROOT = resolve(__dirname, '..', '..');
/** How long a service may take from spawn to /health/ready answering 200. */
export const SERVICE_READY_TIMEOUT_MS = 60_000;
/** How long SIGTERM may take (graceful shutdown) before SIGKILL. */
export const SERVICE_STOP_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 200;

export interface ServiceSpec {
  /** Shown in front of every log line, e.g. `relay-1`. */
  readonly name: string;
  /** Entry point relative to the repository root, e.g. `services/relay/src/main.ts`. */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  /** http://127.0.0.1:PORT whose /health/ready says when the service is up. */
  readonly healthUrl: string;
}

export interface ServiceProcess {
  readonly spec: ServiceSpec;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  /** False once the process has ended (exit seen). */
  readonly running: boolean;
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after SERVICE_STOP_TIMEOUT_MS. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash, for fault tests. */
  kill(): Promise<void>;
}

export function startService(spec: ServiceSpec, output: (line: string) => void): ServiceProcess {
  const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', spec.entry], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${spec.name}: could not spawn ${spec.entry}`);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => output(`[${spec.name}] ${line}`));
  }
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  let ended = false;
  void exited.then(() => (ended = true));

  const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
    if (ended) return;
    child.kill(signal);
    await exited;
  };

  return {
    spec,
    pid: child.pid,
    exited,
    get running() {
      return !ended;
    },
    async waitUntilReady(timeoutMs = SERVICE_READY_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      while (Date.now() < deadline) {
        if (ended) throw new Error(`${spec.name} exited (code ${String(await exited)}) before it was ready`);
        try {
          const response = await fetch(`${spec.healthUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
          if (response.status === 200) return;
          last = `HTTP ${response.status}`;
        } catch (error) {
          last = (error as Error).message;
        }
        await new Promise((r) => setTimeout(r, READY_POLL_MS));
      }
      throw new Error(`${spec.name} was not ready within ${timeoutMs} ms (${spec.healthUrl}/health/ready: ${last})`);
    },
    async stop() {
      if (ended) return;
      const force = setTimeout(() => child.kill('SIGKILL'), SERVICE_STOP_TIMEOUT_MS);
      try {
        await signalAndWait('SIGTERM');
      } finally {
        clearTimeout(force);
      }
    },
    kill: () => signalAndWait('SIGKILL'),
  };
}
