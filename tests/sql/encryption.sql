-- Encryption at rest (docs/encryption.md): variables declared sensitive are stored sealed
-- (XChaCha20-Poly1305, bound to their row) on every write path; reads and templates see the
-- plaintext, vars_list/vars_get redact them, plain SQL sees only ciphertext. The cluster's
-- key ring is noetl_vars.key_file (scripts/cluster.sh writes one).
\ir helpers.psql

-- Whether a jsonb value is stored sealed, and whether its text shows `needle`.
CREATE FUNCTION pg_temp.sealed(v jsonb) RETURNS boolean LANGUAGE sql AS
$$ SELECT v ? 'noetl_vars_sealed' AND (SELECT count(*) FROM jsonb_object_keys(v)) = 1 $$;
CREATE FUNCTION pg_temp.clear(needle text) RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM noetl.transient WHERE var_value::text LIKE '%' || needle || '%')
         + (SELECT count(*) FROM noetl.step_vars WHERE var_value::text LIKE '%' || needle || '%')
         + (SELECT count(*) FROM noetl.workflow_vars WHERE var_value::text LIKE '%' || needle || '%')
         + (SELECT count(*) FROM noetl.global_vars WHERE var_value::text LIKE '%' || needle || '%')
         + (SELECT count(*) FROM noetl.transient_history WHERE concat(old_value, new_value) LIKE '%' || needle || '%')
$$;

SELECT setting <> '' AS keys_configured, context FROM pg_settings WHERE name = 'noetl_vars.key_file';
SELECT noetl.declare_var('enc_token', sensitive => true);
SELECT noetl.declare_var('enc_cfg', '{"type": "object", "required": ["password"]}', sensitive => true);
SET noetl_vars.track_history = on;

-- Every write path stores the sensitive ones sealed, the others in clear.
SELECT noetl.set_var(960, 'enc_token', '"tok-SETVAR"');
SELECT noetl.set_vars(960, '{"enc_cfg": {"password": "pw-SETVARS", "n": 123456789012345678901234567890}, "enc_plain": "shown"}');
SELECT noetl.render_vars(961, 'fetch', '{"t": "tok-RENDER"}', '{"enc_token": "{{ result.t }}", "enc_len": "{{ result.t | length }}"}');
SELECT noetl.render_iteration(962, 'loop', '{"t": "ITER"}', 0, 1, '{}', '{"enc_token": "tok-{{ item.t }}"}');
SELECT noetl.apply_set(963, 'st', '{"ctx.enc_token": "tok-CTX", "step.enc_token": "tok-STEP", "iter.enc_token": "tok-ITERSCOPE", "workflow.enc_token": "tok-WORKFLOW", "global.enc_token": "tok-GLOBAL"}',
                       iteration => 2, playbook => 'catalog/enc') IS NOT NULL AS applied;
SELECT noetl.resume_execution(964, '{"enc_token": "tok-RESUME"}') ->> 'written' AS resumed;

SELECT execution_id, var_name, pg_temp.sealed(var_value) AS sealed
FROM noetl.transient WHERE execution_id BETWEEN 960 AND 964 ORDER BY 1, 2;
SELECT 'step' AS scope, iteration, pg_temp.sealed(var_value) AS sealed FROM noetl.step_vars WHERE execution_id = 963
UNION ALL SELECT 'workflow', NULL, pg_temp.sealed(var_value) FROM noetl.workflow_vars WHERE playbook = 'catalog/enc'
UNION ALL SELECT 'global', NULL, pg_temp.sealed(var_value) FROM noetl.global_vars WHERE var_name = 'enc_token'
ORDER BY 1, 2;
-- No plaintext anywhere in the tables or their history.
SELECT pg_temp.clear('tok-') AS tokens_in_clear, pg_temp.clear('pw-SETVARS') AS passwords_in_clear,
       pg_temp.clear('shown') AS plain_in_clear;

-- A call with an event id records its result sealed when it wrote a sealed value; a
-- redelivery returns the plaintext result and writes nothing.
SELECT noetl.render_vars(967, 'ev', '{}', '{"enc_token": "tok-EVENT"}', event_id => 'enc-evt-1');
SELECT noetl.render_vars(967, 'ev', '{}', '{"plain_only": 1}', event_id => 'enc-evt-2');
SELECT event_id, pg_temp.sealed(result) AS sealed FROM noetl.applied_events WHERE execution_id = 967 ORDER BY 1;
SELECT noetl.render_vars(967, 'ev', '{}', '{"enc_token": "tok-EVENT"}', event_id => 'enc-evt-1') AS redelivered;
SELECT count(*) AS events_in_clear FROM noetl.applied_events WHERE result::text LIKE '%tok-%';

