//! `render_vars` and `render_iteration` (docs/reference.md, `render_vars` and `render_iteration`): their arguments checked, then one
//! [`Call`] of the block runner in [`crate::blocks`].

use noetl_vars_core::validate::{self, Phase};
use noetl_vars_core::Error;
use pgrx::datum::Interval;
use pgrx::prelude::*;

use super::args;
use crate::backend::errors::OrRaise;
use crate::blocks::vars_block::{Call, Iteration};
use crate::storage::jsonb::PgJsonb;

/// Renders a step's `vars:` block and stores every variable as `step_result`.
#[pg_extern(name = "render_vars", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
pub(super) fn render_vars_v6(
    execution_id: Option<i64>,
    step: Option<&str>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: default!(Option<PgJsonb>, "'{}'"),
    phase: default!(Option<&str>, "'after'"),
    ttl: default!(Option<Interval>, "NULL"),
    event_id: default!(Option<&str>, "NULL"),
) -> PgJsonb {
    let call = Call {
        execution_id: args::execution_id(execution_id),
        step: validate::step_name(step).or_raise(),
        result,
        config,
        context,
        phase: Phase::parse(phase).or_raise(),
        iteration: None,
        ttl: args::ttl(ttl),
        event_id: args::event_id(event_id),
    };
    call.render()
}

/// Records one iteration of a looping step, then applies its per-iteration vars block.
#[pg_extern(name = "render_iteration", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
pub(super) fn render_iteration_v6(
    execution_id: Option<i64>,
    step: Option<&str>,
    item: Option<PgJsonb>,
    item_index: Option<i32>,
    total: Option<i32>,
    result: Option<PgJsonb>,
    config: Option<PgJsonb>,
    context: default!(Option<PgJsonb>, "'{}'"),
    ttl: default!(Option<Interval>, "NULL"),
    event_id: default!(Option<&str>, "NULL"),
) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    let ttl = args::ttl(ttl);
    let step = validate::step_name(step).or_raise();
    let index = item_index
        .ok_or_else(|| Error::null_argument("item_index"))
        .or_raise();
    let names = ["index", "item", "total", "count"].map(|suffix| format!("{step}_{suffix}"));
    for name in &names {
        validate::check_name("iterator variable name", name).or_raise();
    }
    let call = Call {
        execution_id,
        step,
        result,
        config,
        context,
        phase: Phase::After,
        iteration: Some(Iteration {
            item,
            index,
            total,
            names,
        }),
        ttl,
        event_id: args::event_id(event_id),
    };
    call.render()
}
