import type { MessageTypeDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { join } from 'node:path';
import { loadProtoFiles } from './grpc-proto.loader';

/**
 * proto/ledger/v1/ledger.proto is the primary API; this spec holds it to the conventions its
 * header promises (it lives here because jest only runs specs under libs/ and services/).
 */
const LEDGER_PROTO = join(__dirname, '..', '..', '..', '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const definition = loadProtoFiles([LEDGER_PROTO]);
const service = definition['ledger.v1.LedgerService'] as ServiceDefinition;

interface FieldDescriptor {
  name: string;
  type: string;
  typeName: string;
  label: string;
}

function fieldsOf(messageName: string): Map<string, FieldDescriptor> {
  const message = definition[`ledger.v1.${messageName}`] as MessageTypeDefinition<unknown, unknown>;
  const type = message.type as { field: FieldDescriptor[] };
  return new Map(type.field.map((field) => [field.name, field]));
}

const COMMANDS = ['OpenWallet', 'FreezeWallet', 'UnfreezeWallet', 'CloseWallet', 'Deposit', 'Withdraw', 'Transfer', 'PlaceHold', 'CaptureHold', 'ReleaseHold'];
const USER_MONEY_MOVING = ['Deposit', 'Withdraw', 'Transfer', 'PlaceHold', 'CaptureHold'];

describe('proto/ledger/v1/ledger.proto', () => {
  it('defines ledger.v1.LedgerService with every operation of the API', () => {
    expect(Object.keys(service).sort()).toEqual([...COMMANDS, 'GetWallet', 'SetTransactionPin'].sort());
    for (const method of Object.values(service)) {
      expect(method.requestStream).toBe(false);
      expect(method.responseStream).toBe(false);
    }
  });

  it.each(COMMANDS)('%s: the request carries idempotency_key; the response position, replayed and the wallet', (command) => {
    expect(fieldsOf(`${command}Request`).get('idempotency_key')?.type).toBe('TYPE_STRING');
    const response = fieldsOf(`${command}Response`);
    expect(response.get('position')?.type).toBe('TYPE_STRING');
    expect(response.get('replayed')?.type).toBe('TYPE_BOOL');
    expect(response.get('wallet')?.typeName).toBe('Wallet');
  });

  it.each(USER_MONEY_MOVING)('%s carries the transaction PIN', (command) => {
    expect(fieldsOf(`${command}Request`).get('transaction_pin')?.type).toBe('TYPE_STRING');
  });

  it('moves money as decimal strings with an explicit currency, never as numbers', () => {
    for (const command of ['Deposit', 'Withdraw', 'Transfer', 'PlaceHold', 'CaptureHold']) {
      const fields = fieldsOf(`${command}Request`);
      expect(fields.get('amount')?.type).toBe('TYPE_STRING');
      expect(fields.get('currency')?.type).toBe('TYPE_STRING');
    }
    const wallet = fieldsOf('Wallet');
    for (const name of ['balance', 'available', 'held', 'revision', 'currency', 'wallet_id', 'owner_id']) expect(wallet.get(name)?.type).toBe('TYPE_STRING');
    expect(wallet.get('status')?.typeName).toBe('WalletStatus');
    expect(wallet.get('open_holds')).toMatchObject({ typeName: 'Hold', label: 'LABEL_REPEATED' });
    expect(fieldsOf('Hold').get('expires_at')?.typeName).toBe('google.protobuf.Timestamp');
    expect(fieldsOf('PlaceHoldRequest').get('expires_at')?.typeName).toBe('google.protobuf.Timestamp');
  });

  it('captures a hold into a wallet or out through a system account, and decodes the choice', () => {
    const method = service['CaptureHold']!;
    const decoded = method.requestDeserialize(
      method.requestSerialize({ wallet_id: 'w', hold_id: 'h', to_system_account: 'SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT', idempotency_key: 'k' }),
    ) as Record<string, unknown>;
    expect(decoded).toMatchObject({ destination: 'to_system_account', to_system_account: 'SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT', amount: '', transaction_pin: '' });
  });
});
