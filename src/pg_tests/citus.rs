//! What Citus needs of the extension's statements and tables (docs/scale-out.md), checked
//! without Citus: its own test suite cannot run here (no package of it), and a statement or
//! key that breaks one of these would only fail on a distributed cluster.

#[pgrx::pg_schema]
mod tests {
    use std::ffi::CString;

    use pgrx::prelude::*;

    use pgrx::datum::Interval;
    use pgrx::IntoDatum;

    use crate::storage::spi::{execute, int8_arg, Connection, Query};
    use crate::storage::{legacy_queries, purge_queries, queries, scoped_queries};

    /// `query` parsed and analyzed with its parameter types, in the test's transaction (the
    /// tree lives in its memory context).
    fn analyzed(query: &Query) -> *mut pg_sys::Query {
        let sql = CString::new(query.sql).expect("no NUL in a statement");
        // SAFETY: parse analysis of one of the extension's statements, with its parameter
        // types, inside the test's transaction.
        unsafe {
            let raw = pg_sys::pg_parse_query(sql.as_ptr());
            assert_eq!((*raw).length, 1, "{}: one statement", query.name);
            let stmt = (*(*raw).elements).ptr_value as *mut pg_sys::RawStmt;
            pg_sys::parse_analyze_fixedparams(
                stmt,
                sql.as_ptr(),
                query.args.as_ptr(),
                query.args.len() as i32,
                std::ptr::null_mut(),
            )
        }
    }

    /// Whether the `ON CONFLICT … DO UPDATE SET` list or its `WHERE` of `query` calls a
    /// function that is not IMMUTABLE: Citus refuses such an `INSERT` on a distributed table
    /// ("functions used in the DO UPDATE SET clause of INSERTs on distributed tables must be
    /// marked IMMUTABLE"), whose check this is.
    fn mutable_on_conflict(query: &Query) -> bool {
        let tree = analyzed(query);
        // SAFETY: an analyzed Query tree of this transaction.
        unsafe {
            let conflict = (*tree).onConflict;
            !conflict.is_null()
                && (pg_sys::contain_mutable_functions((*conflict).onConflictSet.cast())
                    || pg_sys::contain_mutable_functions((*conflict).onConflictWhere))
        }
    }

    #[pg_test]
    fn no_upsert_calls_a_function_citus_refuses_in_do_update() {
        let all = queries::PER_EXECUTION
            .iter()
            .chain(&legacy_queries::LEGACY)
            .chain(&scoped_queries::SCOPED);
        let refused: Vec<&str> = all
            .filter(|q| mutable_on_conflict(q))
            .map(|q| q.name)
            .collect();
        assert!(
            refused.is_empty(),
            "not IMMUTABLE in DO UPDATE: {refused:?}"
        );
    }

    /// Citus distributes a table only by a column of each of its unique keys: every unique key
    /// of a table that holds one execution's rows includes `execution_id`.
    #[pg_test]
    fn every_unique_key_of_a_per_execution_table_includes_execution_id() {
        let missing = Spi::get_one::<String>(
            "SELECT pg_catalog.string_agg(i.indexrelid::pg_catalog.regclass::text, ', ') \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attname = 'execution_id' \
             WHERE i.indisunique \
               AND i.indrelid = ANY (ARRAY['noetl.transient', 'noetl.transient_history', \
                                           'noetl.applied_events', 'noetl.step_vars']::regclass[]) \
               AND NOT a.attnum = ANY (i.indkey::int2[])",
        )
        .expect("query failed");
        assert_eq!(missing, None, "unique keys without execution_id");
    }

    /// Whether `query`, or a `WITH` query of it, locks rows (`FOR UPDATE`, `FOR SHARE`):
    /// Citus refuses that in a statement over several shards ("could not run distributed
    /// query with FOR UPDATE/SHARE commands").
    fn locks_rows(query: &Query) -> bool {
        let tree = analyzed(query);
        // SAFETY: an analyzed Query tree of this transaction; its CTE list holds
        // CommonTableExpr nodes whose queries are analyzed Query trees.
        unsafe {
            let mut queries = vec![tree];
            let ctes = (*tree).cteList;
            for i in 0..if ctes.is_null() { 0 } else { (*ctes).length } {
                let cte =
                    (*(*ctes).elements.add(i as usize)).ptr_value as *mut pg_sys::CommonTableExpr;
                queries.push((*cte).ctequery as *mut pg_sys::Query);
            }
            queries.iter().any(|q| !(**q).rowMarks.is_null())
        }
    }

    /// The purges' statements that span executions lock no row, so that they run on a
    /// coordinator over every shard; the single-server purge of expired rows does (and is
    /// not used there), which shows the check sees a lock inside a `WITH` query.
    #[pg_test]
    fn statements_spanning_executions_under_citus_lock_no_row() {
        let locking: Vec<&str> = purge_queries::SPANNING_UNDER_CITUS
            .iter()
            .filter(|q| locks_rows(q))
            .map(|q| q.name)
            .collect();
        assert!(locking.is_empty(), "lock rows over shards: {locking:?}");
        assert!(locks_rows(&purge_queries::PURGE_EXPIRED_ROWS));
    }

