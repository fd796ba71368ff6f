-- noetl_vars: variable watch (docs/watch.md). Subscriptions say which changes of execution
-- variables to send where; the change trigger writes each change a subscription matches to the
-- outbox in the changing transaction; a delivery worker (python -m noetl_vars.watch) claims
-- outbox rows one at a time and marks them delivered, retried or dead.

CREATE TABLE noetl.watches (
    watch_id       pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            pg_catalog.text,
    channel        pg_catalog.text,
    headers        pg_catalog.jsonb       NOT NULL DEFAULT '{}',
    signing_secret pg_catalog.text        NOT NULL,
    execution_id   pg_catalog.int8,
    names          pg_catalog.text[],
    kinds          pg_catalog.text[]      NOT NULL DEFAULT ARRAY['set', 'delete', 'expire', 'cleanup'],
    include_values pg_catalog.text        NOT NULL DEFAULT 'new',
    max_attempts   pg_catalog.int4        NOT NULL DEFAULT 10,
    created_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT watches_target_check CHECK ((url IS NULL) OPERATOR(pg_catalog.<>) (channel IS NULL)),
    CONSTRAINT watches_url_check CHECK (url OPERATOR(pg_catalog.~) '^https?://[^/?#]'),
    CONSTRAINT watches_kinds_check CHECK (
        kinds OPERATOR(pg_catalog.<@) ARRAY['set', 'delete', 'expire', 'cleanup']::pg_catalog.text[]
        AND pg_catalog.cardinality(kinds) OPERATOR(pg_catalog.>) 0),
    CONSTRAINT watches_values_check CHECK (
        include_values OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'new', 'both']::pg_catalog.text[])),
    CONSTRAINT watches_attempts_check CHECK (max_attempts OPERATOR(pg_catalog.>=) 1)
);

-- No foreign key to noetl.watches: a writer must never fail because a watch it matched was
-- dropped a moment before. Rows of a dropped watch are deleted with it, never claimed, and
-- purged if one slips in.
CREATE TABLE noetl.watch_outbox (
    seq             pg_catalog.int8        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id        pg_catalog.int8        NOT NULL,
    execution_id    pg_catalog.int8        NOT NULL,
    var_name        pg_catalog.text        NOT NULL,
    kind            pg_catalog.text        NOT NULL,
    operation       pg_catalog.text        NOT NULL,
    old_value       pg_catalog.jsonb,
    new_value       pg_catalog.jsonb,
    changed_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    state           pg_catalog.text        NOT NULL DEFAULT 'pending',
    attempts        pg_catalog.int4        NOT NULL DEFAULT 0,
    next_attempt_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    delivered_at    pg_catalog.timestamptz,
    last_error      pg_catalog.text,
    CONSTRAINT watch_outbox_state_check CHECK (
        state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'delivered', 'dead']::pg_catalog.text[]))
);
CREATE INDEX watch_outbox_due ON noetl.watch_outbox (next_attempt_at, seq)
    WHERE state OPERATOR(pg_catalog.=) 'pending';
CREATE INDEX watch_outbox_watch ON noetl.watch_outbox (watch_id, state);

