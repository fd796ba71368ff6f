-- Runs every case of cases.json through noetl.render_vars (execution 1, step "step", as the
-- oracle assumes) and compares the stored value with the expected one as jsonb text, so that
-- 2 and 2.0 differ and big numbers compare digit for digit. Used by tests/corpus.sh.
\set ON_ERROR_STOP 1
\set corpus `cat "$CORPUS_FILE"`
\set QUIET 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS noetl_vars;
CREATE TEMP TABLE cases AS
    SELECT n::int, c FROM jsonb_array_elements(:'corpus'::jsonb) WITH ORDINALITY AS t(c, n);
CREATE TEMP TABLE outcomes (n int, name text, ok boolean, got text, want text);
DO $$
DECLARE
    r record;
    got jsonb;
    err text;
    want_error boolean;
BEGIN
    FOR r IN SELECT * FROM cases ORDER BY n LOOP
        PERFORM noetl.cleanup_execution(1);
        IF coalesce(r.c->'vars', '{}') <> '{}' THEN
            PERFORM noetl.set_vars(1, r.c->'vars');
        END IF;
        BEGIN
            got := noetl.render_vars(1, 'step', r.c->'result', jsonb_build_object('v', r.c->'template'),
                                     coalesce(r.c->'context', '{}'))->'v';
            err := NULL;
        EXCEPTION WHEN OTHERS THEN
            got := NULL;
            err := SQLSTATE || ' ' || SQLERRM;
        END;
        want_error := coalesce((r.c->>'expected_error')::boolean, false);
        INSERT INTO outcomes VALUES (
            r.n, r.c->>'name',
            CASE WHEN want_error THEN err IS NOT NULL
                 ELSE err IS NULL AND got::text = (r.c->'expected')::text END,
            coalesce(got::text, err),
            CASE WHEN want_error THEN 'an error' ELSE (r.c->'expected')::text END);
    END LOOP;
    PERFORM noetl.cleanup_execution(1);
END
$$;
SELECT count(*) FILTER (WHERE ok) AS passed, count(*) AS cases FROM outcomes;
SELECT n, name, left(got, 300) AS got, left(want, 300) AS want FROM outcomes WHERE NOT ok ORDER BY n;
