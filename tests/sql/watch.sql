-- Variable watch: subscriptions, and the outbox the change trigger writes in the changing
-- transaction (docs/watch.md). Delivery is the Python worker's (python/tests/test_watch.py).
\ir helpers.psql

-- Variables other tests left to expire are purged first (the purge below is to see only ours).
SELECT noetl.purge_expired() IS NOT NULL AS purged_leftovers;

-- Nothing subscribes: nothing is written to the outbox.
SELECT noetl.set_var(900, 'before', '1');
SELECT count(*) AS outbox_rows FROM noetl.watch_outbox;

-- A webhook for every change of every execution, with a given secret and a header.
SELECT noetl.watch(url => 'https://user:pw@hooks.test/noetl?token=abc', headers => '{"Authorization": "Bearer s3cret"}',
                   signing_secret => 'a-signing-secret-of-32-bytes....') AS webhook;
-- A channel for two names of execution 901, old and new values; its secret is generated.
SELECT w ->> 'watch_id' AS channel_watch, length(w ->> 'signing_secret') AS secret_length
FROM noetl.watch(channel => 'vars_901', execution_id => 901, names => ARRAY['api_*', 'count'],
                 include_values => 'both', kinds => ARRAY['set', 'cleanup']) AS w;

-- Every write path, as kinds: set (insert, update), delete, expire, cleanup.
SELECT noetl.set_var(900, 'before', '2');
SELECT noetl.set_vars(901, '{"count": 1, "api_token": "sk-abcdefabcdefabcdefabcdef", "other": true}');
SELECT noetl.render_vars(901, 'step', '{}', '{"count": "{{ 1 + 1 }}"}') IS NOT NULL AS rendered;
SELECT noetl.apply_set(901, 'step', '{"ctx.count": 3, "step.local": 1}') IS NOT NULL AS applied;
UPDATE noetl.transient SET var_value = '4' WHERE execution_id = 901 AND var_name = 'count';
SELECT noetl.delete_var(900, 'before');
SELECT noetl.set_var(902, 'short', '1', ttl => '1 microsecond');
SELECT pg_sleep(0.01);
SELECT noetl.purge_expired() AS purged;
SELECT noetl.cleanup_execution(901);

-- A rolled-back change leaves nothing; nor does a tracked read.
BEGIN;
SELECT noetl.set_var(900, 'rolled_back', '1');
ROLLBACK;
SELECT noetl.get_var(902, 'short') AS expired_is_gone;

-- In capture order; the rows of one cleanup by name (a delete visits rows in table order).
SELECT watch_id, execution_id, var_name, kind, operation, old_value, new_value, state
FROM noetl.watch_outbox ORDER BY kind = 'cleanup', CASE WHEN kind = 'cleanup' THEN var_name END, seq;

-- What an operator sees: no secret, header value or URL credentials.
SELECT watch_id, target, execution_id, names, kinds, include_values, header_names, pending, delivered, dead
FROM noetl.watch_status ORDER BY watch_id;
SELECT count(*) AS status_rows_with_a_secret FROM noetl.watch_status s
WHERE s::text ~ 's3cret|signing|token=|user:pw';

-- The worker's calls: claim one due change (locked for this transaction), deliver, fail.
BEGIN;
SELECT seq = (SELECT min(seq) FROM noetl.watch_outbox) AS oldest, url, channel, headers, attempts, max_attempts,
       body - 'changed_at' - 'event_id' AS body
FROM noetl.watch_claim();
SELECT noetl.watch_delivered((SELECT min(seq) FROM noetl.watch_outbox)) AS delivered;
SELECT noetl.watch_delivered((SELECT min(seq) FROM noetl.watch_outbox)) AS delivered_twice;
COMMIT;
BEGIN;
SELECT body ->> 'name' AS next_name FROM noetl.watch_claim();
SELECT noetl.watch_failed((SELECT min(seq) FROM noetl.watch_outbox WHERE state = 'pending'), 'HTTP 500') AS state;
COMMIT;
SELECT attempts, last_error, next_attempt_at > clock_timestamp() AS backing_off
FROM noetl.watch_outbox WHERE state = 'pending' AND attempts > 0;

