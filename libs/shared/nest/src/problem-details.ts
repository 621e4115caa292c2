import type { DescribedError } from './error-status.mapping';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Problem types are URNs built from the stable reason code: `urn:ledger:problem:<CODE>`, e.g.
 * `urn:ledger:problem:INSUFFICIENT_FUNDS`. A URN, not a URL, because nothing needs to be served
 * at it and it can never go stale; the code is used verbatim (codes are never renamed), so a
 * client may switch on either `type` or `code`.
 */
export const PROBLEM_TYPE_PREFIX = 'urn:ledger:problem:';

export function problemTypeFor(code: string): string {
  return `${PROBLEM_TYPE_PREFIX}${code}`;
}

/** RFC 7807 members plus our `code` and `correlationId`; safe details follow as extensions. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly correlationId: string;
  readonly [extension: string]: string | number | boolean | null;
}

/** Extension members never override these. */
const RESERVED_MEMBERS: ReadonlySet<string> = new Set(['type', 'title', 'status', 'detail', 'instance', 'code', 'correlationId']);

export function toProblemDetails(error: DescribedError, correlationId: string): ProblemDetails {
  const extensions: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(error.details)) {
    if (!RESERVED_MEMBERS.has(key)) extensions[key] = value;
  }
  return {
    type: problemTypeFor(error.code),
    title: error.title,
    status: error.httpStatus,
    detail: error.detail,
    code: error.code,
    correlationId,
    ...extensions,
  };
}
