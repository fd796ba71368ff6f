-- In-server measurements for bench/run.py: procedures that time N calls, committing after
-- each one (as a NoETL step commits), so neither client round trips nor version chains inside
-- one long transaction distort the per-call time. The result of the last measurement is in
-- bench_last.per_call_us.

CREATE TABLE IF NOT EXISTS bench_results (label text PRIMARY KEY, r jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_last (per_call_us float8);

CREATE OR REPLACE PROCEDURE bench_record(started timestamptz, calls int) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM bench_last;
    INSERT INTO bench_last VALUES (extract(epoch FROM clock_timestamp() - started) * 1e6 / calls);
END
$$;

-- Per-call time of a block reading three fields of a result of the given size.
CREATE OR REPLACE PROCEDURE bench_result_size(kind text, size_label text, calls int) LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    cfg jsonb := '{"first_id": "{{ result.rows[0].id }}", "last_id": "{{ result.rows[-1].id }}", "total": "{{ result.total }}"}';
    started timestamptz;
BEGIN
    -- Fetched and decompressed once, as an argument arrives in memory.
    SELECT b.r || '{}' INTO r FROM bench_results b WHERE b.label = size_label;
    started := clock_timestamp();
    FOR i IN 1..calls LOOP
        IF kind = 'render_vars' THEN
            PERFORM noetl.render_vars(1000000 + i, 'scale', r, cfg);
        ELSIF kind = 'baseline_b_native' THEN
            INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
            SELECT 2000000 + i, e.key, 'step_result', e.value, 'scale'
            FROM jsonb_each(jsonb_build_object('first_id', r->'data'->'rows'->0->'id',
                                               'last_id', r->'data'->'rows'->-1->'id',
                                               'total', r->'data'->'total')) AS e
            ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,
                var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now();
        ELSE
            -- What converting the whole result to text (as a serde round trip does) costs alone.
            PERFORM length(r::text);
        END IF;
        COMMIT;
    END LOOP;
    CALL bench_record(started, calls);
    DELETE FROM noetl.transient WHERE execution_id BETWEEN 1000000 AND 2999999;
    COMMIT;
END
$$;

-- Execution 3000000 + n with n variables v0 .. v(n-1) (one execution per size, so that the
-- sizes can be measured in alternation).
CREATE OR REPLACE PROCEDURE bench_fill_execution(n int) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM noetl.cleanup_execution(3000000 + n);
    PERFORM noetl.set_vars(3000000 + n, (SELECT jsonb_object_agg('v' || g, g) FROM generate_series(0, n - 1) g));
    COMMIT;
END
$$;

-- Per-call time of a read-modify-write block on execution 3000000 + n.
CREATE OR REPLACE PROCEDURE bench_variables(kind text, n int, calls int) LANGUAGE plpgsql AS $$
DECLARE
    cfg jsonb := '{"counter": "{{ vars.counter | default(0) + 1 }}", "seen": "{{ vars.v5 }}"}';
    ex bigint := 3000000 + n;
    started timestamptz := clock_timestamp();
BEGIN
    FOR i IN 1..calls LOOP
        IF kind = 'render_vars' THEN
            PERFORM noetl.render_vars(ex, 'scale', '{}', cfg);
        ELSE
            INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
            SELECT ex, x.key, 'step_result', x.value, 'scale'
            FROM jsonb_each(jsonb_build_object(
                'counter', coalesce((SELECT var_value::int FROM noetl.transient
                                     WHERE execution_id = ex AND var_name = 'counter'), 0) + 1,
                'seen', (SELECT var_value FROM noetl.transient WHERE execution_id = ex AND var_name = 'v5'))) AS x
            ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,
                var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now();
        END IF;
        COMMIT;
    END LOOP;
    CALL bench_record(started, calls);
    COMMIT;
END
$$;

-- The typical step's inputs (bench/workloads.py has the same): the step's result, its block, the
-- context, and the five values it produces (what set_vars and B1 write).
CREATE OR REPLACE FUNCTION bench_typical_input(what text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE what
        WHEN 'result' THEN '{"status": "ok", "data": {"users": [{"id": 1000, "email": "user0@example.com", "name": "User Number 0", "roles": ["reader"], "active": false}, {"id": 1001, "email": "user1@example.com", "name": "User Number 1", "roles": ["reader", "writer"], "active": true}, {"id": 1002, "email": "user2@example.com", "name": "User Number 2", "roles": ["reader"], "active": true}, {"id": 1003, "email": "user3@example.com", "name": "User Number 3", "roles": ["reader", "writer"], "active": false}, {"id": 1004, "email": "user4@example.com", "name": "User Number 4", "roles": ["reader"], "active": true}, {"id": 1005, "email": "user5@example.com", "name": "User Number 5", "roles": ["reader", "writer"], "active": true}, {"id": 1006, "email": "user6@example.com", "name": "User Number 6", "roles": ["reader"], "active": false}], "total": 7, "next": null}}'::jsonb
        WHEN 'block' THEN '{"first_user_id": "{{ result.users[0].id }}", "user_count": "{{ result.users | length }}", "status_label": "{{ ''done'' if this.status == ''ok'' else ''retry'' }}", "attempts": "{{ vars.attempts | default(0) + 1 }}", "next_url": "{{ workload.api_base }}/users?page={{ vars.attempts | default(0) + 1 }}"}'::jsonb
        WHEN 'context' THEN '{"workload": {"api_base": "https://api.example.com"}}'::jsonb
        WHEN 'values' THEN '{"first_user_id": 1000, "user_count": 7, "status_label": "done", "attempts": 1, "next_url": "https://api.example.com/users?page=1"}'::jsonb
    END
$$;

-- The typical step, repeated on execution 5 (which holds 100 variables), and its parts:
--   render_vars              the whole step;
--   render_vars_event        the whole step, delivered with a new event id;
--   render_vars_no_event     the same call passing no id (event_id => NULL), to compare with;
--   apply_set                the same block as a set: block;
--   set_vars                 only its write: the five values it produces, stored by set_vars;
--   baseline_b_precomputed   the same write as one plain statement (baseline B1);
--   empty_block              a render_vars call whose block is empty (argument handling only);
--   commit                   nothing but the COMMIT every call is followed by.
CREATE OR REPLACE PROCEDURE bench_typical(kind text, unused int, calls int) LANGUAGE plpgsql AS $$
DECLARE
    result jsonb := bench_typical_input('result');
    cfg jsonb := bench_typical_input('block');
    ctx jsonb := bench_typical_input('context');
    vals jsonb := bench_typical_input('values');
    event_prefix text := pg_catalog.gen_random_uuid()::text || ':';
    event_id text;
    -- The same block as a set: block: its keys are execution variables, and the step's
    -- result reaches its templates through the context, as NoETL passes it (`output`; a set:
    -- block has no `result` or `this` of its own).
    set_cfg jsonb := '{"first_user_id": "{{ output.users[0].id }}", "user_count": "{{ output.users | length }}", "status_label": "{{ ''done'' if envelope.status == ''ok'' else ''retry'' }}", "attempts": "{{ vars.attempts | default(0) + 1 }}", "next_url": "{{ workload.api_base }}/users?page={{ vars.attempts | default(0) + 1 }}"}';
    set_ctx jsonb := ctx || jsonb_build_object('output', result -> 'data', 'envelope', result);
    started timestamptz;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM noetl.transient WHERE execution_id = 5) THEN
        PERFORM noetl.set_vars(5, (SELECT jsonb_object_agg('v' || g, g) FROM generate_series(0, 99) g));
        COMMIT;
    END IF;
    -- Ten watches (docs/watch.md): of every execution (each of the step's five writes goes to
    -- the outbox ten times), or of another execution (the trigger fires and matches none).
    -- Made before the timed loop and dropped after it; the outbox is emptied first, so every
    -- run starts from the same table. Nothing delivers the changes.
    IF kind IN ('render_vars_10_watches', 'render_vars_10_other_watches') THEN
        TRUNCATE noetl.watch_outbox;
        DELETE FROM noetl.watches;
        PERFORM noetl.watch(url => 'http://127.0.0.1:9/bench',
                            execution_id => CASE WHEN kind = 'render_vars_10_watches' THEN NULL ELSE 6 END)
        FROM generate_series(1, 10);
        COMMIT;
    END IF;
    -- A JSON Schema on each of the five variables the step writes (docs/typed-variables.md),
    -- declared before the timed loop and dropped after it.
    IF kind = 'render_vars_declared' THEN
        DELETE FROM noetl.declarations;
        PERFORM noetl.declare_var('first_user_id', '{"type": "integer", "minimum": 1}');
        PERFORM noetl.declare_var('user_count', '{"type": "integer", "minimum": 0}');
        PERFORM noetl.declare_var('status_label', '{"enum": ["done", "retry"]}');
        PERFORM noetl.declare_var('attempts', '{"type": "integer", "minimum": 1, "maximum": 1000000}');
        PERFORM noetl.declare_var('next_url', '{"type": "string", "pattern": "^https://"}');
        COMMIT;
    END IF;
    -- Two of them declared sensitive (docs/encryption.md): `attempts`, which the step reads
    -- (decrypted) and writes (encrypted), and `next_url`, which it writes.
    IF kind = 'render_vars_2_sensitive' THEN
        DELETE FROM noetl.declarations;
        PERFORM noetl.declare_var('attempts', sensitive => true);
        PERFORM noetl.declare_var('next_url', sensitive => true);
        COMMIT;
    END IF;
    started := clock_timestamp();
    FOR i IN 1..calls LOOP
        IF kind IN ('render_vars', 'render_vars_10_watches', 'render_vars_10_other_watches', 'render_vars_declared',
                    'render_vars_2_sensitive') THEN
            PERFORM noetl.render_vars(5, 'fetch_users', result, cfg, ctx);
        ELSIF kind IN ('render_vars_event', 'render_vars_no_event') THEN
            -- The same step delivered once with an event id (the first delivery: the id is
            -- claimed and the result recorded), and the same call passing none. Both make an
            -- id, unique across runs (a random prefix made once per run), so that what differs
            -- is only passing it.
            event_id := event_prefix || i;
            IF kind = 'render_vars_event' THEN
                PERFORM noetl.render_vars(5, 'fetch_users', result, cfg, ctx, event_id => event_id);
            ELSE
                PERFORM noetl.render_vars(5, 'fetch_users', result, cfg, ctx, event_id => NULL);
            END IF;
        ELSIF kind = 'apply_set' THEN
            PERFORM noetl.apply_set(5, 'fetch_users', set_cfg, set_ctx);
        ELSIF kind = 'set_vars' THEN
            PERFORM noetl.set_vars(5, vals, 'step_result', 'fetch_users');
        ELSIF kind = 'baseline_b_precomputed' THEN
            INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
            SELECT 5, e.key, 'step_result', e.value, 'fetch_users' FROM jsonb_each(vals) AS e
            ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,
                var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now();
        ELSIF kind = 'empty_block' THEN
            PERFORM noetl.render_vars(5, 'fetch_users', result, '{}', ctx);
        END IF;
        COMMIT;
    END LOOP;
    CALL bench_record(started, calls);
    -- The outbox rows stay (a later run truncates them): deleting them here would count.
    DELETE FROM noetl.watches;
    DELETE FROM noetl.declarations;
    COMMIT;
END
$$;

-- Spends `us` microseconds on the CPU without sleeping.
CREATE OR REPLACE FUNCTION bench_spin(us int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    until timestamptz := clock_timestamp() + make_interval(secs => us / 1e6);
BEGIN
    WHILE clock_timestamp() < until LOOP
    END LOOP;
END
$$;

-- Four of bench_typical's kinds (the same statements), each call after a pause, as a backend
-- waits for its client between two steps (bench/pauses.py): pause_us > 0 sleeps that long
-- (pg_sleep); pause_us < 0 spends as long on the CPU instead (bench_spin), so that the same
-- time passes without the backend sleeping; 0 makes the calls back to back. Apart from
-- bench_typical so that its loop, which every other measurement times and counts, stays as
-- it was.
CREATE OR REPLACE PROCEDURE bench_paused(kind text, pause_us int, calls int) LANGUAGE plpgsql AS $$
DECLARE
    result jsonb := bench_typical_input('result');
    cfg jsonb := bench_typical_input('block');
    ctx jsonb := bench_typical_input('context');
    vals jsonb := bench_typical_input('values');
BEGIN
    IF kind NOT IN ('render_vars', 'set_vars', 'baseline_b_precomputed', 'commit') THEN
        RAISE EXCEPTION 'bench_paused: no kind %', kind;
    END IF;
    CALL bench_typical('commit', 0, 1);  -- execution 5 and its 100 variables, as bench_typical makes them
    FOR i IN 1..calls LOOP
        IF pause_us > 0 THEN
            PERFORM pg_catalog.pg_sleep(pause_us / 1e6);
        ELSIF pause_us < 0 THEN
            PERFORM bench_spin(-pause_us);
        END IF;
        IF kind = 'render_vars' THEN
            PERFORM noetl.render_vars(5, 'fetch_users', result, cfg, ctx);
        ELSIF kind = 'set_vars' THEN
            PERFORM noetl.set_vars(5, vals, 'step_result', 'fetch_users');
        ELSIF kind = 'baseline_b_precomputed' THEN
            INSERT INTO noetl.transient AS t (execution_id, var_name, var_type, var_value, source_step)
            SELECT 5, e.key, 'step_result', e.value, 'fetch_users' FROM jsonb_each(vals) AS e
            ON CONFLICT (execution_id, var_name) DO UPDATE SET var_value = EXCLUDED.var_value,
                var_type = EXCLUDED.var_type, source_step = EXCLUDED.source_step, accessed_at = now();
        END IF;
        COMMIT;
    END LOOP;
END
$$;

-- noetl.transient with `total` rows spread over `executions` executions (1 .. executions).
CREATE OR REPLACE PROCEDURE bench_fill_table(total int, executions int) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO noetl.transient (execution_id, var_name, var_type, var_value, source_step)
    SELECT 1 + g % executions, 'v' || (g / executions), 'step_result', to_jsonb(g), 'fill'
    FROM generate_series(0, total - 1) g
    ON CONFLICT DO NOTHING;
    COMMIT;
    ANALYZE noetl.transient;
END
$$;

CREATE OR REPLACE PROCEDURE bench_empty_table() LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE noetl.transient;
    COMMIT;
END
$$;
