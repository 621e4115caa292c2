import { ValidationError } from '@ledger/errors';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { EnvReader } from './env-config';
import { bodyTooLarge, unsupportedBody } from './transport.errors';

/** `HTTP_BODY_LIMIT_BYTES`: largest JSON request body accepted; commands are well under 1 KiB. */
export const HTTP_BODY_LIMIT_BYTES_DEFAULT = 65_536;
export const HTTP_BODY_LIMIT_BYTES_MIN = 1_024;
export const HTTP_BODY_LIMIT_BYTES_MAX = 10_485_760;

/** Reads HTTP_BODY_LIMIT_BYTES (bytes, 1 KiB to 10 MiB, default 64 KiB) in a service's config loader. */
export function readHttpBodyLimitBytes(read: EnvReader): number {
  return read.integer('HTTP_BODY_LIMIT_BYTES', HTTP_BODY_LIMIT_BYTES_DEFAULT, HTTP_BODY_LIMIT_BYTES_MIN, HTTP_BODY_LIMIT_BYTES_MAX);
}

export interface JsonBodyParserOptions {
  readonly limitBytes: number;
}

/**
 * Installs the only body parser: `application/json`, at most `limitBytes`, strict (the top level
 * must be an object or array), no compressed bodies (the limit is then the bytes on the wire).
 * Parser failures become named errors for the problem-details filter: MALFORMED_JSON (400),
 * BODY_TOO_LARGE (413), UNSUPPORTED_CONTENT_ENCODING / UNSUPPORTED_CHARSET (415).
 *
 * Create the app with `{ bodyParser: false }` (or call this before `init()`/`listen()`): Nest then
 * sees a `jsonParser` already installed and adds no default 100 kB one ahead of it.
 */
export function installJsonBodyParser(app: NestExpressApplication, options: JsonBodyParserOptions): void {
  if (!Number.isInteger(options.limitBytes) || options.limitBytes <= 0) {
    throw new Error(`installJsonBodyParser: limitBytes must be a positive integer; got ${options.limitBytes}`);
  }
  if (hasJsonParser(app)) {
    throw new Error('installJsonBodyParser: a JSON body parser is already installed; create the app with { bodyParser: false } and install before listen()');
  }
  app.useBodyParser('json', { limit: options.limitBytes, strict: true, inflate: false, type: 'application/json' });
  app.use(bodyParserErrors(options.limitBytes));
}

/** Express error middleware (four parameters) turning body-parser errors into named errors. */
export function bodyParserErrors(limitBytes: number): (error: unknown, request: unknown, response: unknown, next: (error?: unknown) => void) => void {
  return function translateBodyParserError(error, _request, _response, next) {
    next(translateBodyParserFailure(error, limitBytes));
  };
}

export function translateBodyParserFailure(error: unknown, limitBytes: number): unknown {
  const type = typeof error === 'object' && error !== null ? (error as { type?: unknown }).type : undefined;
  switch (type) {
    case 'entity.parse.failed':
      return new ValidationError('MALFORMED_JSON', 'The request body is not valid JSON (the top level must be an object or an array)', {}, { cause: error });
    case 'entity.too.large':
      return bodyTooLarge(limitBytes);
    case 'encoding.unsupported':
      return unsupportedBody('UNSUPPORTED_CONTENT_ENCODING', 'Compressed request bodies are not accepted');
    case 'charset.unsupported':
      return unsupportedBody('UNSUPPORTED_CHARSET', 'The request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
      return new ValidationError('MALFORMED_BODY', 'The request body was incomplete');
    default:
      return error;
  }
}

function hasJsonParser(app: NestExpressApplication): boolean {
  const instance: unknown = app.getHttpAdapter().getInstance();
  const stack: unknown = (instance as { router?: { stack?: unknown } }).router?.stack;
  if (!Array.isArray(stack)) return false;
  return stack.some((layer: unknown) => (layer as { handle?: { name?: unknown } } | null)?.handle?.name === 'jsonParser');
}
