import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { assertPortFree, findFreePort } from './local-ports';
import { isProcessAlive } from './child-processes';

export interface KafkaBrokerOptions {
  /** Broker folder (config, data, logs); formatted on first start, reused afterwards. */
  dataDir: string;
  /** PLAINTEXT listener on 127.0.0.1. 0 or undefined: pick a free one. */
  port?: number;
  /** KRaft controller listener on 127.0.0.1. 0 or undefined: pick a free one. */
  controllerPort?: number;
  /** JVM heap (-Xmx), default 512. */
  heapMb?: number;
  /** Bound from spawning the JVM to a working admin connection, default 60000. Excludes the jar fetch. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunningKafkaBroker {
  /** kafkajs `brokers` value: '127.0.0.1:PORT'. */
  readonly brokers: string;
  readonly pid: number;
  /** SIGTERM (controlled shutdown), bounded wait, then SIGKILL. Idempotent. */
  stop(): Promise<void>;
}

export type KafkaBrokerErrorCode =
  | 'INVALID_OPTIONS'
  | 'REPO_ROOT_NOT_FOUND'
  | 'FETCH_FAILED'
  | 'DATA_DIR_IN_USE'
  | 'FORMAT_FAILED'
  | 'START_FAILED'
  | 'START_TIMEOUT';

export class KafkaBrokerError extends Error {
  constructor(
    readonly code: KafkaBrokerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KafkaBrokerError';
  }
}

const DEFAULT_HEAP_MB = 512;
const DEFAULT_START_TIMEOUT_MS = 60_000;
/** A cold ~/.m2 downloads ~40 MB of jars; fetch-kafka.sh has the same bound. */
const FETCH_TIMEOUT_MS = 15 * 60_000;
const FORMAT_TIMEOUT_MS = 60_000;
/** Controlled shutdown of one node takes a few seconds; past this bound the JVM is killed. */
const STOP_TIMEOUT_MS = 30_000;
const KILL_WAIT_MS = 10_000;
const READY_POLL_INTERVAL_MS = 200;
/** Auto-picked ports can be taken by another process before the JVM binds them. */
const MAX_PORT_ATTEMPTS = 3;
const LOG_TAIL_CHARS = 3_000;

