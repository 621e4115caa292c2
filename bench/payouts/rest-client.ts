import { request as httpRequest, Agent } from 'node:http';
import { Readable } from 'node:stream';

/**
 * The bench's REST client of the ledger and the payouts service: JSON calls through one
 * keep-alive agent, and the CSV upload as a streamed (chunked) body.
 */

export interface RestResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

export class RestClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  constructor(private readonly token: () => string) {}

  async call(method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<RestResponse> {
    const started = performance.now();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    return new Promise<RestResponse>((resolve, reject) => {
      const req = httpRequest(url, {
        method,
        agent: this.agent,
        headers: {
          authorization: `Bearer ${this.token()}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
      });
      req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${url}: no answer within 120 s`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { raw: text.slice(0, 500) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - started });
        });
      });
      req.end(payload);
    });
  }

  /** `call` that insists on one status; anything else throws with the problem details. */
  async expect(status: number, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers?: Record<string, string>): Promise<Record<string, unknown>> {
    const response = await this.call(method, url, body, headers);
    if (response.status !== status) throw new Error(`${method} ${url}: HTTP ${response.status} (expected ${status}) ${JSON.stringify(response.body).slice(0, 500)}`);
    return response.body;
  }

  /**
   * PUTs `pieces` as a `text/csv` body with chunked transfer encoding, as they are produced (the
   * file never exists whole on the client). `ms` runs from the first byte sent to the answer's end.
   */
  upload(url: string, pieces: Iterable<string>): Promise<RestResponse & { readonly bytes: number }> {
    let bytes = 0;
    const source = Readable.from(
      (function* () {
        for (const piece of pieces) {
          const buffer = Buffer.from(piece, 'utf8');
          bytes += buffer.length;
          yield buffer;
        }
      })(),
    );
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = httpRequest(url, {
        method: 'PUT',
        // Its own connection: the upload is one long request.
        agent: false,
        headers: { authorization: `Bearer ${this.token()}`, 'content-type': 'text/csv; charset=utf-8', accept: 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.setTimeout(600_000, () => req.destroy(new Error(`PUT ${url}: no answer within 600 s`)));
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      req.on('response', (res) => {
        answered = true;
        source.unpipe(req);
        source.destroy();
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { raw: text.slice(0, 500) };
          }
          resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started, bytes });
        });
      });
      source.on('error', (error) => req.destroy(error));
      source.pipe(req);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` in flight; the first failure stops it. */
export async function forEachBounded(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const index = next;
      next += 1;
      try {
        await work(index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) throw failure;
}