SELECT pg_catalog.pg_extension_config_dump('noetl.watches', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watches_watch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watch_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('noetl.watch_outbox_seq_seq', '');

-- Every session keeps the subscriptions in memory; a change to them tells every session to
-- read them again (a relation cache invalidation of noetl.watches, sent at commit).
CREATE FUNCTION noetl.watches_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'watches_changed_wrapper';

CREATE TRIGGER watches_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON noetl.watches
    FOR EACH STATEMENT EXECUTE FUNCTION noetl.watches_changed();

-- Subscribes to changes of execution variables; returns the watch's id and its signing secret
-- (shown here only: generated when not given).
CREATE FUNCTION noetl.watch(
    url pg_catalog.text DEFAULT NULL,
    channel pg_catalog.text DEFAULT NULL,
    execution_id pg_catalog.int8 DEFAULT NULL,
    names pg_catalog.text[] DEFAULT NULL,
    kinds pg_catalog.text[] DEFAULT ARRAY['set', 'delete', 'expire', 'cleanup'],
    include_values pg_catalog.text DEFAULT 'new',
    headers pg_catalog.jsonb DEFAULT '{}',
    signing_secret pg_catalog.text DEFAULT NULL,
    max_attempts pg_catalog.int4 DEFAULT 10)
RETURNS pg_catalog.jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    bad pg_catalog.text;
    secret pg_catalog.text := signing_secret;
    id pg_catalog.int8;
BEGIN
    IF (url IS NULL) OPERATOR(pg_catalog.=) (channel IS NULL) THEN
        RAISE EXCEPTION 'a watch needs exactly one target: url or channel'
            USING ERRCODE = '22023', HINT = 'noetl.watch(url => ''https://…'') or noetl.watch(channel => ''…'')';
    END IF;
    IF url IS NOT NULL AND url OPERATOR(pg_catalog.!~) '^https?://[^/?#]' THEN
        RAISE EXCEPTION 'url must be an http:// or https:// URL with a host'
            USING ERRCODE = '22023';
    END IF;
    IF channel IS NOT NULL AND (channel OPERATOR(pg_catalog.=) '' OR pg_catalog.octet_length(channel) OPERATOR(pg_catalog.>) 63) THEN
        RAISE EXCEPTION 'channel must be a name of 1 to 63 bytes'
            USING ERRCODE = '22023';
    END IF;
    IF names IS NOT NULL AND (pg_catalog.cardinality(names) OPERATOR(pg_catalog.=) 0 OR pg_catalog.array_position(names, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'names must be NULL (every name) or a non-empty array of patterns without NULLs'
            USING ERRCODE = '22023';
    END IF;
    SELECT k INTO bad FROM pg_catalog.unnest(kinds) k
    WHERE k IS NULL OR NOT k OPERATOR(pg_catalog.=) ANY (ARRAY['set', 'delete', 'expire', 'cleanup']::pg_catalog.text[])
    LIMIT 1;
    IF kinds IS NULL OR pg_catalog.cardinality(kinds) OPERATOR(pg_catalog.=) 0 OR FOUND THEN
        RAISE EXCEPTION 'kinds must name one or more of set, delete, expire and cleanup, not %', COALESCE(pg_catalog.quote_literal(bad), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF include_values IS NULL OR NOT include_values OPERATOR(pg_catalog.=) ANY (ARRAY['none', 'new', 'both']::pg_catalog.text[]) THEN
        RAISE EXCEPTION 'include_values must be none, new or both, not %', COALESCE(pg_catalog.quote_literal(include_values), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF headers IS NULL OR pg_catalog.jsonb_typeof(headers) OPERATOR(pg_catalog.<>) 'object'
       OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(headers) h WHERE pg_catalog.jsonb_typeof(h.value) OPERATOR(pg_catalog.<>) 'string') THEN
        RAISE EXCEPTION 'headers must be a JSON object of strings'
            USING ERRCODE = '22023';
    END IF;
    IF channel IS NOT NULL AND headers OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb THEN
        RAISE EXCEPTION 'headers are for a url target, not a channel'
            USING ERRCODE = '22023';
    END IF;
    IF max_attempts IS NULL OR max_attempts OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_attempts must be at least 1'
            USING ERRCODE = '22023';
    END IF;
    IF secret IS NULL THEN
        -- 244 random bits from the server's strong random source.
        secret := pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text, '-', '')
                  OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text, '-', '');
    ELSIF pg_catalog.octet_length(secret) OPERATOR(pg_catalog.<) 16 THEN
        RAISE EXCEPTION 'signing_secret must be at least 16 bytes'
            USING ERRCODE = '22023', HINT = 'leave it out and one is generated';
    END IF;
    INSERT INTO noetl.watches (url, channel, headers, signing_secret, execution_id, names, kinds, include_values, max_attempts)
    VALUES (watch.url, watch.channel, watch.headers, secret, watch.execution_id, watch.names, watch.kinds, watch.include_values, watch.max_attempts)
    RETURNING watches.watch_id INTO id;
    RETURN pg_catalog.jsonb_build_object('watch_id', id, 'signing_secret', secret);
END
$body$;

-- Drops a watch and what its outbox still holds; true when it existed.
CREATE FUNCTION noetl.unwatch(watch_id pg_catalog.int8)
RETURNS pg_catalog.bool
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    DELETE FROM noetl.watch_outbox o WHERE o.watch_id OPERATOR(pg_catalog.=) unwatch.watch_id;
    DELETE FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) unwatch.watch_id;
    RETURN FOUND;
END
$body$;

-- The next change due for delivery, locked for the caller's transaction (FOR UPDATE SKIP
-- LOCKED: concurrent workers never get the same row). Deliver it, then call watch_delivered or
-- watch_failed in the same transaction and commit. No row: nothing is due.
CREATE FUNCTION noetl.watch_claim()
RETURNS TABLE (seq pg_catalog.int8, watch_id pg_catalog.int8, url pg_catalog.text, channel pg_catalog.text,
               headers pg_catalog.jsonb, signing_secret pg_catalog.text, attempts pg_catalog.int4,
               max_attempts pg_catalog.int4, body pg_catalog.jsonb)
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    SELECT o.seq, o.watch_id, w.url, w.channel, w.headers, w.signing_secret, o.attempts, w.max_attempts,
           pg_catalog.jsonb_build_object(
               'event_id', o.seq, 'watch_id', o.watch_id, 'execution_id', o.execution_id,
               'name', o.var_name, 'kind', o.kind, 'operation', o.operation, 'changed_at', o.changed_at)
           OPERATOR(pg_catalog.||) CASE WHEN w.include_values OPERATOR(pg_catalog.=) 'none' THEN '{}'::pg_catalog.jsonb
                     ELSE pg_catalog.jsonb_build_object('new_value', o.new_value) END
           OPERATOR(pg_catalog.||) CASE WHEN w.include_values OPERATOR(pg_catalog.=) 'both'
                     THEN pg_catalog.jsonb_build_object('old_value', o.old_value) ELSE '{}'::pg_catalog.jsonb END
    FROM noetl.watch_outbox o
    JOIN noetl.watches w ON w.watch_id OPERATOR(pg_catalog.=) o.watch_id
    WHERE o.state OPERATOR(pg_catalog.=) 'pending'
      AND o.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()
    ORDER BY o.next_attempt_at, o.seq
    LIMIT 1
    FOR UPDATE OF o SKIP LOCKED
