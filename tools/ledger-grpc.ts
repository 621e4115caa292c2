/**
 * A tiny gRPC client for trying the ledger by hand (no grpcurl needed):
 *
 *   npm run --silent grpc -- <Method> '<request JSON>'
 *   e.g. npm run --silent grpc -- GetWallet '{"wallet_id":"…"}'
 *
 * LEDGER_TOKEN (required): a bearer token, e.g. from `npm run --silent dev-token -- --sub alice`.
 * LEDGER_GRPC_ADDRESS: host:port of the ledger's gRPC server (default 127.0.0.1:50051).
 * Field names are the proto's (snake_case); the answer is printed as JSON. Exit 1 on an error,
 * with the status, the reason code and the message.
 */
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { loadProtoFiles } from '../libs/shared/nest/src/grpc-proto.loader';

const SERVICE = 'ledger.v1.LedgerService';
const PROTO = join(__dirname, '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const DEADLINE_MS = 10_000;

function main(): void {
  const [method, body = '{}'] = process.argv.slice(2);
  const token = process.env['LEDGER_TOKEN'];
  const service = loadProtoFiles([PROTO])[SERVICE] as grpc.ServiceDefinition;
  if (!method || !(method in service)) {
    process.stderr.write(`usage: npm run --silent grpc -- <Method> '<request JSON>'\nmethods: ${Object.keys(service).join(', ')}\n`);
    process.exit(2);
  }
  if (!token) {
    process.stderr.write('Set LEDGER_TOKEN to a bearer token (npm run --silent dev-token -- --sub alice)\n');
    process.exit(2);
  }
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    process.stderr.write('The request must be JSON, e.g. \'{"wallet_id":"…"}\'\n');
    process.exit(2);
  }
  const Client = grpc.makeGenericClientConstructor(service, SERVICE);
  const client = new Client(process.env['LEDGER_GRPC_ADDRESS'] ?? '127.0.0.1:50051', grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void
  >;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = client[method];
  if (!call) throw new Error(`no client method ${method}`);
  call.call(client, request, metadata, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
    if (error) {
      const reason = error.metadata?.get('reason-code')[0];
      process.stderr.write(`${grpc.status[error.code]}${reason ? ` ${String(reason)}` : ''}: ${error.details}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
    process.exit(0);
  });
}

main();
