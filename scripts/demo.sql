-- One NoETL execution, as the server would drive it, plus what an operator sees from psql.
\pset footer off
\set ECHO queries
\set VERBOSITY default

CREATE EXTENSION noetl_vars;
\echo
\echo '--- The playbook starts: execution 7205759403792793600 (a Snowflake id, exact as a JSON integer).'
\echo '--- The server injects a few variables (POST /api/vars/{id}):'
SELECT jsonb_pretty(noetl.set_vars(7205759403792793600,
    '{"api_base": "https://api.example.com", "page_size": 50, "retries": 0}', 'user_defined', 'start'));

\echo
\echo '--- Step fetch_users finished. Its vars: block is rendered in-database, in one call:'
SELECT jsonb_pretty(noetl.render_vars(
    execution_id => 7205759403792793600,
    step         => 'fetch_users',
    result       => '{"status": "ok", "data": {"users": [{"id": 12345678901234567890123, "email": "ada@example.com"}, {"id": 2, "email": "alan@example.com"}], "next": null}}',
    config       => '{"first_user_id": "{{ result.users[0].id }}",
                     "user_count":    "{{ result.users | length }}",
                     "emails":        "{{ result.users | map(attribute=''email'') | join('','') }}",
                     "has_more":      "{{ result.next is not none }}",
                     "retries":       "{{ vars.retries + 1 if this.status != ''ok'' else vars.retries }}",
                     "next_url":      "{{ vars.api_base }}/users?limit={{ vars.page_size }}"}',
    context      => '{"workload": {"env": "prod"}}'));

\echo
\echo '--- Reading a variable is a tracked read: watch access_count move.'
SELECT noetl.get_var(7205759403792793600, 'first_user_id') AS first_user_id;
SELECT jsonb_pretty(noetl.vars_get(7205759403792793600, 'first_user_id'));

\echo
\echo '--- A looping step records each iteration (render_iteration) and its per-item vars:'
SELECT noetl.render_iteration(7205759403792793600, 'notify', '{"email": "ada@example.com"}', 0, 2,
    '{"sent": true}', '{"last_sent": "{{ item.email }}"}') AS iteration_0;
SELECT noetl.render_iteration(7205759403792793600, 'notify', '{"email": "alan@example.com"}', 1, 2,
    '{"sent": true}', '{"last_sent": "{{ item.email }}"}') AS iteration_1;

\echo
\echo '--- A broken template is an error naming step, variable and template; nothing is stored:'
\set ON_ERROR_STOP 0
SELECT noetl.render_vars(7205759403792793600, 'report', '{}', '{"total": "{{ vars.user_count * 2 }}", "oops": "{{ vars.no_such_var }}"}');
\set ON_ERROR_STOP 1
SELECT noetl.get_var(7205759403792793600, 'total') IS NULL AS total_was_not_stored;

\echo
\echo '--- The server''s historical behaviour is one switch away: skip the failing variable, keep the rest.'
SET noetl_vars.on_render_error = 'skip';
SELECT noetl.render_vars(7205759403792793600, 'report', '{}', '{"total": "{{ vars.user_count * 2 }}", "oops": "{{ vars.no_such_var }}"}') AS stored;
RESET noetl_vars.on_render_error;

\echo
\echo '--- What GET /api/vars/{id} returns, built in the database:'
SELECT jsonb_pretty(noetl.vars_list(7205759403792793600));

\echo
\echo '--- The same rows as an operator sees them:'
SELECT var_name, var_type, source_step, left(var_value::text, 40) AS var_value, access_count
FROM noetl.transient WHERE execution_id = 7205759403792793600 ORDER BY created_at, var_name;

\echo
\echo '--- Lifetimes: the login step keeps its token 15 minutes ($ttl), the cursor as long as the execution:'
SELECT noetl.render_vars(7205759403792793600, 'login', '{"access_token": "tok-1", "next": 2}',
                         '{"token": "{{ result.access_token }}", "cursor": "{{ result.next }}",
                           "$ttl": {"token": "15 minutes"}}');
SELECT var_name, expires_at - created_at AS lives_for
FROM noetl.transient WHERE execution_id = 7205759403792793600 AND var_name IN ('token', 'cursor') ORDER BY var_name;
\echo '--- Fifteen minutes later (simulated) the token is gone for every read, and purge_expired deletes it:'
UPDATE noetl.transient SET expires_at = now() - interval '1 second'
WHERE execution_id = 7205759403792793600 AND var_name = 'token';
SELECT noetl.get_var(7205759403792793600, 'token') AS token,
       noetl.render_vars(7205759403792793600, 'refresh', '{}',
                         '{"needs_login": "{{ vars.token is not defined }}"}') AS refresh;
SELECT noetl.purge_expired() AS purged;

\echo
\echo '--- Re-running: the worker delivers step_completed of "count" three times; it applies once:'
SELECT noetl.render_vars(7205759403792793600, 'count', '{}', '{"pages": "{{ (vars.pages | default(0)) + 1 }}"}',
                         event_id => 'evt-7f3a') AS delivery
FROM generate_series(1, 3);
SELECT noetl.get_var(7205759403792793600, 'pages') AS pages;
\echo '--- The execution failed and resumes: its predefined variables come back, conflicts reported:'
SELECT jsonb_pretty(noetl.resume_execution(7205759403792793600,
    '{"api_base": "https://api.example.com", "page_size": 100}'));

\echo
\echo '--- Deleting one variable (DELETE /api/vars/{id}/{name}), then the whole execution:'
SELECT noetl.vars_delete(7205759403792793600, 'emails');
SELECT noetl.vars_cleanup(7205759403792793600);
SELECT count(*) AS variables_left FROM noetl.transient WHERE execution_id = 7205759403792793600;