-- Reads and templates see the plaintext; numbers keep every digit.
SELECT noetl.get_var(960, 'enc_token'), noetl.get_var(960, 'enc_cfg');
SELECT noetl.get_all_vars(960);
SELECT noetl.var_at(960, 'enc_token', now()) AS from_history;
SELECT noetl.get_var(961, 'enc_token'), noetl.get_var(961, 'enc_len');
SELECT noetl.render_vars(960, 'again', '{}', '{"copy": "{{ enc_token }}", "pw": "{{ enc_cfg.password }}"}');
SELECT noetl.apply_set(963, 'st', '{"ctx.seen": "{{ step.enc_token }}/{{ iter.enc_token }}/{{ workflow.enc_token }}/{{ global.enc_token }}/{{ ctx.enc_token }}"}',
                       iteration => 2, playbook => 'catalog/enc');
SELECT noetl.context_vars(963, 'st', 2, 'catalog/enc') #> '{step,enc_token}' AS step_value,
       noetl.context_vars(963, 'st', 2, 'catalog/enc') #> '{workflow,enc_token}' AS workflow_value;

-- The API bodies redact them whole, whatever the redaction setting; the others are shown.
SELECT noetl.vars_list(960) #> '{variables,enc_token,value}' AS token,
       noetl.vars_list(960) #> '{variables,enc_cfg,value}' AS cfg,
       noetl.vars_list(960) #> '{variables,enc_plain,value}' AS plain;
SELECT noetl.vars_get(960, 'enc_cfg') -> 'value' AS got;

-- resume_execution compares a sensitive runtime value by its plaintext: an equal one is no
-- conflict; a differing one is reported, its runtime value redacted.
SELECT noetl.resume_execution(960, '{"enc_token": "tok-SETVAR"}', keep => 'runtime') - 'written' AS same_value;
SELECT noetl.resume_execution(960, '{"enc_token": "tok-OTHER"}', keep => 'runtime') AS differing;
SELECT noetl.get_var(960, 'enc_token') AS kept;

-- A schema is checked on the plaintext before it is sealed.
SELECT pg_temp.try($$SELECT noetl.set_var(960, 'enc_cfg', '{"user": "no password"}')$$);

-- A ciphertext copied to another row, or altered, does not decrypt: 39000, never garbage.
UPDATE noetl.transient SET var_value = (SELECT var_value FROM noetl.transient WHERE execution_id = 960 AND var_name = 'enc_token')
WHERE execution_id = 961 AND var_name = 'enc_token';
SELECT pg_temp.try($$SELECT noetl.get_var(961, 'enc_token')$$);
SELECT pg_temp.try($$SELECT noetl.render_vars(961, 's', '{}', '{"x": "{{ enc_token }}"}')$$);
UPDATE noetl.transient SET var_value = jsonb_build_object('noetl_vars_sealed', overlay(var_value ->> 'noetl_vars_sealed' placing 'AAAA' from 20 for 4))
WHERE execution_id = 962 AND var_name = 'enc_token';
SELECT pg_temp.try($$SELECT noetl.get_var(962, 'enc_token')$$);
UPDATE noetl.transient SET var_value = jsonb_build_object('noetl_vars_sealed', replace(var_value ->> 'noetl_vars_sealed', 'v1.k1.', 'v1.gone.'))
WHERE execution_id = 964 AND var_name = 'enc_token';
SELECT pg_temp.try($$SELECT noetl.get_var(964, 'enc_token')$$);
-- The listing still works: it never decrypts.
SELECT noetl.vars_list(961) #> '{variables,enc_token,value}' AS listed;

-- Plain SQL may not write a sensitive variable in clear.
SELECT pg_temp.try($$INSERT INTO noetl.transient (execution_id, var_name, var_value) VALUES (965, 'enc_token', '"clear"')$$);
SELECT pg_temp.try($$UPDATE noetl.transient SET var_value = '"clear"' WHERE execution_id = 960 AND var_name = 'enc_token'$$);
SELECT pg_temp.try($$INSERT INTO noetl.global_vars (var_name, var_value) VALUES ('enc_token', '"clear"') ON CONFLICT (var_name) DO UPDATE SET var_value = EXCLUDED.var_value$$);

-- noetl_vars.encrypt_secrets (superuser, default off): credentials are sealed too.
SHOW noetl_vars.encrypt_secrets;
SET noetl_vars.encrypt_secrets = on;
SELECT noetl.set_vars(966, '{"db_password": "pw-CRED", "auth": "Bearer abcdefghijklmnopqrstuvwxyz012345", "note": "hello"}');
SELECT var_name, pg_temp.sealed(var_value) AS sealed FROM noetl.transient WHERE execution_id = 966 ORDER BY 1;
SELECT noetl.get_var(966, 'db_password');
RESET noetl_vars.encrypt_secrets;
SELECT pg_temp.clear('pw-CRED') AS credentials_in_clear;

RESET noetl_vars.track_history;
SELECT noetl.cleanup_execution(e) FROM generate_series(960, 967) e ORDER BY 1;
DELETE FROM noetl.step_vars WHERE execution_id = 963;
DELETE FROM noetl.workflow_vars WHERE playbook = 'catalog/enc';
DELETE FROM noetl.global_vars WHERE var_name = 'enc_token';
DELETE FROM noetl.transient_history WHERE execution_id BETWEEN 960 AND 967;
SELECT noetl.undeclare_var('enc_token'), noetl.undeclare_var('enc_cfg');
