import { applyMigrations, type SchemaMigration } from '@ledger/infra';
import type { Pool } from 'pg';

/** Schema names are interpolated into SQL, so they are checked, never escaped. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid PostgreSQL schema name '${schema.slice(0, 80)}': use lower-case letters, digits and _`);
  }
}

/**
 * Global positions are `transaction id × 2^16 + index within the transaction` (ADR 0002), so a
 * transaction may write at most this many events.
 */
export const EVENTS_PER_TRANSACTION_LIMIT = 65_536;
export const POSITION_SHIFT = 65_536n;


/** SQLSTATEs the append functions raise; the adapter maps them to kernel errors. */
export const WRONG_EXPECTED_VERSION_SQLSTATE = 'LX409';
export const TOO_MANY_EVENTS_IN_TRANSACTION_SQLSTATE = 'LX413';

/** Append-only list: never edit a released migration, add a new one. */
export const EVENT_STORE_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'streams, events, checkpoints',
    sql: (s) => `
      CREATE TABLE ${s}.streams (
        stream_id  text   PRIMARY KEY,
        -- revision of the last event; -1 exists only inside an uncommitted append creating the stream
        revision   bigint NOT NULL,
        last_hash  text   NOT NULL
      );
      CREATE TABLE ${s}.events (
        position    bigint      PRIMARY KEY,
        event_id    uuid        NOT NULL UNIQUE,
        stream_id   text        NOT NULL,
        revision    bigint      NOT NULL,
        category    text        NOT NULL,
        type        text        NOT NULL,
        data        jsonb       NOT NULL,
        metadata    jsonb       NOT NULL,
        hash        text        NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream_id, revision)
      );
      CREATE INDEX events_category_position ON ${s}.events (category, position);
      CREATE INDEX events_type_position ON ${s}.events (type, position);
      CREATE TABLE ${s}.checkpoints (
        consumer_id text        PRIMARY KEY,
        position    bigint      NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      -- History is never edited: corrections are new events.
      CREATE FUNCTION ${s}.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'P0001';
      END $$;
      CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
        FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_event_change();
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ${s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_event_change();
    `,
  },
  {
    version: 2,
    name: 'append_to_streams: a whole append in one statement',
    // One round trip per append instead of four (bench/append measured the difference). Mirrors
    // the kernel exactly: expectations as expectationHolds, hashes as chainHash (the adapter
    // passes the canonical body split around the revision, see chainBodyParts). Heads are
    // locked or created in "C" order of stream id, so concurrent appends never deadlock; every
    // expectation is checked before anything is written; a conflict raises LX409 with the
    // stream and its actual state, and the statement (and its transaction) writes nothing.
    sql: (s) => `
      CREATE FUNCTION ${s}.append_to_streams(
        p_stream_ids text[], p_categories text[], p_expected text[], p_event_counts int[],
        p_event_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[],
        p_before_revision text[], p_after_revision text[]
      ) RETURNS TABLE (r_stream_id text, r_revision bigint, r_position bigint, r_recorded_at timestamptz)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_xid bigint := pg_current_xact_id()::text::bigint;
        v_next bigint;
        v_limit bigint;
        v_head_ids text[];
        v_head_revisions bigint[];
        v_head_hashes text[];
        v_positions bigint[] := '{}';
        v_streams text[] := '{}';
        v_revisions bigint[] := '{}';
        v_categories text[] := '{}';
        v_hashes text[] := '{}';
        v_last_revisions bigint[] := '{}';
        v_last_hashes text[] := '{}';
        v_event int := 0;
        v_head int;
        v_revision bigint;
        v_hash text;
        v_expected text;
      BEGIN
        WITH locked AS (
          INSERT INTO ${s}.streams AS st (stream_id, revision, last_hash)
          SELECT u.id, -1, '' FROM unnest(p_stream_ids) AS u(id) ORDER BY u.id COLLATE "C"
          ON CONFLICT (stream_id) DO UPDATE SET revision = st.revision
          RETURNING st.stream_id, st.revision, st.last_hash
        )
        SELECT array_agg(l.stream_id), array_agg(l.revision), array_agg(l.last_hash)
          INTO v_head_ids, v_head_revisions, v_head_hashes FROM locked l;

        -- Positions: transaction id × 2^16 + index, continuing after earlier appends of this transaction.
        v_limit := (v_xid + 1) * 65536;
        SELECT coalesce(max(e.position) + 1, v_xid * 65536) INTO v_next FROM ${s}.events e
         WHERE e.position >= v_xid * 65536 AND e.position < v_limit;

        FOR i IN 1 .. array_length(p_stream_ids, 1) LOOP
          v_head := array_position(v_head_ids, p_stream_ids[i]);
          v_revision := v_head_revisions[v_head];
          v_expected := p_expected[i];
          IF NOT (v_expected = 'any'
               OR (v_expected = 'no_stream' AND v_revision < 0)
               OR (v_expected = 'stream_exists' AND v_revision >= 0)
               OR (v_expected ~ '^[0-9]+$' AND v_revision = v_expected::bigint)) THEN
            RAISE EXCEPTION USING ERRCODE = 'LX409', MESSAGE = 'wrong expected version',
              DETAIL = json_build_object('streamId', p_stream_ids[i],
                'actual', CASE WHEN v_revision < 0 THEN 'no_stream' ELSE v_revision::text END)::text;
          END IF;
          v_hash := CASE WHEN v_revision < 0 THEN '' ELSE v_head_hashes[v_head] END;
          FOR j IN 1 .. p_event_counts[i] LOOP
            IF v_next >= v_limit THEN
              RAISE EXCEPTION USING ERRCODE = 'LX413', MESSAGE = 'more than 65536 events in one transaction';
            END IF;
            v_event := v_event + 1;
            v_revision := v_revision + 1;
            v_hash := encode(sha256(convert_to(
              v_hash || E'\\n' || p_before_revision[v_event] || v_revision::text || p_after_revision[v_event], 'UTF8')), 'hex');
            v_positions[v_event] := v_next;
            v_streams[v_event] := p_stream_ids[i];
            v_revisions[v_event] := v_revision;
            v_categories[v_event] := p_categories[i];
            v_hashes[v_event] := v_hash;
            v_next := v_next + 1;
          END LOOP;
          v_last_revisions[i] := v_revision;
          v_last_hashes[i] := v_hash;
          r_stream_id := p_stream_ids[i];
          r_revision := v_revision;
          r_position := v_next - 1;
          r_recorded_at := now();
          RETURN NEXT;
        END LOOP;

        INSERT INTO ${s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
        SELECT * FROM unnest(v_positions, p_event_ids, v_streams, v_revisions, v_categories, p_types, p_data, p_metadata, v_hashes);
        UPDATE ${s}.streams AS st SET revision = u.revision, last_hash = u.hash
          FROM unnest(p_stream_ids, v_last_revisions, v_last_hashes) AS u(stream_id, revision, hash)
         WHERE st.stream_id = u.stream_id;
      END
      $fn$;
    `,
  },
  {
    version: 3,
    name: 'append_batch: independent appends in one statement, conflicts skipped',
    // Group commit (ADR 0002, "Batches"). Generalises append_to_streams to many independent
    // requests: the heads of ALL requests are locked or created once, in "C" order of stream id
    // (so a batch never deadlocks with another batch or append); requests are then walked in
    // order with the heads held in local variables, so each request's expectations are checked
    // against the state the requests before it left. A request whose expectation fails, or one
    // of whose event ids is already in the table or was written by an earlier request of the
    // batch, is skipped and reported; nothing of it is written. Accepted events are inserted with
    // one INSERT, dirty heads updated with one UPDATE, and heads this statement created but no
    // accepted request wrote (revision still -1) are deleted, so a skipped request leaves no
    // trace. Positions continue after earlier appends of the same transaction, as in
    // append_to_streams. Result rows, in request order: per written stream write
    // ('ok', stream, revision, position); per skipped request one row ('conflict', stream, NULL,
    // NULL, actual state) or ('duplicate', NULL, NULL, NULL, event id).
    // A duplicate id inserted by a transaction still running when this one looks is not seen by
    // the lookup; the INSERT then waits for it and fails (23505) if it commits, and the adapter
    // runs the statement again, which then sees it.
    sql: (s) => `
      CREATE FUNCTION ${s}.append_batch(
        p_write_counts int[],
        p_stream_ids text[], p_categories text[], p_expected text[], p_event_counts int[],
        p_event_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[],
        p_before_revision text[], p_after_revision text[],
        p_shared_ids uuid[]
      ) RETURNS TABLE (r_request int, r_status text, r_stream_id text, r_revision bigint, r_position bigint, r_detail text)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_xid bigint := pg_current_xact_id()::text::bigint;
        v_event_total int := coalesce(array_length(p_event_ids, 1), 0);
        v_next bigint;
        v_limit bigint;
        v_head_ids text[];
        v_head_revisions bigint[];
        v_head_hashes text[];
        v_head_written boolean[];
        v_write_heads int[];
        v_existing uuid[];
        v_claimed uuid[] := '{}';
        v_check_ids boolean;
        v_positions bigint[] := array_fill(NULL::bigint, ARRAY[v_event_total]);
        v_streams text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_revisions bigint[] := array_fill(NULL::bigint, ARRAY[v_event_total]);
        v_categories text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_hashes text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_write int := 0;
        v_event int := 0;
        v_request_events int;
        v_refused boolean;
        v_skipped boolean := false;
        v_duplicate uuid;
        v_head int;
        v_revision bigint;
        v_hash text;
        v_expected text;
      BEGIN
        WITH locked AS (
          INSERT INTO ${s}.streams AS st (stream_id, revision, last_hash)
          SELECT d.id, -1, '' FROM (SELECT DISTINCT u.id FROM unnest(p_stream_ids) AS u(id)) d ORDER BY d.id COLLATE "C"
          ON CONFLICT (stream_id) DO UPDATE SET revision = st.revision
          RETURNING st.stream_id, st.revision, st.last_hash
        ), heads AS (
          SELECT l.stream_id, l.revision, l.last_hash, (row_number() OVER ())::int AS head FROM locked l
        )
        SELECT (SELECT array_agg(h.stream_id ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.revision ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.last_hash ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.head ORDER BY w.ord)
                  FROM unnest(p_stream_ids) WITH ORDINALITY AS w(id, ord) JOIN heads h ON h.stream_id = w.id)
          INTO v_head_ids, v_head_revisions, v_head_hashes, v_write_heads;
        v_head_written := array_fill(false, ARRAY[array_length(v_head_ids, 1)]);

        -- One lookup for every id of the batch already in the log.
        SELECT array_agg(e.event_id) INTO v_existing FROM ${s}.events e WHERE e.event_id = ANY(p_event_ids);
        v_check_ids := v_existing IS NOT NULL OR cardinality(p_shared_ids) > 0;

        -- Positions: transaction id × 2^16 + index, continuing after earlier appends of this transaction.
        v_limit := (v_xid + 1) * 65536;
        SELECT coalesce(max(e.position) + 1, v_xid * 65536) INTO v_next FROM ${s}.events e
         WHERE e.position >= v_xid * 65536 AND e.position < v_limit;

        FOR r IN 1 .. coalesce(array_length(p_write_counts, 1), 0) LOOP
          v_refused := false;
          v_request_events := 0;
          -- Expectations, in the request's order, against the heads as the earlier requests left them.
          FOR w IN v_write + 1 .. v_write + p_write_counts[r] LOOP
            v_request_events := v_request_events + p_event_counts[w];
            CONTINUE WHEN v_refused;
            v_revision := v_head_revisions[v_write_heads[w]];
            v_expected := p_expected[w];
            IF NOT (v_expected = 'any'
                 OR (v_expected = 'no_stream' AND v_revision < 0)
                 OR (v_expected = 'stream_exists' AND v_revision >= 0)
                 OR (v_expected ~ '^[0-9]+$' AND v_revision = v_expected::bigint)) THEN
              v_refused := true;
              r_request := r; r_status := 'conflict'; r_stream_id := p_stream_ids[w]; r_revision := NULL; r_position := NULL;
              r_detail := CASE WHEN v_revision < 0 THEN 'no_stream' ELSE v_revision::text END;
              RETURN NEXT;
            END IF;
          END LOOP;
          -- Event ids already in the log, or written by an earlier request of this batch.
          IF NOT v_refused AND v_check_ids THEN
            SELECT u.id INTO v_duplicate
              FROM unnest(p_event_ids[v_event + 1 : v_event + v_request_events]) WITH ORDINALITY AS u(id, ord)
             WHERE u.id = ANY(v_existing) OR u.id = ANY(v_claimed)
             ORDER BY u.ord LIMIT 1;
            IF FOUND THEN
              v_refused := true;
              r_request := r; r_status := 'duplicate'; r_stream_id := NULL; r_revision := NULL; r_position := NULL;
              r_detail := v_duplicate::text;
              RETURN NEXT;
            END IF;
          END IF;

          IF v_refused THEN
            v_skipped := true;
            v_event := v_event + v_request_events;
          ELSE
            IF cardinality(p_shared_ids) > 0 THEN
              v_claimed := v_claimed || ARRAY(SELECT u.id FROM unnest(p_event_ids[v_event + 1 : v_event + v_request_events]) AS u(id)
                                                WHERE u.id = ANY(p_shared_ids));
            END IF;
            FOR w IN v_write + 1 .. v_write + p_write_counts[r] LOOP
              v_head := v_write_heads[w];
              v_revision := v_head_revisions[v_head];
              v_hash := CASE WHEN v_revision < 0 THEN '' ELSE v_head_hashes[v_head] END;
              FOR j IN 1 .. p_event_counts[w] LOOP
                IF v_next >= v_limit THEN
                  RAISE EXCEPTION USING ERRCODE = 'LX413', MESSAGE = 'more than 65536 events in one transaction';
                END IF;
                v_event := v_event + 1;
                v_revision := v_revision + 1;
                v_hash := encode(sha256(convert_to(
                  v_hash || E'\\n' || p_before_revision[v_event] || v_revision::text || p_after_revision[v_event], 'UTF8')), 'hex');
                v_positions[v_event] := v_next;
                v_streams[v_event] := p_stream_ids[w];
                v_revisions[v_event] := v_revision;
                v_categories[v_event] := p_categories[w];
                v_hashes[v_event] := v_hash;
                v_next := v_next + 1;
              END LOOP;
              v_head_revisions[v_head] := v_revision;
              v_head_hashes[v_head] := v_hash;
              v_head_written[v_head] := true;
              r_request := r; r_status := 'ok'; r_stream_id := p_stream_ids[w]; r_revision := v_revision;
              r_position := v_next - 1; r_detail := NULL;
              RETURN NEXT;
            END LOOP;
          END IF;
          v_write := v_write + p_write_counts[r];
        END LOOP;

        INSERT INTO ${s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
        SELECT u.position, u.event_id, u.stream_id, u.revision, u.category, u.type, u.data, u.metadata, u.hash
          FROM unnest(v_positions, p_event_ids, v_streams, v_revisions, v_categories, p_types, p_data, p_metadata, v_hashes)
               AS u(position, event_id, stream_id, revision, category, type, data, metadata, hash)
         WHERE u.position IS NOT NULL;
        UPDATE ${s}.streams AS st SET revision = u.revision, last_hash = u.hash
          FROM unnest(v_head_ids, v_head_revisions, v_head_hashes, v_head_written) AS u(stream_id, revision, hash, written)
         WHERE u.written AND st.stream_id = u.stream_id;
        IF v_skipped THEN
          -- Heads this statement created for requests it then skipped: no placeholder may outlive it.
          DELETE FROM ${s}.streams AS st
           USING unnest(v_head_ids, v_head_revisions) AS u(stream_id, revision)
           WHERE u.revision < 0 AND st.stream_id = u.stream_id;
        END IF;
      END
      $fn$;
    `,
  },
  {
    version: 4,
    name: 'append_batch_packed: event texts sent once, hashed body built in SQL',
    // The same decisions as append_batch (migration 3), with the event payload sent once: every
    // event's canonical data and metadata JSON joined by U+0001 into one text parameter each
    // (canonical JSON escapes every control character, so U+0001 never occurs inside it), where
    // append_batch took them as jsonb[] and again inside the hashed body text. The driver no longer
    // escapes each payload as an array element, and the statement carries half the bytes.
    // The hashed body is built here by event_hash, byte for byte what chainHash (hash-chain.ts)
    // hashes; to_json quotes a text exactly as JSON.stringify does for the characters stream ids
    // and event types may hold. append_batch stays for instances of the previous release.
    sql: (s) => `
      CREATE FUNCTION ${s}.event_hash(
        p_previous text, p_stream_id text, p_revision bigint, p_event_id uuid, p_type text, p_data text, p_metadata text
      ) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
        SELECT encode(sha256(convert_to(
          p_previous || E'\\n' || '{"data":' || p_data || ',"id":"' || p_event_id::text || '","metadata":' || p_metadata
            || ',"revision":"' || p_revision::text || '","streamId":' || to_json(p_stream_id)::text
            || ',"type":' || to_json(p_type)::text || '}',
          'UTF8')), 'hex')
      $fn$;

      CREATE FUNCTION ${s}.append_batch_packed(
        p_write_counts int[],
        p_stream_ids text[], p_categories text[], p_expected text[], p_event_counts int[],
        p_event_ids uuid[], p_types text[], p_packed_data text, p_packed_metadata text,
        p_shared_ids uuid[]
      ) RETURNS TABLE (r_request int, r_status text, r_stream_id text, r_revision bigint, r_position bigint, r_detail text)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_xid bigint := pg_current_xact_id()::text::bigint;
        v_event_total int := coalesce(array_length(p_event_ids, 1), 0);
        v_next bigint;
        v_limit bigint;
        v_head_ids text[];
        v_head_revisions bigint[];
        v_head_hashes text[];
        v_head_written boolean[];
        v_write_heads int[];
        v_existing uuid[];
        v_claimed uuid[] := '{}';
        v_check_ids boolean;
        v_positions bigint[] := array_fill(NULL::bigint, ARRAY[v_event_total]);
        v_streams text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_revisions bigint[] := array_fill(NULL::bigint, ARRAY[v_event_total]);
        v_categories text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_hashes text[] := array_fill(NULL::text, ARRAY[v_event_total]);
        v_write int := 0;
        v_event int := 0;
        v_request_events int;
        v_refused boolean;
        v_skipped boolean := false;
        v_duplicate uuid;
        v_head int;
        v_revision bigint;
        v_hash text;
        v_expected text;
        v_data text[] := string_to_array(p_packed_data, chr(1));
        v_metadata text[] := string_to_array(p_packed_metadata, chr(1));
      BEGIN
        IF coalesce(array_length(v_data, 1), 0) <> v_event_total OR coalesce(array_length(v_metadata, 1), 0) <> v_event_total THEN
          RAISE EXCEPTION 'append_batch_packed: % event ids but % data and % metadata texts',
            v_event_total, coalesce(array_length(v_data, 1), 0), coalesce(array_length(v_metadata, 1), 0);
        END IF;
        WITH locked AS (
          INSERT INTO ${s}.streams AS st (stream_id, revision, last_hash)
          SELECT d.id, -1, '' FROM (SELECT DISTINCT u.id FROM unnest(p_stream_ids) AS u(id)) d ORDER BY d.id COLLATE "C"
          ON CONFLICT (stream_id) DO UPDATE SET revision = st.revision
          RETURNING st.stream_id, st.revision, st.last_hash
        ), heads AS (
          SELECT l.stream_id, l.revision, l.last_hash, (row_number() OVER ())::int AS head FROM locked l
        )
        SELECT (SELECT array_agg(h.stream_id ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.revision ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.last_hash ORDER BY h.head) FROM heads h),
               (SELECT array_agg(h.head ORDER BY w.ord)
                  FROM unnest(p_stream_ids) WITH ORDINALITY AS w(id, ord) JOIN heads h ON h.stream_id = w.id)
          INTO v_head_ids, v_head_revisions, v_head_hashes, v_write_heads;
        v_head_written := array_fill(false, ARRAY[array_length(v_head_ids, 1)]);

        -- One lookup for every id of the batch already in the log.
        SELECT array_agg(e.event_id) INTO v_existing FROM ${s}.events e WHERE e.event_id = ANY(p_event_ids);
        v_check_ids := v_existing IS NOT NULL OR cardinality(p_shared_ids) > 0;

        -- Positions: transaction id × 2^16 + index, continuing after earlier appends of this transaction.
        v_limit := (v_xid + 1) * 65536;
        SELECT coalesce(max(e.position) + 1, v_xid * 65536) INTO v_next FROM ${s}.events e
         WHERE e.position >= v_xid * 65536 AND e.position < v_limit;

        FOR r IN 1 .. coalesce(array_length(p_write_counts, 1), 0) LOOP
          v_refused := false;
          v_request_events := 0;
          -- Expectations, in the request's order, against the heads as the earlier requests left them.
          FOR w IN v_write + 1 .. v_write + p_write_counts[r] LOOP
            v_request_events := v_request_events + p_event_counts[w];
            CONTINUE WHEN v_refused;
            v_revision := v_head_revisions[v_write_heads[w]];
            v_expected := p_expected[w];
            IF NOT (v_expected = 'any'
                 OR (v_expected = 'no_stream' AND v_revision < 0)
                 OR (v_expected = 'stream_exists' AND v_revision >= 0)
                 OR (v_expected ~ '^[0-9]+$' AND v_revision = v_expected::bigint)) THEN
              v_refused := true;
              r_request := r; r_status := 'conflict'; r_stream_id := p_stream_ids[w]; r_revision := NULL; r_position := NULL;
              r_detail := CASE WHEN v_revision < 0 THEN 'no_stream' ELSE v_revision::text END;
              RETURN NEXT;
            END IF;
          END LOOP;
          -- Event ids already in the log, or written by an earlier request of this batch.
          IF NOT v_refused AND v_check_ids THEN
            SELECT u.id INTO v_duplicate
              FROM unnest(p_event_ids[v_event + 1 : v_event + v_request_events]) WITH ORDINALITY AS u(id, ord)
             WHERE u.id = ANY(v_existing) OR u.id = ANY(v_claimed)
             ORDER BY u.ord LIMIT 1;
            IF FOUND THEN
              v_refused := true;
              r_request := r; r_status := 'duplicate'; r_stream_id := NULL; r_revision := NULL; r_position := NULL;
              r_detail := v_duplicate::text;
              RETURN NEXT;
            END IF;
          END IF;

          IF v_refused THEN
            v_skipped := true;
            v_event := v_event + v_request_events;
          ELSE
            IF cardinality(p_shared_ids) > 0 THEN
              v_claimed := v_claimed || ARRAY(SELECT u.id FROM unnest(p_event_ids[v_event + 1 : v_event + v_request_events]) AS u(id)
                                                WHERE u.id = ANY(p_shared_ids));
            END IF;
            FOR w IN v_write + 1 .. v_write + p_write_counts[r] LOOP
              v_head := v_write_heads[w];
              v_revision := v_head_revisions[v_head];
              v_hash := CASE WHEN v_revision < 0 THEN '' ELSE v_head_hashes[v_head] END;
              FOR j IN 1 .. p_event_counts[w] LOOP
                IF v_next >= v_limit THEN
                  RAISE EXCEPTION USING ERRCODE = 'LX413', MESSAGE = 'more than 65536 events in one transaction';
                END IF;
                v_event := v_event + 1;
                v_revision := v_revision + 1;
                v_hash := ${s}.event_hash(v_hash, p_stream_ids[w], v_revision, p_event_ids[v_event], p_types[v_event],
                                          v_data[v_event], v_metadata[v_event]);
                v_positions[v_event] := v_next;
                v_streams[v_event] := p_stream_ids[w];
                v_revisions[v_event] := v_revision;
                v_categories[v_event] := p_categories[w];
                v_hashes[v_event] := v_hash;
                v_next := v_next + 1;
              END LOOP;
              v_head_revisions[v_head] := v_revision;
              v_head_hashes[v_head] := v_hash;
              v_head_written[v_head] := true;
              r_request := r; r_status := 'ok'; r_stream_id := p_stream_ids[w]; r_revision := v_revision;
              r_position := v_next - 1; r_detail := NULL;
              RETURN NEXT;
            END LOOP;
          END IF;
          v_write := v_write + p_write_counts[r];
        END LOOP;

        INSERT INTO ${s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
        SELECT u.position, u.event_id, u.stream_id, u.revision, u.category, u.type, u.data::jsonb, u.metadata::jsonb, u.hash
          FROM unnest(v_positions, p_event_ids, v_streams, v_revisions, v_categories, p_types, v_data, v_metadata, v_hashes)
               AS u(position, event_id, stream_id, revision, category, type, data, metadata, hash)
         WHERE u.position IS NOT NULL;
        UPDATE ${s}.streams AS st SET revision = u.revision, last_hash = u.hash
          FROM unnest(v_head_ids, v_head_revisions, v_head_hashes, v_head_written) AS u(stream_id, revision, hash, written)
         WHERE u.written AND st.stream_id = u.stream_id;
        IF v_skipped THEN
          -- Heads this statement created for requests it then skipped: no placeholder may outlive it.
          DELETE FROM ${s}.streams AS st
           USING unnest(v_head_ids, v_head_revisions) AS u(stream_id, revision)
           WHERE u.revision < 0 AND st.stream_id = u.stream_id;
        END IF;
      END
      $fn$;
    `,
  },
];

/**
 * Applies pending migrations in one transaction under an advisory lock, so several service
 * instances booting together migrate once. Safe to call on every start.
 */
export async function migrateEventStore(pool: Pool, schema: string): Promise<number[]> {
  assertSchemaName(schema);
  return applyMigrations(pool, { schema, historyTable: 'schema_migrations', lockName: 'event-store-migrations', migrations: EVENT_STORE_MIGRATIONS });
}