$body$;

-- Marks a claimed change delivered; false when it was not pending (already delivered).
CREATE FUNCTION noetl.watch_delivered(seq pg_catalog.int8)
RETURNS pg_catalog.bool
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    WITH done AS (
        UPDATE noetl.watch_outbox o
        SET state = 'delivered', delivered_at = pg_catalog.clock_timestamp(),
            attempts = o.attempts OPERATOR(pg_catalog.+) 1, last_error = NULL
        WHERE o.seq OPERATOR(pg_catalog.=) watch_delivered.seq AND o.state OPERATOR(pg_catalog.=) 'pending'
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM done)
$body$;

-- Records a failed attempt: due again after a backoff (2^attempts seconds, at most an hour),
-- or dead after the watch's max_attempts. Returns the row's state ('pending' or 'dead').
CREATE FUNCTION noetl.watch_failed(seq pg_catalog.int8, error pg_catalog.text)
RETURNS pg_catalog.text
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    UPDATE noetl.watch_outbox o
    SET attempts = o.attempts OPERATOR(pg_catalog.+) 1,
        last_error = pg_catalog.left(COALESCE(watch_failed.error, 'unknown error'), 1000),
        state = CASE WHEN o.attempts OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>=) COALESCE(
                         (SELECT w.max_attempts FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) o.watch_id), 1)
                     THEN 'dead' ELSE 'pending' END,
        next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) pg_catalog.make_interval(
            secs => LEAST(3600, pg_catalog.power(2, LEAST(o.attempts, 12)))::pg_catalog.float8)
    WHERE o.seq OPERATOR(pg_catalog.=) watch_failed.seq AND o.state OPERATOR(pg_catalog.=) 'pending'
    RETURNING o.state
$body$;

-- Dead changes of one watch (or of all) due again, with their attempts reset; how many.
CREATE FUNCTION noetl.watch_retry(watch_id pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
    WITH again AS (
        UPDATE noetl.watch_outbox o
        SET state = 'pending', attempts = 0, next_attempt_at = pg_catalog.clock_timestamp()
        WHERE o.state OPERATOR(pg_catalog.=) 'dead'
          AND (watch_retry.watch_id IS NULL OR o.watch_id OPERATOR(pg_catalog.=) watch_retry.watch_id)
        RETURNING 1
    )
    SELECT pg_catalog.count(*) FROM again
$body$;

-- Deletes delivered changes older than `older_than` (and dead ones too with include_dead, and
-- any of a dropped watch), at most `batch` per call; how many.
CREATE FUNCTION noetl.watch_purge(older_than pg_catalog.interval DEFAULT '7 days',
                                  include_dead pg_catalog.bool DEFAULT false,
                                  batch pg_catalog.int4 DEFAULT 10000)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    purged pg_catalog.int8;
BEGIN
    IF older_than IS NULL OR batch IS NULL OR batch OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'older_than must be an interval and batch a positive number of rows'
            USING ERRCODE = '22023';
    END IF;
    WITH doomed AS (
        SELECT o.seq FROM noetl.watch_outbox o
        WHERE NOT EXISTS (SELECT 1 FROM noetl.watches w WHERE w.watch_id OPERATOR(pg_catalog.=) o.watch_id)
           OR (o.state OPERATOR(pg_catalog.=) 'delivered'
               AND o.delivered_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than))
           OR (include_dead AND o.state OPERATOR(pg_catalog.=) 'dead'
               AND o.changed_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than))
        ORDER BY o.seq
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM noetl.watch_outbox o USING doomed d WHERE o.seq OPERATOR(pg_catalog.=) d.seq RETURNING 1
    )
    SELECT pg_catalog.count(*) INTO purged FROM gone;
    RETURN purged;