-- A change whose attempts run out is dead, and due again after watch_retry.
SELECT w ->> 'watch_id' AS once FROM noetl.watch(channel => 'once', execution_id => 903, max_attempts => 1) AS w \gset
SELECT noetl.set_var(903, 'x', '1');
BEGIN;
SELECT noetl.watch_failed(o.seq, 'refused') AS state FROM noetl.watch_outbox o WHERE o.watch_id = :once;
COMMIT;
SELECT noetl.watch_retry(:once) AS retried;
SELECT state, attempts FROM noetl.watch_outbox WHERE watch_id = :once;

-- Bad subscriptions: 22023, naming what was wrong.
SELECT pg_temp.try($$SELECT noetl.watch()$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', channel => 'c')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'file:///etc/passwd')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', kinds => ARRAY['set', 'update'])$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', kinds => '{}')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', names => ARRAY[NULL])$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', include_values => 'old')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', headers => '{"X": 1}')$$);
SELECT pg_temp.try($$SELECT noetl.watch(channel => 'c', headers => '{"X": "1"}')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', signing_secret => 'short')$$);
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test', max_attempts => 0)$$);
SELECT pg_temp.try($$SELECT noetl.watch_purge(batch => 0)$$);
-- The trigger function is the trigger of noetl.watches only.
SELECT pg_temp.try($$SELECT noetl.watches_changed()$$);
CREATE TABLE pg_temp.mine (x int);
CREATE TRIGGER t AFTER INSERT ON pg_temp.mine FOR EACH STATEMENT EXECUTE FUNCTION noetl.watches_changed();
SELECT pg_temp.try($$INSERT INTO pg_temp.mine VALUES (1)$$);

-- Privileges: an application role that writes variables cannot watch, read the outbox or
-- claim changes (each is granted on its own, docs/watch.md); its writes are still captured.
CREATE ROLE noetl_vars_watch_app NOLOGIN;
GRANT USAGE ON SCHEMA noetl TO noetl_vars_watch_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON noetl.transient TO noetl_vars_watch_app;
GRANT EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval) TO noetl_vars_watch_app;
SET ROLE noetl_vars_watch_app;
SELECT noetl.set_var(904, 'by_app', '1');
SELECT pg_temp.try($$SELECT noetl.watch(url => 'http://a.test')$$);
SELECT pg_temp.try($$SELECT noetl.unwatch(1)$$);
SELECT pg_temp.try($$SELECT * FROM noetl.watch_outbox$$);
SELECT pg_temp.try($$SELECT * FROM noetl.watches$$);
SELECT pg_temp.try($$SELECT * FROM noetl.watch_status$$);
SELECT pg_temp.try($$SELECT * FROM noetl.watch_claim()$$);
SELECT pg_temp.try($$DELETE FROM noetl.watches$$);
RESET ROLE;
SELECT count(*) AS captured_from_app FROM noetl.watch_outbox WHERE execution_id = 904;

-- Retention: delivered changes older than older_than go; pending ones stay.
UPDATE noetl.watch_outbox SET delivered_at = now() - interval '8 days' WHERE state = 'delivered';
SELECT noetl.watch_purge() AS purged;
SELECT count(*) FILTER (WHERE state = 'delivered') AS delivered_left, count(*) > 0 AS pending_left
FROM noetl.watch_outbox;

-- A variable declared sensitive (typed variables) is redacted whole, whatever its name and value.
SELECT noetl.declare_var('customer_ssn', sensitive => true);
SELECT noetl.set_var(905, 'customer_ssn', '"123-45-6789"');
SELECT noetl.set_var(905, 'customer_note', '"123-45-6789"');
SELECT var_name, new_value FROM noetl.watch_outbox WHERE execution_id = 905 ORDER BY seq;
SELECT noetl.undeclare_var('customer_ssn');

-- unwatch drops the watch and what its outbox holds; later changes are not captured.
SELECT noetl.unwatch(watch_id) FROM noetl.watches ORDER BY watch_id;
SELECT noetl.unwatch(1) AS again;
SELECT noetl.set_var(900, 'after', '1');
SELECT count(*) AS outbox_rows FROM noetl.watch_outbox;

SELECT noetl.cleanup_execution(e) FROM unnest(ARRAY[900, 902, 903, 904, 905]) e;
REVOKE ALL ON noetl.transient FROM noetl_vars_watch_app;
REVOKE ALL ON SCHEMA noetl FROM noetl_vars_watch_app;
REVOKE EXECUTE ON FUNCTION noetl.set_var(bigint, text, jsonb, text, text, interval) FROM noetl_vars_watch_app;
DROP ROLE noetl_vars_watch_app;