/** Brokers this process started: killed if the process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts a real single-node Apache Kafka broker (KRaft, broker and controller combined) from the
 * jars deploy/kafka/fetch-kafka.sh resolves from Maven Central. Listens on 127.0.0.1 only.
 * Resolves once a kafkajs admin client can connect and list topics.
 *
 * @throws PortInUseError (./local-ports) when an explicitly chosen port is busy.
 * @throws KafkaBrokerError (FETCH_FAILED, DATA_DIR_IN_USE, FORMAT_FAILED, START_FAILED,
 *   START_TIMEOUT, INVALID_OPTIONS, REPO_ROOT_NOT_FOUND), with the tail of the broker log where
 *   there is one.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<RunningKafkaBroker> {
  const log = options.log ?? (() => undefined);
  const heapMb = options.heapMb ?? DEFAULT_HEAP_MB;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  assertOption(Number.isInteger(heapMb) && heapMb >= 128 && heapMb <= 16_384, `heapMb must be an integer from 128 to 16384; got ${heapMb}`);
  assertOption(
    Number.isInteger(startTimeoutMs) && startTimeoutMs >= 1_000 && startTimeoutMs <= 600_000,
    `startTimeoutMs must be an integer from 1000 to 600000; got ${startTimeoutMs}`,
  );
  for (const [name, value] of [['port', options.port], ['controllerPort', options.controllerPort]] as const) {
    assertOption(value === undefined || (Number.isInteger(value) && value >= 0 && value <= 65_535), `${name} must be an integer from 0 to 65535; got ${value}`);
  }
  assertOption(typeof options.dataDir === 'string' && options.dataDir.length > 0, 'dataDir is required');

  const repoRoot = findRepoRoot(__dirname);
  const kafkaDir = join(repoRoot, 'deploy', 'kafka');
  await fetchKafka(kafkaDir, log);

  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const pidFile = join(dataDir, 'kafka.pid');
  assertDataDirFree(dataDir, pidFile);

  const autoPorts = !options.port || !options.controllerPort;
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await findFreePort());
    let controllerPort = options.controllerPort || (await findFreePort());
    while (controllerPort === port) controllerPort = await findFreePort();
    await assertPortFree(port, 'Kafka broker');
    await assertPortFree(controllerPort, 'Kafka controller');
    try {
      return await launch({ kafkaDir, dataDir, pidFile, port, controllerPort, heapMb, startTimeoutMs, log });
    } catch (error) {
      const lostPortRace = error instanceof KafkaBrokerError && error.code === 'START_FAILED' && /Address already in use/i.test(error.message);
      if (!(autoPorts && lostPortRace && attempt < MAX_PORT_ATTEMPTS)) throw error;
      log(`Kafka lost a race for an auto-picked port (attempt ${attempt}); retrying with new ports`);
    }
  }
}

interface LaunchPlan {
  readonly kafkaDir: string;
  readonly dataDir: string;
  readonly pidFile: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly heapMb: number;
  readonly startTimeoutMs: number;
  readonly log: (line: string) => void;
}

async function launch(plan: LaunchPlan): Promise<RunningKafkaBroker> {
  const { kafkaDir, dataDir, pidFile, port, controllerPort, heapMb, startTimeoutMs, log } = plan;
  const logDirs = join(dataDir, 'data');
  const propertiesFile = join(dataDir, 'server.properties');
  const template = readFileSync(join(kafkaDir, 'server.properties.template'), 'utf8');
  writeFileSync(
    propertiesFile,
    template
      .replaceAll('@PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@LOG_DIRS@', logDirs),
  );
  const jvmArgs = [
    `-Dlog4j2.configurationFile=${join(kafkaDir, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dataDir}`,
    '-Djava.awt.headless=true',
    '-cp',
    `${join(kafkaDir, 'lib')}/*`, // expanded by java itself, not by a shell
  ];
  if (!existsSync(join(logDirs, 'meta.properties'))) {
    log(`formatting Kafka storage in ${logDirs}`);
    await formatStorage(jvmArgs, propertiesFile, dataDir);
  }

  const outFile = join(dataDir, 'broker.out');
  const outFd = openSync(outFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('java', [`-Xmx${heapMb}m`, `-Xms${Math.min(heapMb, 256)}m`, ...jvmArgs, 'kafka.Kafka', propertiesFile], {
      stdio: ['ignore', outFd, outFd],
      cwd: dataDir,
    });
  } finally {
    closeSync(outFd);
  }
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const spawnError = new Promise<Error>((resolveError) => child.once('error', resolveError));
  trackChild(child);
  const pid = child.pid;
  if (pid === undefined) {
    const error = await spawnError;
    liveChildren.delete(child);
    throw new KafkaBrokerError('START_FAILED', `Could not spawn java: ${error.message}`);
  }
  writeFileSync(pidFile, `${pid}\n`);
  const brokers = `127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, exited).finally(() => {
      liveChildren.delete(child);
      rmSync(pidFile, { force: true });
    });
    return stopping;
  };

  try {
    await waitUntilReady(brokers, child, startTimeoutMs, dataDir);
  } catch (error) {
    await stop();
    throw error;
  }
  log(`Kafka ready on ${brokers} (controller 127.0.0.1:${controllerPort}, data ${dataDir}, pid ${pid})`);
  return { brokers, pid, stop };
}

/** Walks up from `start` to the folder holding nx.json. */
function findRepoRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new KafkaBrokerError('REPO_ROOT_NOT_FOUND', `No nx.json above ${start}: cannot find deploy/kafka`);
    }
  }
}

