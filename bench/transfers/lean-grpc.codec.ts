/**
 * The protobuf wire format of exactly the two messages the lean gRPC load client needs:
 * `ledger.v1.TransferRequest` (encoded) and `ledger.v1.TransferResponse` (checked), from
 * proto/ledger/v1/ledger.proto, plus gRPC's length-prefixed message framing. Written by hand so
 * the load generator spends its CPU on the wire, not on reflection; `lean-grpc.codec.spec.ts`
 * checks both against @grpc/proto-loader's own encoder and decoder for the same .proto file, so a
 * field renumbered there fails the spec rather than silently sending something else.
 */

export interface TransferFields {
  readonly fromWalletId: string;
  readonly toWalletId: string;
  readonly amount: string;
  readonly currency: string;
  readonly reference: string;
  readonly idempotencyKey: string;
  readonly transactionPin: string;
}

/** TransferRequest field numbers, in declaration order. */
const TRANSFER_REQUEST_FIELDS: ReadonlyArray<readonly [number, keyof TransferFields]> = [
  [1, 'fromWalletId'],
  [2, 'toWalletId'],
  [3, 'amount'],
  [4, 'currency'],
  [5, 'reference'],
  [6, 'idempotencyKey'],
  [7, 'transactionPin'],
];

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** A gRPC message frame: 1 byte "not compressed", 4 bytes big-endian length, then the message. */
export const GRPC_FRAME_HEADER_BYTES = 5;

/** TransferRequest as one gRPC frame (proto3: empty strings are left out, as every encoder does). */
export function encodeTransferFrame(fields: TransferFields): Buffer {
  const parts: Array<[number, Buffer]> = [];
  let size = 0;
  for (const [number, name] of TRANSFER_REQUEST_FIELDS) {
    const value = fields[name];
    if (value === '') continue;
    const bytes = Buffer.from(value, 'utf8');
    parts.push([number, bytes]);
    size += varintLength((number << 3) | WIRE_LEN) + varintLength(bytes.length) + bytes.length;
  }
  const frame = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + size);
  frame[0] = 0;
  frame.writeUInt32BE(size, 1);
  let offset = GRPC_FRAME_HEADER_BYTES;
  for (const [number, bytes] of parts) {
    offset = writeVarint(frame, offset, (number << 3) | WIRE_LEN);
    offset = writeVarint(frame, offset, bytes.length);
    offset += bytes.copy(frame, offset);
  }
  return frame;
}

/** What the load client checks of a successful answer. */
export interface TransferAnswer {
  /** Global position of the append, a decimal string. */
  readonly position: string;
  readonly replayed: boolean;
  readonly transactionId: string;
  /** Whether the source wallet (field 3) was present. */
  readonly hasWallet: boolean;
}

export class GrpcWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrpcWireError';
  }
}

/**
 * The one TransferResponse inside a unary call's response body (one gRPC frame). Throws
 * GrpcWireError on anything malformed: a compressed or truncated frame, trailing bytes, a bad
 * varint or length, or a missing position or transaction id.
 */
export function decodeTransferFrame(body: Buffer): TransferAnswer {
  if (body.length < GRPC_FRAME_HEADER_BYTES) throw new GrpcWireError(`response body of ${body.length} bytes has no gRPC frame`);
  if (body[0] !== 0) throw new GrpcWireError('compressed response frames are not expected (no grpc-accept-encoding was sent)');
  const length = body.readUInt32BE(1);
  if (GRPC_FRAME_HEADER_BYTES + length !== body.length) {
    throw new GrpcWireError(`frame declares ${length} bytes but the body holds ${body.length - GRPC_FRAME_HEADER_BYTES}`);
  }
  let position = '';
  let transactionId = '';
  let replayed = false;
  let hasWallet = false;
  let offset = GRPC_FRAME_HEADER_BYTES;
  while (offset < body.length) {
    const [key, afterKey] = readVarint(body, offset);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    offset = afterKey;
    if (wire === WIRE_VARINT) {
      const [value, next] = readVarint(body, offset);
      if (field === 2) replayed = value !== 0;
      offset = next;
    } else if (wire === WIRE_LEN) {
      const [length, start] = readVarint(body, offset);
      const end = start + length;
      if (end > body.length) throw new GrpcWireError(`field ${field} runs past the end of the message`);
      if (field === 1) position = body.toString('utf8', start, end);
      else if (field === 3) hasWallet = true;
      else if (field === 4) transactionId = body.toString('utf8', start, end);
      offset = end;
    } else if (wire === WIRE_I64) {
      offset += 8;
    } else if (wire === WIRE_I32) {
      offset += 4;
    } else {
      throw new GrpcWireError(`field ${field} has unsupported wire type ${wire}`);
    }
  }
  if (offset !== body.length) throw new GrpcWireError('the last field runs past the end of the message');
  if (!/^[1-9][0-9]*$/.test(position)) throw new GrpcWireError(`position '${position.slice(0, 40)}' is not a positive decimal`);
  if (transactionId === '') throw new GrpcWireError('transaction_id is missing');
  return { position, replayed, transactionId, hasWallet };
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length += 1;
  }
  return length;
}

function writeVarint(buffer: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buffer[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[offset++] = value;
  return offset;
}

/** A varint of at most 7 bytes (< 2^49: lengths, field keys and bools here), and the offset after it. */
function readVarint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7; i += 1) {
    if (offset >= buffer.length) throw new GrpcWireError('truncated varint');
    const byte = buffer[offset++] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, offset];
    scale *= 0x80;
  }
  throw new GrpcWireError('varint longer than 7 bytes');
}
