//! Blocks as the pipeline reads them: every member of a block with its value and kind, and
//! a block seen before, whose parsed shape the backend kept (core/src/block/cache.rs).

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::pg_tests::{int, text};

    // A block's members are read in one pass of PostgreSQL's jsonb iterator
    // (src/storage/jsonb/members.rs): every kind of value comes out as it was written, nested
    // containers whole, in jsonb's key order, `$ttl` beside them applied.
    #[pg_test]
    fn every_member_of_a_block_keeps_its_value_and_kind() {
        let out = text(
            "SELECT noetl.render_vars(9, 's', '{\"k\": 7}',              '{\"n\": 12345678901234567890123, \"f\": false, \"z\": null, \"s\": \"plain\",                \"é\": [1, {\"a\": \"{{ result.k }}\"}], \"o\": {\"x\": {\"y\": [true]}}, \"t\": \"{{ result.k + 1 }}\",                \"$ttl\": {\"s\": \"1 hour\"}}')::text",
        );
        assert_eq!(
            out.as_deref(),
            Some(
                r#"{"f": false, "n": 12345678901234567890123, "o": {"x": {"y": [true]}}, "s": "plain", "t": 8, "z": null, "é": [1, {"a": 7}]}"#
            )
        );
        assert_eq!(
            text("SELECT string_agg(var_name, ',' ORDER BY var_name) FROM noetl.transient WHERE execution_id = 9 AND expires_at IS NOT NULL").as_deref(),
            Some("s")
        );
    }

    // The second call of a block gets its parsed shape from the backend's cache
    // (core/src/block/cache.rs): its verbatim values are read from that call's own block (the
    // first call's memory is gone by then), its templates see that call's result.
    #[pg_test]
    fn a_block_seen_before_gives_what_parsing_it_again_gives() {
        let block = "'{\"n\": 12345678901234567890123, \"s\": \"plain\", \"é\": [1, {\"a\": \"{{ result.k }}\", \"b\": [null, 2.50]}], \"t\": \"{{ result.k + 1 }}\", \"$ttl\": {\"s\": \"1 hour\"}}'";
        for (execution, k, a, t) in [(10, 7, 7, 8), (11, 41, 41, 42), (10, 7, 7, 8)] {
            let out = text(&format!(
                "SELECT noetl.render_vars({execution}, 's', '{{\"k\": {k}}}', {block})::text"
            ));
            assert_eq!(
                out,
                Some(format!(
                    r#"{{"n": 12345678901234567890123, "s": "plain", "t": {t}, "é": [1, {{"a": {a}, "b": [null, 2.50]}}]}}"#
                ))
            );
            assert_eq!(
                text(&format!("SELECT string_agg(var_name, ',' ORDER BY var_name) FROM noetl.transient WHERE execution_id = {execution} AND expires_at IS NOT NULL")).as_deref(),
                Some("s")
            );
        }
        let set = "'{\"ctx.v\": [\"x\", {\"y\": \"{{ vars.n | string | length }}\"}], \"step.w\": 5, \"$ttl\": {\"ctx.v\": \"1 day\"}}'";
        for execution in [10, 11] {
            let out = text(&format!(
                "SELECT noetl.apply_set({execution}, 'q', {set})::text"
            ));
            assert_eq!(
                out.as_deref(),
                Some(r#"{"ctx": {"v": ["x", {"y": 23}]}, "step": {"w": 5}}"#)
            );
            assert_eq!(
                int(&format!("SELECT count(*) FROM noetl.transient WHERE execution_id = {execution} AND var_name = 'v' AND expires_at > now() + interval '23 hours'")),
                1
            );
        }
    }
}