END
$body$;

-- What each watch is and how far its delivery is: never its headers' values, its signing
-- secret, or the credentials or query of its URL.
CREATE VIEW noetl.watch_status AS
SELECT w.watch_id,
       CASE WHEN w.url IS NOT NULL
            THEN pg_catalog.regexp_replace(w.url, '^([A-Za-z]+://)([^/?#@]*@)?([^?#]*).*$', '\1\3')
            ELSE 'channel:' OPERATOR(pg_catalog.||) w.channel END AS target,
       w.execution_id, w.names, w.kinds, w.include_values,
       ARRAY(SELECT pg_catalog.jsonb_object_keys(w.headers) ORDER BY 1) AS header_names,
       COALESCE(s.pending, 0) AS pending,
       COALESCE(s.delivered, 0) AS delivered,
       COALESCE(s.dead, 0) AS dead,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) s.oldest_pending AS lag,
       s.last_delivered_at,
       (SELECT o.last_error FROM noetl.watch_outbox o
        WHERE o.watch_id OPERATOR(pg_catalog.=) w.watch_id AND o.last_error IS NOT NULL
        ORDER BY o.seq DESC LIMIT 1) AS last_error,
       w.created_at
FROM noetl.watches w
LEFT JOIN LATERAL (
    SELECT pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'pending') AS pending,
           pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'delivered') AS delivered,
           pg_catalog.count(*) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'dead') AS dead,
           pg_catalog.min(o.changed_at) FILTER (WHERE o.state OPERATOR(pg_catalog.=) 'pending') AS oldest_pending,
           pg_catalog.max(o.delivered_at) AS last_delivered_at
    FROM noetl.watch_outbox o
    WHERE o.watch_id OPERATOR(pg_catalog.=) w.watch_id
) s ON true;

REVOKE ALL ON TABLE noetl.watches, noetl.watch_outbox, noetl.watch_status FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    noetl.watch(pg_catalog.text, pg_catalog.text, pg_catalog.int8, pg_catalog.text[], pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4),
    noetl.unwatch(pg_catalog.int8),
    noetl.watch_claim(),
    noetl.watch_delivered(pg_catalog.int8),
    noetl.watch_failed(pg_catalog.int8, pg_catalog.text),
    noetl.watch_retry(pg_catalog.int8),
    noetl.watch_purge(pg_catalog.interval, pg_catalog.bool, pg_catalog.int4),
    noetl.watches_changed()
FROM PUBLIC;

COMMENT ON TABLE noetl.watches IS
    'Subscriptions to changes of execution variables (noetl.watch, noetl.unwatch). Readable by the extension''s owner only: it holds signing secrets and headers; operators read noetl.watch_status.';
COMMENT ON COLUMN noetl.watches.watch_id IS 'The watch''s id, in every delivered body as watch_id.';
COMMENT ON COLUMN noetl.watches.url IS 'The webhook the delivery worker POSTs each change to (or NULL with a channel).';
COMMENT ON COLUMN noetl.watches.channel IS 'The NOTIFY channel the delivery worker sends each change on (or NULL with a url).';
COMMENT ON COLUMN noetl.watches.headers IS 'Extra HTTP headers of each POST (e.g. Authorization); never shown by noetl.watch_status.';
COMMENT ON COLUMN noetl.watches.signing_secret IS 'Key of the HMAC-SHA256 signature header of each delivery.';
COMMENT ON COLUMN noetl.watches.execution_id IS 'The execution watched; NULL: every execution.';
COMMENT ON COLUMN noetl.watches.names IS 'Name patterns watched (* any run of characters, ? one); NULL: every name.';
COMMENT ON COLUMN noetl.watches.kinds IS 'Kinds of change watched: set, delete, expire, cleanup.';
COMMENT ON COLUMN noetl.watches.include_values IS 'Values each change carries: none, new, or both (old and new); credentials always redacted.';
COMMENT ON COLUMN noetl.watches.max_attempts IS 'Attempts before a change is dead (left for noetl.watch_retry).';
COMMENT ON COLUMN noetl.watches.created_at IS 'When the watch was made.';
COMMENT ON TABLE noetl.watch_outbox IS
    'Changes that watches matched, written in the changing transaction; claimed, delivered and marked by the delivery worker, purged by noetl.watch_purge. Rows survive pg_dump/restore.';
