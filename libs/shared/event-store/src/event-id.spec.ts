import { newEventId } from './event-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('is a lower-case UUID version 7 carrying the time in milliseconds', () => {
    const at = Date.UTC(2026, 10, 21, 17, 31, 37, 123);
    const id = newEventId(at);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('orders ids of different milliseconds by time, as text and as PostgreSQL compares uuids', () => {
    const ids = [5, 1, 4_000_000_000_000, 3, 2 ** 47].map((ms) => newEventId(ms));
    const byTime = [...ids].sort();
    expect(byTime.map((id) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16))).toEqual([1, 3, 5, 4_000_000_000_000, 2 ** 47]);
  });

  it('draws 74 fresh random bits per id: 200,000 ids of one millisecond are all different', () => {
    const ids = new Set(Array.from({ length: 200_000 }, () => newEventId(1_700_000_000_000)));
    expect(ids.size).toBe(200_000);
    for (const id of [...ids].slice(0, 1_000)) expect(id).toMatch(UUID_V7);
  });
});
