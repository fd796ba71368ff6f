//! The entry points the SQL definitions of 0.5.0 and earlier call (`set_var_wrapper`, …), with
//! the argument lists those versions declared. Between installing a newer package and
//! `ALTER EXTENSION noetl_vars UPDATE`, the old definitions call the new library: each entry
//! point here runs today's function with the arguments those versions did not have left out.
//! No SQL is generated for them (`sql = false`); the current definitions call `<name>_v6`.

use pgrx::prelude::*;

use crate::storage::jsonb::PgJsonb;

#[pg_extern(sql = false)]
fn set_var(
    execution_id: Option<i64>,
    var_name: Option<&str>,
    var_value: Option<PgJsonb>,
    var_type: Option<&str>,
    source_step: Option<&str>,
) {
    super::store::set_var_v6(
        execution_id,
        var_name,
        var_value,
        var_type,
        source_step,
        None,
    )
}

#[pg_extern(sql = false)]
fn set_vars(
    execution_id: Option<i64>,
    variables: Option<PgJsonb>,
    var_type: Option<&str>,
    source_step: Option<&str>,
) -> PgJsonb {
    super::store::set_vars_v6(execution_id, variables, var_type, source_step, None)
}

#[pg_extern(sql = false)]
fn render_vars(
    execution_id: Option<i64>,
    step: Option<&str>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: Option<PgJsonb>,
    phase: Option<&str>,
) -> PgJsonb {
    super::vars_blocks::render_vars_v6(
        execution_id,
        step,
        result,
        config,
        context,
        phase,
        None,
        None,
    )
}

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments)]
fn render_iteration(
    execution_id: Option<i64>,
    step: Option<&str>,
    item: Option<PgJsonb>,
    item_index: Option<i32>,
    total: Option<i32>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: Option<PgJsonb>,
) -> PgJsonb {
    super::vars_blocks::render_iteration_v6(
        execution_id,
        step,
        item,
        item_index,
        total,
        result,
        config,
        context,
        None,
        None,
    )
}

#[pg_extern(sql = false)]
fn apply_set(
    execution_id: Option<i64>,
    step: Option<&str>,
    mutations: Option<PgJsonb>,
    context: Option<PgJsonb>,
    iteration: Option<i32>,
    playbook: Option<&str>,
) -> PgJsonb {
    super::set_blocks::apply_set_v6(
        execution_id,
        step,
        mutations,
        context,
        iteration,
        playbook,
        None,
        None,
    )
}