COMMENT ON COLUMN noetl.watch_outbox.seq IS 'Order of capture; the event_id of the delivered body and its idempotency key.';
COMMENT ON COLUMN noetl.watch_outbox.watch_id IS 'The watch that matched.';
COMMENT ON COLUMN noetl.watch_outbox.execution_id IS 'The execution of the changed variable.';
COMMENT ON COLUMN noetl.watch_outbox.var_name IS 'The changed variable.';
COMMENT ON COLUMN noetl.watch_outbox.kind IS 'set, delete, expire or cleanup.';
COMMENT ON COLUMN noetl.watch_outbox.operation IS 'The row operation: insert, update or delete.';
COMMENT ON COLUMN noetl.watch_outbox.old_value IS 'The value before (include_values both), credentials redacted.';
COMMENT ON COLUMN noetl.watch_outbox.new_value IS 'The value after (include_values new or both), credentials redacted.';
COMMENT ON COLUMN noetl.watch_outbox.changed_at IS 'When the change was captured.';
COMMENT ON COLUMN noetl.watch_outbox.state IS 'pending (due at next_attempt_at), delivered, or dead (max_attempts failed).';
COMMENT ON COLUMN noetl.watch_outbox.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN noetl.watch_outbox.next_attempt_at IS 'When a pending change is due.';
COMMENT ON COLUMN noetl.watch_outbox.delivered_at IS 'When it was delivered.';
COMMENT ON COLUMN noetl.watch_outbox.last_error IS 'Why the last attempt failed.';
COMMENT ON INDEX noetl.watch_outbox_due IS 'Pending changes by when they are due: what noetl.watch_claim reads.';
COMMENT ON INDEX noetl.watch_outbox_watch IS 'Changes by watch and state: noetl.watch_status and noetl.unwatch.';
COMMENT ON CONSTRAINT watches_target_check ON noetl.watches IS 'Exactly one of url and channel.';
COMMENT ON CONSTRAINT watches_url_check ON noetl.watches IS 'An http:// or https:// URL with a host.';
COMMENT ON CONSTRAINT watches_kinds_check ON noetl.watches IS 'One or more of set, delete, expire, cleanup.';
COMMENT ON CONSTRAINT watches_values_check ON noetl.watches IS 'none, new or both.';
COMMENT ON CONSTRAINT watches_attempts_check ON noetl.watches IS 'At least one attempt.';
COMMENT ON CONSTRAINT watch_outbox_state_check ON noetl.watch_outbox IS 'pending, delivered or dead.';
COMMENT ON VIEW noetl.watch_status IS
    'Each watch, its target (without credentials or query), header names, and its delivery: pending, delivered and dead changes, lag of the oldest pending one, last delivery, last error.';
COMMENT ON FUNCTION noetl.watches_changed() IS
    'Trigger of noetl.watches: every session reads the subscriptions again after a change to them commits.';
COMMENT ON TRIGGER watches_changed ON noetl.watches IS 'Tells every session the subscriptions changed.';
COMMENT ON FUNCTION noetl.watch(pg_catalog.text, pg_catalog.text, pg_catalog.int8, pg_catalog.text[], pg_catalog.text[], pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4) IS
    'Subscribes a webhook (url) or a NOTIFY channel to changes of execution variables: one execution or all, name patterns, kinds. Returns {"watch_id", "signing_secret"}; the secret is shown only here.';
COMMENT ON FUNCTION noetl.unwatch(pg_catalog.int8) IS 'Drops a watch and its undelivered changes; true when it existed.';
COMMENT ON FUNCTION noetl.watch_claim() IS
    'For the delivery worker: the next due change with its target, headers, signing secret and body, locked FOR UPDATE SKIP LOCKED for the caller''s transaction; no row when none is due.';
COMMENT ON FUNCTION noetl.watch_delivered(pg_catalog.int8) IS 'For the delivery worker: marks a claimed change delivered.';
COMMENT ON FUNCTION noetl.watch_failed(pg_catalog.int8, pg_catalog.text) IS
    'For the delivery worker: records a failed attempt; the change is due again after a backoff, or dead after max_attempts. Returns the new state.';
COMMENT ON FUNCTION noetl.watch_retry(pg_catalog.int8) IS 'Makes the dead changes of a watch (or of all watches) due again; how many.';
COMMENT ON FUNCTION noetl.watch_purge(pg_catalog.interval, pg_catalog.bool, pg_catalog.int4) IS
    'Deletes delivered changes older than older_than (dead ones too with include_dead), at most batch per call; how many.';
