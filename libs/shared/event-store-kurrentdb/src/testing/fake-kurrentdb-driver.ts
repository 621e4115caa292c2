import { randomUUID } from 'node:crypto';
import type {
  AllStreamResolvedEvent,
  AppendResult,
  AppendStreamRequest,
  AppendToStreamOptions,
  EventData,
  MultiAppendResult,
  ReadAllOptions,
  ReadStreamOptions,
  ResolvedEvent,
  SetStreamMetadataOptions,
  StreamMetadata,
} from '@kurrent/kurrentdb-client';
import type { KurrentDbDriver } from '../kurrentdb-driver';

/**
 * A KurrentDB stand-in for unit tests, NOT part of the library's API. It models the server and
 * driver behaviour the adapter relies on, as documented or read in their sources:
 * - $all positions are byte offsets of records (gaps between events); commit = prepare per event;
 * - forwards $all reads start AT the given position (inclusive); backwards reads end before it;
 * - a $all read from a position that is not a record's fails (server: InvalidPosition);
 * - v1 appends check `streamState`; v2 append sessions check every stream and report the FIRST
 *   failing one in request order, write nothing on failure, refuse non-string metadata values and
 *   two streams differing only in case; v2 metadata reads back as JSON with `$schema.*` keys added;
 * - reading a missing stream throws the driver's stream-not-found error;
 * - the $streams system projection writes a `$>` link event per new stream; stream metadata goes
 *   to the `$$<stream>` stream and `maxCount` hides older events.
 * Driver errors are plain objects with the driver's documented `type` values.
 */
export class FakeKurrentDb implements KurrentDbDriver {
  private readonly log: FakeRecord[] = [];
  private readonly streams = new Map<string, FakeRecord[]>();
  private readonly maxCounts = new Map<string, number>();
  private nextPosition = 1_000n;
  private disposed = false;
  /** Runs before every append is checked: lets a test interleave another writer. */
  beforeAppend: ((streamNames: readonly string[]) => Promise<void> | void) | undefined;
  /** Thrown by the next driver call instead of doing it. */
  failNext: unknown;
  readonly calls: string[] = [];

  /** Events in the log, for assertions. */
  get records(): readonly FakeRecord[] {
    return this.log;
  }

  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  async appendToStream(streamName: string, events: EventData[], options: AppendToStreamOptions): Promise<AppendResult> {
    await this.enter('appendToStream');
    await this.beforeAppend?.([streamName]);
    const expected = options.streamState ?? 'any';
    const actual = this.stateOf(streamName);
    if (!holds(expected, actual)) throw wrongExpectedVersion(streamName, expected, actual);
    const written = this.write(streamName, events, 'v1');
    return { success: true, nextExpectedRevision: written.revision, position: { commit: written.position, prepare: written.position } };
  }

  async multiStreamAppend(requests: AppendStreamRequest[]): Promise<MultiAppendResult> {
    for (const request of requests) {
      for (const event of request.events) {
        const metadata = event.metadata as unknown;
        if (metadata == null) continue;
        if (typeof metadata !== 'object' || Array.isArray(metadata) || metadata instanceof Uint8Array || Object.values(metadata).some((v) => typeof v !== 'string')) {
          throw new Error('multiStreamAppend requires metadata to be a plain object with string keys and string values.');
        }
      }
    }
    await this.enter('multiStreamAppend');
    const folded = new Set<string>();
    for (const request of requests) {
      const key = request.streamName.toLowerCase();
      if (folded.has(key)) throw { type: 'unknown', message: `Stream ${request.streamName} already in append session` };
      folded.add(key);
    }
    await this.beforeAppend?.(requests.map((r) => r.streamName));
    for (const request of requests) {
      const actual = this.stateOf(request.streamName);
      if (!holds(request.expectedState, actual)) throw wrongExpectedVersion(request.streamName, request.expectedState, actual);
    }
    let position = 0n;
    const responses = requests.map((request) => {
      const last = this.write(request.streamName, request.events, 'v2');
      position = last.position;
      return { streamName: request.streamName, revision: last.revision };
    });
    return { position, responses };
  }

  readStream(streamName: string, options: ReadStreamOptions): AsyncIterable<ResolvedEvent> {
    return this.streamRecords(streamName, options);
  }

  private async *streamRecords(streamName: string, options: ReadStreamOptions): AsyncGenerator<ResolvedEvent> {
    await this.enter('readStream');
    const all = this.streams.get(streamName);
    if (!all) throw { type: 'stream-not-found', streamName, message: `${streamName} not found` };
    const maxCount = this.maxCounts.get(streamName);
    const visible = maxCount === undefined ? all : all.slice(Math.max(0, all.length - maxCount));
    const count = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
    const out: FakeRecord[] = [];
    if ((options.direction ?? 'forwards') === 'forwards') {
      const from = options.fromRevision === undefined || options.fromRevision === 'start' ? 0n : options.fromRevision === 'end' ? BigInt(all.length) : options.fromRevision;
      for (const record of visible) if (record.revision >= from && out.length < count) out.push(record);
    } else {
      const from = options.fromRevision === undefined || options.fromRevision === 'end' ? BigInt(all.length - 1) : options.fromRevision === 'start' ? 0n : options.fromRevision;
      for (const record of [...visible].reverse()) if (record.revision <= from && out.length < count) out.push(record);
    }
    for (const record of out) yield { event: toDriverEvent(record) } as ResolvedEvent;
  }

