import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { decodeTransferFrame, encodeTransferFrame } from './lean-grpc.codec';
import type { TransferClient, TransferRequest } from './service.clients';
import { grpcStatusReason } from './transfer-outcomes';

const TRANSFER_PATH = '/ledger.v1.LedgerService/Transfer';
const GRPC_OK = 0;

/**
 * A load generator's gRPC client for `LedgerService/Transfer`: the gRPC protocol over HTTP/2
 * spoken directly with `node:http2` and a hand-written codec (`lean-grpc.codec.ts`), as wire-level
 * tools such as ghz or h2load do. @grpc/grpc-js costs the load process several times more CPU per
 * call (its channel, interceptor and reflection layers), and on this machine the clients share the
 * cores with the service, so the bench's choice of client would otherwise move the service's
 * figures. The server sees the same bytes either way: the same path, content type, deadline
 * (`grpc-timeout`), bearer token and message.
 *
 * Every answer is checked: HTTP status 200, `grpc-status` 0 in the trailers, exactly one
 * uncompressed TransferResponse frame with a positive position and a transaction id. Anything else
 * is a failure with a reason: the `reason-code` trailer the service sends with its errors, else a
 * name for the status, `TIMEOUT` when the deadline passed, `NETWORK_<code>` for a broken stream,
 * `BAD_RESPONSE` for a malformed answer.
 */
export class LeanGrpcTransferClient implements TransferClient {
  private readonly sessions: ClientHttp2Session[];
  private readonly authorization: string;
  private readonly grpcTimeout: string;
  private next = 0;

  constructor(
    address: string,
    channels: number,
    token: string,
    private readonly timeoutMs: number,
  ) {
    this.authorization = `Bearer ${token}`;
    this.grpcTimeout = `${timeoutMs}m`;
    this.sessions = Array.from({ length: channels }, () => {
      const session = connect(`http://${address}`);
      // A broken session must not crash the process: the calls on it fail with their own reason.
      // (Not unref'd: a call in flight keeps the process alive until it is answered; close() ends them.)
      session.on('error', () => undefined);
      return session;
    });
  }

  transfer(request: TransferRequest): Promise<string | null> {
    const session = this.sessions[this.next]!;
    this.next = (this.next + 1) % this.sessions.length;
    const frame = encodeTransferFrame({
      fromWalletId: request.from,
      toWalletId: request.to,
      amount: request.amount,
      currency: request.currency,
      reference: '',
      idempotencyKey: request.idempotencyKey,
      transactionPin: '',
    });
    return new Promise((resolve) => {
      let stream: ClientHttp2Stream;
      try {
        stream = session.request({
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: TRANSFER_PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': this.grpcTimeout,
          authorization: this.authorization,
        });
      } catch (error) {
        resolve(`NETWORK_${(error as { code?: string }).code ?? 'ERROR'}`);
        return;
      }
      let settled = false;
      const settle = (reason: string | null): void => {
        if (settled) return;
        settled = true;
        resolve(reason);
      };
      let httpStatus = 0;
      let status: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => {
        httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
        // A "trailers-only" answer (an error before any message) carries the status in its headers.
        if (headers['grpc-status'] !== undefined) status = headers;
      });
      stream.on('trailers', (trailers) => {
        status = trailers;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.setTimeout(this.timeoutMs, () => {
        settle('TIMEOUT');
        stream.close(constants.NGHTTP2_CANCEL);
      });
      stream.on('error', (error: { code?: string }) => settle(`NETWORK_${error.code ?? 'ERROR'}`));
      stream.on('close', () => {
        if (settled) return;
        if (httpStatus !== 200 || status === undefined) {
          settle(httpStatus === 0 ? 'NETWORK_CLOSED' : `HTTP_${httpStatus}`);
          return;
        }
        const code = Number(status['grpc-status']);
        if (code !== GRPC_OK) {
          const reasonCode = status['reason-code'];
          settle(grpcStatusReason(code, Array.isArray(reasonCode) ? reasonCode[0] : reasonCode));
          return;
        }
        try {
          decodeTransferFrame(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
          settle(null);
        } catch {
          settle('BAD_RESPONSE');
        }
      });
      stream.end(frame);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((session) => new Promise<void>((resolve) => session.close(() => resolve()))));
  }
}