    /// Where the table is distributed, expired variables go one execution at a time: those
    /// that ended first first, within the batch, across executions.
    #[pg_test]
    fn expired_variables_one_execution_at_a_time_keep_the_batch_and_the_order() {
        Spi::run(
            "INSERT INTO noetl.transient (execution_id, var_name, var_value, expires_at) \
             SELECT 950 + g % 3, 'v' || g, '1', now() - g * interval '1 minute' \
             FROM generate_series(1, 6) g",
        )
        .expect("seeded");
        let purged = {
            let _conn = Connection::open();
            crate::api::purge::expired_one_execution_at_a_time(4)
        };
        let counts: Vec<(i64, i32)> = purged.iter().map(|(e, n, _)| (*e, *n)).collect();
        // 950's first variable ended first (v6, v3), then 952's (v5, v2); the batch of 4 is
        // spent before 951's (v4, v1).
        assert_eq!(counts, vec![(950, 2), (952, 2)]);
        let left = Spi::get_one::<String>(
            "SELECT string_agg(var_name, ',' ORDER BY var_name) FROM noetl.transient \
             WHERE execution_id BETWEEN 950 AND 952",
        )
        .expect("read");
        assert_eq!(left.as_deref(), Some("v1,v4"));
    }

    /// The statement a coordinator runs for each stale execution calls
    /// `noetl.purge_execution`; on one server it purges here.
    #[pg_test]
    fn the_delegated_purge_statement_purges_one_stale_execution() {
        Spi::run(
            "SELECT noetl.set_vars(960, '{\"a\": 1, \"b\": 2}'); \
             SELECT noetl.set_var(961, 'a', '1'); \
             UPDATE noetl.transient SET created_at = now() - interval '2 days', \
                    accessed_at = now() - interval '2 days' WHERE execution_id IN (960, 961)",
        )
        .expect("seeded");
        let purged = {
            let _conn = Connection::open();
            let age = Interval::new(0, 1, 0).expect("an interval");
            let age = (age.into_datum().expect("a datum"), false);
            let rows = execute(
                &purge_queries::PURGE_DELEGATED,
                &[int8_arg(960), age],
                false,
            );
            rows.get(0, 1).map(|d| d.value() as i32)
        };
        assert_eq!(purged, Some(2));
        let left = Spi::get_one::<i64>(
            "SELECT count(*) FROM noetl.transient WHERE execution_id IN (960, 961)",
        )
        .expect("read");
        assert_eq!(left, Some(1));
    }

    /// What serializes the writers of a shared scope across Citus nodes is a row-locking read
    /// of that scope's table (Citus then locks the table's shard on its first worker until
    /// commit) that returns nothing.
    #[pg_test]
    fn the_shared_scopes_writers_meet_at_a_row_lock_of_their_table() {
        for (query, table) in [
            (&scoped_queries::WORKFLOW_WRITERS, "noetl.workflow_vars"),
            (&scoped_queries::GLOBAL_WRITERS, "noetl.global_vars"),
        ] {
            assert!(locks_rows(query), "{}", query.name);
            assert!(query.sql.contains(table), "{}", query.name);
        }
        Spi::run("INSERT INTO noetl.global_vars (var_name, var_value) VALUES ('x', '1')")
            .expect("seeded");
        let _conn = Connection::open();
        let rows = execute(&scoped_queries::GLOBAL_WRITERS, &[], false);
        assert_eq!(rows.len(), 0);
    }

    /// What a call runs before it reads rows to write them, where Citus is loaded, is a
    /// modification (Citus locks a shard's placement for those, not for a row-locking read)
    /// of the execution that matches none of its rows.
    #[pg_test]
    fn the_placement_hold_is_a_modification_that_changes_no_row() {
        let tree = analyzed(&queries::HOLD_PLACEMENT);
        // SAFETY: an analyzed Query tree of this transaction.
        let command = unsafe { (*tree).commandType };
        assert_eq!(command, pg_sys::CmdType::CMD_UPDATE);
        Spi::run(
            "SELECT noetl.set_vars(970, '{\"a\": 1, \"b\": 2}'); SELECT noetl.get_var(970, 'a')",
        )
        .expect("seeded");
        let before = Spi::get_one::<String>(
            "SELECT string_agg(t::text, ';' ORDER BY var_name) FROM noetl.transient t WHERE execution_id = 970",
        )
        .expect("read");
        let changed = {
            let _conn = Connection::open();
            execute(&queries::HOLD_PLACEMENT, &[int8_arg(970)], false).processed()
        };
        assert_eq!(changed, 0);
        let after = Spi::get_one::<String>(
            "SELECT string_agg(t::text, ';' ORDER BY var_name) FROM noetl.transient t WHERE execution_id = 970",
        )
        .expect("read");
        assert_eq!(before, after);
    }
}