  readAll(options: ReadAllOptions): AsyncIterable<AllStreamResolvedEvent> {
    return this.allRecords(options);
  }

  private async *allRecords(options: ReadAllOptions): AsyncGenerator<AllStreamResolvedEvent> {
    await this.enter('readAll');
    const count = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
    const from = options.fromPosition ?? 'start';
    const forwards = (options.direction ?? 'forwards') === 'forwards';
    let selected: FakeRecord[];
    if (forwards) {
      const start = from === 'start' ? 0 : from === 'end' ? this.log.length : this.indexOfPosition(from.commit);
      selected = this.log.slice(start, start + count);
    } else {
      const end = from === 'end' ? this.log.length : from === 'start' ? 0 : this.indexOfPosition(from.commit);
      selected = this.log.slice(Math.max(0, end - count), end).reverse();
    }
    for (const record of selected) yield { event: toDriverEvent(record), commitPosition: record.position } as AllStreamResolvedEvent;
  }

  async setStreamMetadata(streamName: string, metadata: StreamMetadata, _options: SetStreamMetadataOptions): Promise<AppendResult> {
    await this.enter('setStreamMetadata');
    if (typeof metadata.maxCount === 'number') this.maxCounts.set(streamName, metadata.maxCount);
    const written = this.write(`$$${streamName}`, [{ id: randomUUID(), contentType: 'application/json', type: '$metadata', data: { $maxCount: metadata.maxCount ?? null }, metadata: undefined }], 'v1');
    return { success: true, nextExpectedRevision: written.revision, position: { commit: written.position, prepare: written.position } };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  /** A system event, as the server's own projections and statistics write them. */
  writeSystemEvent(streamName = '$stats-fake'): void {
    this.write(streamName, [{ id: randomUUID(), contentType: 'application/json', type: '$statsCollected', data: { at: Date.now() }, metadata: undefined }], 'v1');
  }

  /** An event written by someone other than the adapter (no hash), e.g. a legacy tool. */
  writeForeignEvent(streamName: string): void {
    this.write(streamName, [{ id: randomUUID(), contentType: 'application/json', type: 'LegacyEvent', data: { x: 1 }, metadata: { source: 'legacy' } }], 'v1');
  }

  private async enter(call: string): Promise<void> {
    this.calls.push(call);
    await new Promise((resolve) => setImmediate(resolve)); // lets concurrent callers interleave
    if (this.disposed) throw { type: 'unavailable', message: 'Client is disposed' };
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
  }

  private stateOf(streamName: string): 'no_stream' | bigint {
    const events = this.streams.get(streamName);
    return events && events.length > 0 ? BigInt(events.length - 1) : 'no_stream';
  }

  private indexOfPosition(position: bigint): number {
    if (position === this.nextPosition) return this.log.length; // the end of the log is a record boundary
    const index = this.log.findIndex((record) => record.position === position);
    if (index === -1) throw { type: 'unknown', message: `Invalid position C:${position}/P:${position}` };
    return index;
  }

  private write(streamName: string, events: readonly EventData[], api: 'v1' | 'v2'): FakeRecord {
    const isNew = !this.streams.has(streamName);
    const stream = this.streams.get(streamName) ?? [];
    this.streams.set(streamName, stream);
    let last: FakeRecord | undefined;
    for (const event of events) {
      const data = JSON.stringify(event.data);
      let metadata = event.metadata === undefined ? '' : JSON.stringify(event.metadata);
      if (api === 'v2') {
        const properties = { ...((event.metadata as Record<string, string> | undefined) ?? {}), '$schema.data-format': 'Json', '$schema.name': event.type };
        metadata = JSON.stringify(properties);
      }
      last = {
        streamId: streamName,
        id: event.id,
        revision: BigInt(stream.length),
        type: event.type,
        isJson: event.contentType === 'application/json',
        created: new Date(),
        data,
        metadata,
        position: this.nextPosition,
      };
      this.nextPosition += BigInt(64 + data.length + metadata.length);
      stream.push(last);
      this.log.push(last);
    }
    if (isNew && !streamName.startsWith('$')) {
      // What the $streams system projection does, asynchronously on a real server.
      this.write('$streams', [{ id: randomUUID(), contentType: 'application/octet-stream', type: '$>', data: new Uint8Array(), metadata: undefined } as unknown as EventData], 'v1');
    }
    return last as FakeRecord;
  }
}

export interface FakeRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly created: Date;
  readonly data: string;
  readonly metadata: string;
  readonly position: bigint;
}

function holds(expected: unknown, actual: 'no_stream' | bigint): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === 'no_stream';
  if (expected === 'stream_exists') return actual !== 'no_stream';
  return actual === expected;
}

function wrongExpectedVersion(streamName: string, expectedState: unknown, actualState: 'no_stream' | bigint): object {
  return { type: 'wrong-expected-version', streamName, expectedState, actualState, message: `WrongExpectedVersion on ${streamName}` };
}

/** The shape the driver's convertRustRecord produces: parsed JSON data and metadata, Date created. */
function toDriverEvent(record: FakeRecord): unknown {
  return {
    streamId: record.streamId,
    id: record.id,
    revision: record.revision,
    type: record.type,
    isJson: record.isJson,
    created: record.created,
    data: record.isJson ? JSON.parse(record.data) : new Uint8Array(),
    metadata: record.metadata.length > 0 ? JSON.parse(record.metadata) : undefined,
    position: { commit: record.position, prepare: record.position },
  };
}
