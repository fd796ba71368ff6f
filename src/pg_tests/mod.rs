//! `#[pg_test]`s: the functions inside a real PostgreSQL backend, called through SPI.

mod blocks;
mod citus;
mod jsonb;

use pgrx::prelude::*;

/// The one text value `sql` selects.
fn text(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query failed")
}

/// The one non-null integer `sql` selects.
fn int(sql: &str) -> i64 {
    Spi::get_one::<i64>(sql)
        .expect("query failed")
        .expect("NULL")
}

fn run(sql: &str) {
    Spi::run(sql).expect("statement failed");
}

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use super::{int, run, text};

    #[pg_test]
    fn set_then_get_returns_the_value_exactly() {
        run("SELECT noetl.set_var(1, 'big', '12345678901234567890123'::jsonb)");
        run("SELECT noetl.set_var(1, 'huge', '1e400'::jsonb)");
        run("SELECT noetl.set_var(1, 'frac', '0.1000000000000000000001'::jsonb)");
        assert_eq!(
            text("SELECT noetl.get_var(1, 'big')::text").as_deref(),
            Some("12345678901234567890123")
        );
        assert_eq!(
            text("SELECT (noetl.get_var(1, 'huge') = '1e400'::jsonb)::text").as_deref(),
            Some("true")
        );
        assert_eq!(
            text("SELECT noetl.get_var(1, 'frac')::text").as_deref(),
            Some("0.1000000000000000000001")
        );
    }

    #[pg_test]
    fn json_null_is_a_value_and_absence_is_sql_null() {
        run("SELECT noetl.set_var(2, 'n', 'null'::jsonb)");
        assert_eq!(
            text("SELECT noetl.get_var(2, 'n')::text").as_deref(),
            Some("null")
        );
        assert_eq!(text("SELECT noetl.get_var(2, 'absent')::text"), None);
        assert_eq!(text("SELECT noetl.vars_get(2, 'absent')::text"), None);
    }

    #[pg_test]
    fn a_new_row_starts_untouched_and_an_overwrite_keeps_created_at_and_access_count() {
        run("SELECT noetl.set_var(3, 'x', '1', 'computed', 'a')");
        assert_eq!(
            int("SELECT access_count::int8 FROM noetl.transient WHERE execution_id = 3"),
            0
        );
        run("SELECT noetl.get_var(3, 'x'), noetl.get_var(3, 'x')");
        // Make the overwrite's now() differ from the first write's.
        run(
            "CREATE TEMP TABLE t0 AS SELECT created_at FROM noetl.transient WHERE execution_id = 3",
        );
        run("UPDATE noetl.transient SET created_at = created_at - interval '1 hour', accessed_at = accessed_at - interval '1 hour' WHERE execution_id = 3");
        run("SELECT noetl.set_var(3, 'x', '\"two\"', 'user_defined', NULL)");
        assert_eq!(
            text("SELECT format('%s|%s|%s|%s|%s', var_value, var_type, coalesce(source_step, 'NULL'), access_count, created_at < accessed_at) FROM noetl.transient WHERE execution_id = 3").as_deref(),
            Some("\"two\"|user_defined|NULL|2|t")
        );
    }

    #[pg_test]
    fn tracked_reads_report_the_count_after_the_increment() {
        run("SELECT noetl.set_var(4, 'x', '1')");
        assert_eq!(
            int("SELECT (noetl.vars_get(4, 'x')->>'access_count')::int8"),
            1
        );
        assert_eq!(
            int("SELECT (noetl.vars_get(4, 'x')->>'access_count')::int8"),
            2
        );
        run("SELECT noetl.get_var(4, 'x')");
        // Untracked readers do not move it.
        run("SELECT noetl.get_all_vars(4), noetl.vars_list(4)");
        assert_eq!(
            int("SELECT access_count::int8 FROM noetl.transient WHERE execution_id = 4"),
            3
        );
    }

    #[pg_test]
    fn execution_ids_are_exact_json_integers() {
        run("SELECT noetl.set_var(9223372036854775807, 'x', '1')");
        assert_eq!(
            text("SELECT noetl.vars_list(9223372036854775807)->>'execution_id'").as_deref(),
            Some("9223372036854775807")
        );
        assert_eq!(
            text("SELECT jsonb_typeof(noetl.vars_cleanup(9223372036854775807)->'execution_id')")
                .as_deref(),
            Some("number")
        );
    }

    #[pg_test(error = "variable name must not be empty (\"\")")]
    fn set_vars_refuses_an_empty_name_among_good_ones() {
        run("SELECT noetl.set_vars(5, '{\"ok\": 1, \"\": 2}')");
    }

    #[pg_test(error = "variables must not be empty")]
    fn set_vars_refuses_an_empty_object() {
        run("SELECT noetl.set_vars(5, '{}')");
    }

    #[pg_test(error = "var_value must not be NULL")]
    fn set_var_refuses_sql_null_values() {
        run("SELECT noetl.set_var(6, 'x', NULL)");
    }

    #[pg_test]
    fn render_vars_stores_typed_values_and_returns_them() {
        let out = text(
            "SELECT noetl.render_vars(7, 'fetch', '{\"data\": {\"id\": 12345678901234567890123, \"items\": [1,2,3]}}', \
             '{\"id\": \"{{ result.id }}\", \"n\": \"{{ this.data.items | length }}\", \"s\": \"id={{ result.id }}\"}')::text",
        );
        assert_eq!(
            out.as_deref(),
            Some(r#"{"n": 3, "s": "id=12345678901234567890123", "id": 12345678901234567890123}"#)
        );
        assert_eq!(
            text("SELECT string_agg(var_name || ':' || var_type || ':' || source_step, ',' ORDER BY var_name) FROM noetl.transient WHERE execution_id = 7").as_deref(),
            Some("id:step_result:fetch,n:step_result:fetch,s:step_result:fetch")
        );
    }

    #[pg_test]
    fn render_vars_reads_a_large_result_lazily_and_exactly() {
        run("CREATE TEMP TABLE big AS SELECT jsonb_build_object('data', jsonb_build_object('rows', \
             (SELECT jsonb_agg(jsonb_build_object('i', g, 'pad', repeat('x', 100))) FROM generate_series(1, 5000) g), 'total', 1e400)) AS r");
        let out = text("SELECT noetl.render_vars(8, 's', r, '{\"last\": \"{{ result.rows[-1].i }}\", \"t\": \"{{ result.total }}\"}')->>'last' FROM big");
        assert_eq!(out.as_deref(), Some("5000"));
        assert_eq!(
            text("SELECT (noetl.get_var(8, 't') = '1e400'::jsonb)::text").as_deref(),
            Some("true")
        );
    }

    #[pg_test]
    fn render_iteration_counts_and_stores_iterator_state() {
        for i in 0..3 {
            run(&format!("SELECT noetl.render_iteration(9, 'loop', '{{\"k\": {i}}}', {i}, 3, NULL, '{{\"last\": \"{{{{ item.k }}}}\"}}')"));
        }
        assert_eq!(
            text("SELECT string_agg(var_name || '=' || var_value::text || ':' || var_type, ',' ORDER BY var_name) FROM noetl.transient WHERE execution_id = 9").as_deref(),
            Some("last=2:step_result,loop_count=3:iterator_state,loop_index=2:iterator_state,loop_item={\"k\": 2}:iterator_state,loop_total=3:iterator_state")
        );
    }

    #[pg_test]
    fn deeply_nested_template_values_do_not_crash_the_backend() {
        // Builds a list nested 100,000 levels deep inside the backend: only the evaluation
        // stack keeps minijinja's recursive drop from overflowing.
        run("SET LOCAL noetl_vars.template_fuel = 1000000");
        let ok = text(
            "SELECT noetl.render_vars(10, 's', '{}', '{\"n\": \"{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | length }}\"}')->>'n'",
        );
        assert_eq!(ok.as_deref(), Some("1"));
        // The megabytes of stack that took are given back when the call ends (parsing and
        // evaluating leave the check to the end of the call).
        assert_eq!(noetl_vars_core::stack::deep_pages_resident(), Some(false));
    }

    #[pg_test]
    fn locks_are_held_until_the_end_of_the_transaction() {
        run(
            "SELECT noetl.render_vars(11, 's', '{}', '{\"c\": \"{{ vars.c | default(0) + 1 }}\"}')",
        );
        // The execution in ROW EXCLUSIVE mode (the call writes some of its variables) and one
        // exclusive name lock, in the extension's key space.
        assert_eq!(
            text("SELECT string_agg(mode || '/' || objsubid, ',' ORDER BY objsubid) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").as_deref(),
            Some("RowExclusiveLock/20054,ExclusiveLock/20055")
        );
    }

    #[pg_test]
    fn a_block_reading_names_known_at_run_time_locks_the_execution_up_front() {
        run("SELECT noetl.set_var(14, 'y', '1')");
        run("SELECT noetl.render_vars(14, 's', '{\"k\": \"y\"}', '{\"x\": \"{{ vars[result.k] + 1 }}\"}')");
        // set_var took the execution (ROW EXCLUSIVE) and y; the render took the execution in
        // SHARE ROW EXCLUSIVE mode up front and x, and no shared lock on y in the middle of
        // the evaluation: the execution lock covers it.
        assert_eq!(
            text("SELECT string_agg(mode || '/' || objsubid, ',' ORDER BY objsubid, mode) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").as_deref(),
            Some("RowExclusiveLock/20054,ShareRowExclusiveLock/20054,ExclusiveLock/20055,ExclusiveLock/20055")
        );
        assert_eq!(int("SELECT (noetl.get_var(14, 'x'))::int8"), 2);
    }

    #[pg_test(
        error = "this transaction would hold 42 noetl_vars locks, more than noetl_vars.max_transaction_locks (40)"
    )]
    fn a_transaction_over_its_lock_budget_fails_before_locking() {
        run("SET LOCAL noetl_vars.max_transaction_locks = 40");
        run("SELECT count(noetl.set_var(3000000 + g, 'x', '1')) FROM generate_series(1, 1000) g");
    }

    #[pg_test]
    fn cleanup_takes_the_whole_execution() {
        run("SELECT noetl.set_vars(12, '{\"a\": 1, \"b\": 2}')");
        assert_eq!(int("SELECT noetl.cleanup_execution(12)::int8"), 2);
        assert_eq!(int("SELECT noetl.cleanup_execution(12)::int8"), 0);
    }

    #[pg_test(error = "step \"s\", variable \"bad\": undefined value in template {{ vars.nope }}")]
    fn render_errors_name_step_variable_and_template() {
        run("SELECT noetl.render_vars(13, 's', '{}', '{\"keep\": 2, \"bad\": \"{{ vars.nope }}\"}')");
    }

    #[pg_test]
    fn a_set_block_locks_each_scope_it_writes_until_the_transaction_ends() {
        run("SELECT noetl.apply_set(14, 'loop', '{\"step.n\": 1, \"iter.m\": 2, \"global.g\": 3}', iteration => 0)");
        // One lock per scope written: the step's and the iteration's (objsubid 20056) and the
        // global one (20057, shared across executions).
        assert_eq!(
            int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 20056 AND pid = pg_backend_pid() AND mode = 'ExclusiveLock'"),
            2
        );
        assert_eq!(
            int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 20057 AND pid = pg_backend_pid() AND mode = 'ExclusiveLock'"),
            1
        );
        assert_eq!(
            text("SELECT noetl.context_vars(14, 'loop', 0)::text").as_deref(),
            Some("{\"ctx\": {}, \"iter\": {\"m\": 2}, \"step\": {\"n\": 1}, \"global\": {\"g\": 3}, \"workflow\": {}}")
        );
        assert_eq!(int("SELECT noetl.finish_step(14, 'loop')::int8"), 2);
    }

    #[pg_test]
    fn a_set_block_that_only_reads_a_scope_shares_its_lock() {
        run("SELECT noetl.apply_set(15, 's', '{\"ctx.a\": \"{{ step.n | default(0) }}\"}')");
        assert_eq!(
            int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 20056 AND pid = pg_backend_pid() AND mode = 'ShareLock'"),
            1
        );
    }

    #[pg_test(error = "set: key \"foo.x\": unknown scope \"foo\"")]
    fn a_set_key_with_an_unknown_scope_is_an_error() {
        run("SELECT noetl.apply_set(16, 's', '{\"foo.x\": 1}')");
    }

    #[pg_test]
    fn a_set_block_that_only_reads_a_shared_scope_takes_no_lock_on_it() {
        run("SELECT noetl.apply_set(17, 's', '{\"ctx.a\": \"{{ global.g | default(0) }}\", \"ctx.b\": \"{{ workflow.w | default(0) }}\"}', playbook => 'p')");
        assert_eq!(
            int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 20057 AND pid = pg_backend_pid()"),
            0
        );
    }

    #[pg_test]
    fn a_bare_name_in_a_set_block_locks_the_step_scope_it_may_read() {
        run("SELECT noetl.apply_set(18, 's', '{\"ctx.a\": \"{{ n | default(0) }}\"}')");
        assert_eq!(
            int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 20056 AND pid = pg_backend_pid() AND mode = 'ShareLock'"),
            1
        );
    }

    #[pg_test]
    fn an_event_delivered_twice_applies_once_and_returns_the_first_result() {
        run("SELECT noetl.set_var(19, 'n', '0')");
        let block = "'{\"n\": \"{{ vars.n + 1 }}\"}'";
        let call =
            format!("SELECT noetl.render_vars(19, 's', '{{}}', {block}, event_id => 'e1')::text");
        assert_eq!(text(&call).as_deref(), Some("{\"n\": 1}"));
        assert_eq!(text(&call).as_deref(), Some("{\"n\": 1}"));
        assert_eq!(int("SELECT (noetl.get_var(19, 'n'))::int8"), 1);
        assert_eq!(
            int("SELECT count(*) FROM noetl.applied_events WHERE execution_id = 19"),
            1
        );
    }

    #[pg_test]
    fn a_resume_overwrites_a_differing_runtime_value_and_reports_it() {
        run("SELECT noetl.set_var(20, 'page_size', '100')");
        assert_eq!(
            text("SELECT noetl.resume_execution(20, '{\"page_size\": 50}') -> 'conflicts' ->> 'page_size'").as_deref(),
            Some("{\"runtime\": 100, \"predefined\": 50}")
        );
        assert_eq!(int("SELECT (noetl.get_var(20, 'page_size'))::int8"), 50);
    }

    #[pg_test]
    fn a_ttl_sets_expires_at_from_the_statement_start() {
        run("SELECT noetl.set_var(21, 't', '1', ttl => interval '15 minutes')");
        assert_eq!(
            int("SELECT extract(epoch FROM expires_at - statement_timestamp())::int8 / 60 FROM noetl.transient WHERE execution_id = 21"),
            15
        );
    }

    #[pg_test]
    fn a_watch_captures_from_the_next_statement_and_stops_when_dropped() {
        run("SELECT noetl.set_var(31, 'before', '1')");
        let id = int(
            "SELECT (noetl.watch(channel => 'pg_test', execution_id => 31) ->> 'watch_id')::int8",
        );
        run("SELECT noetl.set_var(31, 'seen', '2')");
        run("SELECT noetl.set_var(32, 'other_execution', '3')");
        assert_eq!(
            text("SELECT string_agg(var_name || ':' || kind, ',' ORDER BY seq) FROM noetl.watch_outbox")
                .as_deref(),
            Some("seen:set")
        );
        run(&format!("SELECT noetl.unwatch({id})"));
        run("SELECT noetl.set_var(31, 'after', '4')");
        assert_eq!(int("SELECT count(*) FROM noetl.watch_outbox"), 0);
    }

    #[pg_test(
        error = "variable \"pt\" of execution 41 does not match its declared schema: keyword \"type\" fails at the value itself"
    )]
    fn a_declared_variable_refuses_a_value_of_another_type() {
        run("SELECT noetl.declare_var('pt', '{\"type\": \"integer\"}')");
        run("SELECT noetl.set_var(41, 'pt', '1')");
        run("SELECT noetl.set_var(41, 'pt', '\"x\"')");
    }

    // The test cluster has no key: encryption at rest fails closed.
    #[pg_test(
        error = "no encryption key is configured, so a sensitive variable cannot be stored or read"
    )]
    fn a_sensitive_write_without_a_key_is_refused() {
        run("SELECT noetl.declare_var('ps', sensitive => true)");
        run("SELECT noetl.set_var(42, 'ps', '\"s3cret\"')");
    }

    #[pg_test]
    fn the_listing_shows_a_sealed_value_redacted_without_its_key() {
        run(
            "INSERT INTO noetl.transient (execution_id, var_name, var_value) \
             VALUES (43, 'copied', '{\"noetl_vars_sealed\": \"v1.k1.AAAA\"}')",
        );
        assert_eq!(
            text("SELECT noetl.vars_list(43) #>> '{variables,copied,value}'").as_deref(),
            Some("[REDACTED]")
        );
    }

    // Several calls into PostgreSQL under one boundary (src/backend/ffi.rs): an ERROR raised
    // by any of them is reported as an ERROR of the statement, as for a single call.
    #[pg_test(error = "could not open relation with OID 0")]
    fn an_error_inside_one_boundary_is_the_statement_s_error() {
        use crate::backend::ffi;
        // SAFETY: on the backend's thread; the closure holds plain data only.
        unsafe {
            ffi::boundary(|| {
                let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
                ffi::table_open(pg_sys::InvalidOid, lock)
            });
        }
    }
}
