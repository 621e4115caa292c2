import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContextInit {
  readonly correlationId: string;
  readonly principalSubject?: string;
}

/**
 * Facts about the request being served that every layer may need (logs, event metadata, error
 * bodies) without threading them through every signature. The edge (HTTP middleware, gRPC
 * wrappers) opens one per request with its correlation id; authentication adds the principal's
 * subject once the token is verified. Outside a request there is no context: `current()` is
 * undefined, and callers decide what that means for them.
 */
export class RequestContext {
  private static readonly storage = new AsyncLocalStorage<RequestContext>();
  private subject: string | undefined;

  private constructor(
    readonly correlationId: string,
    principalSubject: string | undefined,
  ) {
    this.subject = principalSubject;
  }

  /** Runs `fn` (and everything it starts, sync or async) inside a fresh context. */
  static run<T>(init: RequestContextInit, fn: () => T): T {
    return RequestContext.storage.run(new RequestContext(init.correlationId, init.principalSubject), fn);
  }

  static current(): RequestContext | undefined {
    return RequestContext.storage.getStore();
  }

  static currentCorrelationId(): string | undefined {
    return RequestContext.storage.getStore()?.correlationId;
  }

  /** The verified principal's subject (`sub`), once authentication has run. */
  get principalSubject(): string | undefined {
    return this.subject;
  }

  /**
   * Records who is calling. Set once per request by the authentication layer; setting a different
   * subject later is a programmer error (one request, one principal), so it throws.
   */
  setPrincipalSubject(subject: string): void {
    if (this.subject !== undefined && this.subject !== subject) {
      throw new Error(`RequestContext already belongs to principal '${this.subject}'`);
    }
    this.subject = subject;
  }
}
