import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Envelope, LoadRequest, Reply } from './load.protocol';

/** Bounded waits for the load process to start, answer a close, and exit. */
const CLOSE_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

/**
 * The bench's handle on the load process (load.process.ts): forked with this process's
 * `execArgv` (so `-r @swc-node/register` applies to it too), one request at a time in practice,
 * each answered by id. If the process dies, every pending request fails with its exit code.
 */
export class LoadProcess {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exited: Promise<void>;
  private exitedAlready = false;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedAlready = true;
        const error = new Error(`The load process exited (${signal ?? `code ${code}`})`);
        for (const { reject } of this.pending.values()) reject(error);
        this.pending.clear();
        resolve();
      });
    });
    child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new Error(`load process: ${reply.error}`));
    });
  }

  static start(): LoadProcess {
    const child = fork(join(__dirname, 'load.process.ts'), [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new LoadProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<T>(request: LoadRequest): Promise<T> {
    if (this.exitedAlready) return Promise.reject(new Error('The load process has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, request } satisfies Envelope);
    });
  }

  /** Asks the process to close its clients, then disconnects; kills it if it does not exit in time. */
  async stop(): Promise<void> {
    if (this.exitedAlready) return;
    await Promise.race([this.request({ kind: 'close' }).catch(() => undefined), sleep(CLOSE_TIMEOUT_MS)]);
    if (this.child.connected) this.child.disconnect();
    await Promise.race([this.exited, sleep(EXIT_TIMEOUT_MS)]);
    if (!this.exitedAlready) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, sleep(EXIT_TIMEOUT_MS)]);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
