import { fromProtoTimestamp, toProtoTimestamp } from './grpc-timestamp';

describe('protobuf Timestamp conversion', () => {
  it('round-trips millisecond dates, before and after the epoch', () => {
    for (const iso of ['2025-03-01T12:34:56.789Z', '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z']) {
      const date = new Date(iso);
      const timestamp = toProtoTimestamp(date);
      expect(timestamp.nanos).toBeGreaterThanOrEqual(0);
      expect(fromProtoTimestamp(timestamp, 'at')?.toISOString()).toBe(iso);
    }
    expect(toProtoTimestamp(new Date('1969-12-31T23:59:59.999Z'))).toEqual({ seconds: '-1', nanos: 999_000_000 });
  });

  it('reads an absent field as undefined and refuses malformed ones with a named error', () => {
    expect(fromProtoTimestamp(null, 'expires_at')).toBeUndefined();
    expect(() => fromProtoTimestamp({ seconds: '1', nanos: 1_000_000_000 }, 'expires_at')).toThrow(expect.objectContaining({ code: 'INVALID_TIMESTAMP' }));
    expect(() => fromProtoTimestamp({ seconds: '1e3', nanos: 0 }, 'expires_at')).toThrow(expect.objectContaining({ code: 'INVALID_TIMESTAMP' }));
    expect(() => fromProtoTimestamp({ seconds: '253402300800', nanos: 0 }, 'expires_at')).toThrow(/9999/);
  });
});
