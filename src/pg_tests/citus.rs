//! What Citus needs of the extension's statements and tables (docs/scale-out.md), checked
//! without Citus: its own test suite cannot run here (no package of it), and a statement or
//! key that breaks one of these would only fail on a distributed cluster.

#[pgrx::pg_schema]
mod tests {
    use std::ffi::CString;

    use pgrx::prelude::*;

    use crate::storage::spi::Query;
    use crate::storage::{legacy_queries, queries, scoped_queries};

    /// Whether the `ON CONFLICT … DO UPDATE SET` list or its `WHERE` of `query` calls a
    /// function that is not IMMUTABLE: Citus refuses such an `INSERT` on a distributed table
    /// ("functions used in the DO UPDATE SET clause of INSERTs on distributed tables must be
    /// marked IMMUTABLE"), whose check this is.
    fn mutable_on_conflict(query: &Query) -> bool {
        let sql = CString::new(query.sql).expect("no NUL in a statement");
        // SAFETY: parse analysis of one of the extension's statements, with its parameter
        // types, in the test's transaction; the trees live in its memory context.
        unsafe {
            let raw = pg_sys::pg_parse_query(sql.as_ptr());
            assert_eq!((*raw).length, 1, "{}: one statement", query.name);
            let stmt = (*(*raw).elements).ptr_value as *mut pg_sys::RawStmt;
            let tree = pg_sys::parse_analyze_fixedparams(
                stmt,
                sql.as_ptr(),
                query.args.as_ptr(),
                query.args.len() as i32,
                std::ptr::null_mut(),
            );
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
}
