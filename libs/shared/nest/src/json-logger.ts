import type { LoggerService, LogLevel } from '@nestjs/common';
import { RequestContext } from './request-context';

const LEVELS: readonly LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];

export function parseLogLevel(text: string): LogLevel {
  if ((LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}; got '${text}'`);
}

/**
 * One JSON object per line on stdout (stderr for warn and above), for log shippers. Fields: time,
 * level, service, context, correlationId (inside a request, from RequestContext), msg, and whatever
 * structured fields the caller passes as an object (an explicit `correlationId` field wins).
 * Never pass secrets (tokens, PINs) in log fields.
 */
export class JsonLogger implements LoggerService {
  private readonly minimum: number;

  constructor(
    private readonly service: string,
    level: LogLevel = 'log',
    private readonly write: (line: string, isError: boolean) => void = (line, isError) =>
      (isError ? process.stderr : process.stdout).write(`${line}\n`),
  ) {
    this.minimum = LEVELS.indexOf(level);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.emit('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.emit('fatal', message, rest);
  }

  private emit(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (LEVELS.indexOf(level) < this.minimum) return;
    // Nest passes the context as the last string argument, and for errors a stack before it.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, service: this.service };
    if (context) entry['context'] = context;
    const correlationId = RequestContext.currentCorrelationId();
    if (correlationId !== undefined) entry['correlationId'] = correlationId;
    if (message instanceof Error) {
      entry['msg'] = message.message;
      entry['error'] = { name: message.name, stack: message.stack };
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(entry, message);
    } else {
      entry['msg'] = String(message);
    }
    for (const extra of rest) {
      if (typeof extra === 'string') entry['stack'] = extra;
      else if (typeof extra === 'object' && extra !== null) Object.assign(entry, extra);
    }
    this.write(JSON.stringify(entry, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)), LEVELS.indexOf(level) >= LEVELS.indexOf('warn'));
  }
}
