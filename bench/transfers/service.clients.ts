import * as grpc from '@grpc/grpc-js';
import { loadProtoFiles } from '@ledger/nest';
import { Agent, request as httpRequest } from 'node:http';
import { grpcReason, httpReason } from './transfer-outcomes';

/**
 * The bench's clients of the ledger service, as a real caller would use them: several gRPC
 * channels (each its own HTTP/2 connection) and several HTTP keep-alive agents, requests spread
 * round-robin, every request with its own deadline and a bearer token.
 */

export interface TransferRequest {
  readonly from: string;
  readonly to: string;
  /** Major units, e.g. "0.37". */
  readonly amount: string;
  /** The same amount in minor units (the baseline stores integers). */
  readonly amountMinor: number;
  readonly currency: string;
  readonly idempotencyKey: string;
}

/** Sends one transfer; resolves with null on success, else the reason code. Never rejects. */
export interface TransferClient {
  transfer(request: TransferRequest): Promise<string | null>;
  close(): Promise<void>;
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;
type LedgerGrpcClient = grpc.Client & Record<string, UnaryMethod>;

export class LedgerGrpcClients implements TransferClient {
  private readonly clients: LedgerGrpcClient[];
  private next = 0;

  constructor(
    address: string,
    protoFile: string,
    channels: number,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {
    const service = loadProtoFiles([protoFile])['ledger.v1.LedgerService'] as grpc.ServiceDefinition;
    const Client = grpc.makeGenericClientConstructor(service, 'LedgerService') as unknown as new (
      address: string,
      credentials: grpc.ChannelCredentials,
      options: grpc.ChannelOptions,
    ) => LedgerGrpcClient;
    // grpc-js shares one connection between clients with equal settings unless each has its own pool.
    this.clients = Array.from({ length: channels }, () => new Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  }

  /** One unary call; rejects with the reason code on failure (setup and checks use this). */
  call<Response>(method: string, body: unknown): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.invoke(method, body, (error, response) => (error ? reject(new Error(`${method}: ${grpcReason(error)}: ${error.details}`)) : resolve(response as Response)));
    });
  }

  transfer(request: TransferRequest): Promise<string | null> {
    const body = {
      from_wallet_id: request.from,
      to_wallet_id: request.to,
      amount: request.amount,
      currency: request.currency,
      reference: '',
      idempotency_key: request.idempotencyKey,
      transaction_pin: '',
    };
    return new Promise((resolve) => this.invoke('Transfer', body, (error) => resolve(error ? grpcReason(error) : null)));
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
  }

  private invoke(method: string, body: unknown, callback: (error: grpc.ServiceError | null, response: unknown) => void): void {
    const client = this.clients[this.next]!;
    this.next = (this.next + 1) % this.clients.length;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    client[method]!.call(client, body, metadata, { deadline: Date.now() + this.timeoutMs }, callback);
  }
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

export class LedgerHttpClients implements TransferClient {
  private readonly agents: Agent[];
  private readonly host: string;
  private readonly port: number;
  private next = 0;

  constructor(
    baseUrl: string,
    agents: number,
    socketsPerAgent: number,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agents = Array.from({ length: agents }, () => new Agent({ keepAlive: true, maxSockets: socketsPerAgent, maxFreeSockets: socketsPerAgent }));
  }

  /** One request; resolves with status and body, or rejects on a network error or timeout. */
  send(method: 'GET' | 'POST', path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const agent = this.agents[this.next]!;
    this.next = (this.next + 1) % this.agents.length;
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: this.host,
        port: this.port,
        method,
        path,
        agent,
        timeout: this.timeoutMs,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
          ...headers,
        },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new HttpTimeoutError()));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async transfer(request: TransferRequest): Promise<string | null> {
    try {
      const reply = await this.send(
        'POST',
        '/v1/transfers',
        { fromWalletId: request.from, toWalletId: request.to, amount: request.amount, currency: request.currency },
        { 'idempotency-key': request.idempotencyKey },
      );
      return reply.status === 201 ? null : httpReason(reply.status, reply.body);
    } catch (error) {
      if (error instanceof HttpTimeoutError) return 'TIMEOUT';
      return `NETWORK_${(error as { code?: string }).code ?? 'ERROR'}`;
    }
  }

  async close(): Promise<void> {
    for (const agent of this.agents) agent.destroy();
  }
}

class HttpTimeoutError extends Error {
  constructor() {
    super('TIMEOUT');
    this.name = 'HttpTimeoutError';
  }
}
