import { randomFillSync } from 'node:crypto';

/**
 * A new event id: a UUID version 7 (RFC 9562), 48 bits of Unix time in milliseconds followed by
 * 74 random bits, in the lower-case form every adapter accepts.
 *
 * Why not a random (version 4) UUID: the PostgreSQL store keeps a unique index on event ids. With
 * random ids every insert lands on a random leaf page of that index, so once the index outgrows
 * memory each append reads a page, and after every checkpoint each first touch of a page writes a
 * full 8 KiB page image to the WAL. Time-ordered ids land at the right edge of the index, like the
 * positions do. Uniqueness rests on the 74 random bits (ids of the same millisecond are not
 * ordered among themselves); nothing may read meaning into an id beyond that.
 */
export function newEventId(nowMs: number = Date.now()): string {
  const bytes = takeRandom16();
  let time = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f); // variant 10xx
  return format(bytes);
}

/** Random bytes are drawn from the OS in blocks: one syscall per 256 ids, not one per id. */
const BLOCK_IDS = 256;
const block = Buffer.alloc(16 * BLOCK_IDS);
let used = BLOCK_IDS;
const current = Buffer.alloc(16);

function takeRandom16(): Buffer {
  if (used === BLOCK_IDS) {
    randomFillSync(block);
    used = 0;
  }
  block.copy(current, 0, used * 16, used * 16 + 16);
  used += 1;
  return current;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function format(b: Buffer): string {
  const h = (i: number): string => HEX[b[i] as number] as string;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
