import { Kafka, logLevel as KafkaJsLogLevel, type LogEntry, type logCreator } from 'kafkajs';

export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** One kafkajs log line as plain data, for whatever structured logger the service uses. */
export interface KafkaLogEntry {
  readonly level: KafkaLogLevel;
  readonly clientId: string;
  /** kafkajs component, e.g. 'Consumer', 'Runner', 'Producer'. */
  readonly namespace: string;
  readonly message: string;
  /** kafkajs's extra fields, with errors reduced to name/message/code so they serialise. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export type KafkaLog = (entry: KafkaLogEntry) => void;

export interface CreateKafkaOptions {
  /** 'host:port' or a comma-separated list, or a list. */
  readonly brokers: string | readonly string[];
  /** Names this process in broker logs and quotas: letters, digits, '.', '_', '-'. */
  readonly clientId: string;
  /** Default: warnings and errors as JSON lines on stderr. */
  readonly log?: KafkaLog;
  /** Lowest level passed to `log`; default 'warn'. */
  readonly logLevel?: KafkaLogLevel;
  /** TCP connect bound per broker, default 3000. */
  readonly connectionTimeoutMs?: number;
  /** Bound on one request's round trip, default 30000. */
  readonly requestTimeoutMs?: number;
}

const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const BROKER_PATTERN = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;
const MAX_BROKERS = 64;

const TO_KAFKAJS_LEVEL: Record<KafkaLogLevel, KafkaJsLogLevel> = {
  error: KafkaJsLogLevel.ERROR,
  warn: KafkaJsLogLevel.WARN,
  info: KafkaJsLogLevel.INFO,
  debug: KafkaJsLogLevel.DEBUG,
};

/**
 * kafkajs warns on every idempotent producer whose retries are bounded. KafkaBusPublisher bounds
 * them on purpose (a publish must fail in bounded time) and replaces its producer after any
 * failure, so a fresh producer id and fresh sequence numbers make that warning moot: it is
 * logged at info instead of warn.
 */
const EXPECTED_WARNINGS = ['Limiting retries for the idempotent producer may invalidate EoS guarantees'];

/**
 * The one place a kafkajs client is built: explicit timeouts and retry policy instead of the
 * library's defaults, and kafkajs's console logger replaced by `log`.
 */
export function createKafka(options: CreateKafkaOptions): Kafka {
  const brokers = (typeof options.brokers === 'string' ? options.brokers.split(',') : [...options.brokers]).map((b) => b.trim());
  if (brokers.length === 0 || brokers.length > MAX_BROKERS || !brokers.every((b) => BROKER_PATTERN.test(b))) {
    throw new RangeError(`createKafka: brokers must be 1 to ${MAX_BROKERS} 'host:port' entries; got '${String(options.brokers).slice(0, 200)}'`);
  }
  if (!CLIENT_ID_PATTERN.test(options.clientId)) {
    throw new RangeError(`createKafka: clientId must match ${CLIENT_ID_PATTERN}; got '${options.clientId.slice(0, 200)}'`);
  }
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 3_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  assertBoundedMs('connectionTimeoutMs', connectionTimeoutMs, 100, 60_000);
  assertBoundedMs('requestTimeoutMs', requestTimeoutMs, 1_000, 300_000);
  const log = options.log ?? jsonLinesToStderr;
  return new Kafka({
    clientId: options.clientId,
    brokers,
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    enforceRequestTimeout: true,
    // Client-level policy for metadata, admin and connection retries: about 10 s in all.
    retry: { initialRetryTime: 100, maxRetryTime: 3_000, factor: 0.2, multiplier: 2, retries: 6 },
    logLevel: TO_KAFKAJS_LEVEL[options.logLevel ?? 'warn'],
    logCreator: structuredLogCreator(options.clientId, log),
  });
}

function structuredLogCreator(clientId: string, log: KafkaLog): logCreator {
  return () =>
    (entry: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry.log;
      let level = fromKafkaJsLevel(entry.level);
      if (level === 'warn' && EXPECTED_WARNINGS.includes(message)) level = 'info';
      const fields: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(extra)) fields[name] = serialisable(value);
      try {
        log({ level, clientId, namespace: entry.namespace, message, fields });
      } catch {
        // A failing logger must not break the Kafka client's own control flow.
      }
    };
}

function fromKafkaJsLevel(level: KafkaJsLogLevel): KafkaLogLevel {
  switch (level) {
    case KafkaJsLogLevel.ERROR:
    case KafkaJsLogLevel.NOTHING:
      return 'error';
    case KafkaJsLogLevel.WARN:
      return 'warn';
    case KafkaJsLogLevel.INFO:
      return 'info';
    default:
      return 'debug';
  }
}

function serialisable(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown; type?: unknown }).type ?? (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  return value;
}

function jsonLinesToStderr(entry: KafkaLogEntry): void {
  if (entry.level !== 'error' && entry.level !== 'warn') return;
  process.stderr.write(`${JSON.stringify({ source: 'kafkajs', time: new Date().toISOString(), ...entry })}\n`);
}

function assertBoundedMs(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`createKafka: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}