async function fetchKafka(kafkaDir: string, log: (line: string) => void): Promise<void> {
  const script = join(kafkaDir, 'fetch-kafka.sh');
  await new Promise<void>((resolveFetch, reject) => {
    execFile('bash', [script], { timeout: FETCH_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      for (const line of stderr.split('\n')) if (line.trim()) log(line);
      if (error) {
        reject(new KafkaBrokerError('FETCH_FAILED', `${script} failed (${error.message.split('\n')[0]}): ${stderr.slice(-LOG_TAIL_CHARS)}`));
      } else {
        resolveFetch();
      }
    });
  });
}

function assertDataDirFree(dataDir: string, pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
    throw new KafkaBrokerError('DATA_DIR_IN_USE', `A Kafka broker (pid ${pid}) already runs on ${dataDir}; stop it first`);
  }
  rmSync(pidFile, { force: true }); // left by a broker that did not stop cleanly
}

async function formatStorage(jvmArgs: readonly string[], propertiesFile: string, dataDir: string): Promise<void> {
  // Static quorum (controller.quorum.voters), so no --standalone: that flag is for dynamic quorums.
  const args = ['-Xmx256m', ...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', propertiesFile];
  await new Promise<void>((resolveFormat, reject) => {
    execFile('java', args, { timeout: FORMAT_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const output = `${stdout}\n${stderr}`.trim().slice(-LOG_TAIL_CHARS);
        reject(new KafkaBrokerError('FORMAT_FAILED', `kafka.tools.StorageTool format failed for ${dataDir}: ${output}\n${logTail(dataDir)}`));
      } else {
        resolveFormat();
      }
    });
  });
}

/** Kafka's Uuid text form: 16 random bytes, base64url, no padding; never starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function waitUntilReady(brokers: string, child: ChildProcess, timeoutMs: number, dataDir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new KafkaBrokerError(
        'START_FAILED',
        `Kafka exited during start (code ${child.exitCode}, signal ${child.signalCode}):\n${logTail(dataDir)}`,
      );
    }
    const remainingMs = Math.max(deadline - Date.now(), 1);
    const admin = new Kafka({
      clientId: 'kafka-broker-readiness',
      brokers: [brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: Math.min(1_000, remainingMs),
      requestTimeout: Math.min(5_000, remainingMs),
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_INTERVAL_MS)); // poll interval while the JVM boots
  }
  throw new KafkaBrokerError(
    'START_TIMEOUT',
    `Kafka did not answer an admin request on ${brokers} within ${timeoutMs} ms (last error: ${lastError}):\n${logTail(dataDir)}`,
  );
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // the broker's shutdown hook runs a controlled shutdown
  if (await settlesWithin(exited, STOP_TIMEOUT_MS)) return;
  child.kill('SIGKILL');
  if (!(await settlesWithin(exited, KILL_WAIT_MS))) {
    throw new Error(`Kafka broker pid ${child.pid} did not exit ${KILL_WAIT_MS} ms after SIGKILL`);
  }
}

async function settlesWithin(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a signal is all we can send. The JVM then shuts down alone.
  process.once('exit', () => {
    for (const running of liveChildren) running.kill('SIGTERM');
  });
}

function assertOption(condition: boolean, message: string): asserts condition {
  if (!condition) throw new KafkaBrokerError('INVALID_OPTIONS', `startKafkaBroker: ${message}`);
}

function logTail(dataDir: string): string {
  const parts: string[] = [];
  for (const name of ['server.log', 'broker.out']) {
    try {
      const text = readFileSync(join(dataDir, name), 'utf8').trim();
      if (text) parts.push(`--- ${name} (tail) ---\n${text.slice(-LOG_TAIL_CHARS)}`);
    } catch {
      // not written yet
    }
  }
  return parts.length > 0 ? parts.join('\n') : '(no broker log yet)';
}
