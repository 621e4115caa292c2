import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadProtoFiles } from '@ledger/nest';
import { resolve } from 'node:path';
import { decodeTransferFrame, encodeTransferFrame, GRPC_FRAME_HEADER_BYTES, GrpcWireError, type TransferFields } from './lean-grpc.codec';

const LEDGER_PROTO = resolve(__dirname, '..', '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const transfer = (loadProtoFiles([LEDGER_PROTO])['ledger.v1.LedgerService'] as ServiceDefinition)['Transfer'] as MethodDefinition<unknown, unknown>;

const FIELDS: TransferFields = {
  fromWalletId: '0b6f0d2c-6a43-4c1e-9a55-3f1c8f9e2a10',
  toWalletId: '7d1e4c2b-1f0a-4b8e-8c3d-5e6f7a8b9c0d',
  amount: '0.37',
  currency: 'USD',
  reference: 'ünïcode ref ✓',
  idempotencyKey: 'run.c1.'.padEnd(200, 'k'), // a length that needs a two-byte varint
  transactionPin: '1234',
};

function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(GRPC_FRAME_HEADER_BYTES);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

describe('lean gRPC codec against @grpc/proto-loader for proto/ledger/v1/ledger.proto', () => {
  it('encodes a TransferRequest that the service decodes field for field', () => {
    const encoded = encodeTransferFrame(FIELDS);
    expect(encoded[0]).toBe(0);
    expect(encoded.readUInt32BE(1)).toBe(encoded.length - GRPC_FRAME_HEADER_BYTES);
    expect(transfer.requestDeserialize(encoded.subarray(GRPC_FRAME_HEADER_BYTES))).toEqual({
      from_wallet_id: FIELDS.fromWalletId,
      to_wallet_id: FIELDS.toWalletId,
      amount: FIELDS.amount,
      currency: FIELDS.currency,
      reference: FIELDS.reference,
      idempotency_key: FIELDS.idempotencyKey,
      transaction_pin: FIELDS.transactionPin,
    });
  });

  it('leaves empty strings out (the proto3 default), which reads back as the empty string', () => {
    const encoded = encodeTransferFrame({ ...FIELDS, reference: '', transactionPin: '' }).subarray(GRPC_FRAME_HEADER_BYTES);
    const withEmpties = transfer.requestSerialize({ ...toWire(FIELDS), reference: '', transaction_pin: '' });
    expect(encoded.length).toBeLessThan(withEmpties.length);
    expect(transfer.requestDeserialize(encoded)).toEqual(transfer.requestDeserialize(withEmpties));
  });

  it('reads position, replayed and transaction id from a TransferResponse the service encodes', () => {
    const body = transfer.responseSerialize({
      position: '123456789012345',
      replayed: true,
      wallet: { wallet_id: FIELDS.fromWalletId, owner_id: 'o', currency: 'USD', status: 'WALLET_STATUS_OPEN', balance: '1.00', available: '1.00', held: '0.00', revision: '7', open_holds: [] },
      transaction_id: 'c0ffee00-0000-4000-8000-000000000001',
    });
    expect(decodeTransferFrame(frame(body))).toEqual({ position: '123456789012345', replayed: true, transactionId: 'c0ffee00-0000-4000-8000-000000000001', hasWallet: true });
  });

  it('refuses malformed answers with a reason', () => {
    const good = frame(transfer.responseSerialize({ position: '5', replayed: false, wallet: null, transaction_id: 't' }));
    expect(decodeTransferFrame(good)).toMatchObject({ position: '5', hasWallet: false });
    expect(() => decodeTransferFrame(good.subarray(0, 3))).toThrow(GrpcWireError);
    expect(() => decodeTransferFrame(good.subarray(0, good.length - 1))).toThrow(/declares/);
    const compressed = Buffer.from(good);
    compressed[0] = 1;
    expect(() => decodeTransferFrame(compressed)).toThrow(/compressed/);
    expect(() => decodeTransferFrame(frame(transfer.responseSerialize({ position: '', replayed: false, wallet: null, transaction_id: 't' })))).toThrow(/position/);
    expect(() => decodeTransferFrame(frame(transfer.responseSerialize({ position: '9', replayed: false, wallet: null, transaction_id: '' })))).toThrow(/transaction_id/);
    // A length-delimited field that claims more bytes than there are.
    expect(() => decodeTransferFrame(frame(Buffer.from([0x0a, 0x10, 0x31])))).toThrow(/past the end/);
    expect(() => decodeTransferFrame(frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])))).toThrow(GrpcWireError);
  });
});

function toWire(fields: TransferFields): Record<string, string> {
  return {
    from_wallet_id: fields.fromWalletId,
    to_wallet_id: fields.toWalletId,
    amount: fields.amount,
    currency: fields.currency,
    reference: fields.reference,
    idempotency_key: fields.idempotencyKey,
    transaction_pin: fields.transactionPin,
  };
}
