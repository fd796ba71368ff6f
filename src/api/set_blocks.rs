//! `apply_set`, `context_vars` and `finish_step` (docs/set-blocks.md): NoETL's `set:` blocks and the
//! scopes they write.

use noetl_vars_core::validate;
use pgrx::datum::Interval;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::args;
use crate::backend::errors::OrRaise;
use crate::backend::locks::Locks;
use crate::blocks::set_block::SetCall;
use crate::storage::jsonb::PgJsonb;
use crate::storage::legacy_queries::pick;
use crate::storage::scoped_queries as q;
use crate::storage::sealed::{self, Row};
use crate::storage::spi::{execute, Connection};
use crate::storage::table::{int8_arg, opt_text_arg, text_arg};

/// Applies one `set:` block (a step's or an arc's) and returns what it stored, by scope.
#[pg_extern(name = "apply_set", volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_set_v6(
    execution_id: Option<i64>,
    step: Option<&str>,
    mutations: Option<PgJsonb>,
    context: default!(Option<PgJsonb>, "'{}'"),
    iteration: default!(Option<i32>, "NULL"),
    playbook: default!(Option<&str>, "NULL"),
    ttl: default!(Option<Interval>, "NULL"),
    event_id: default!(Option<&str>, "NULL"),
) -> PgJsonb {
    let call = SetCall {
        execution_id: args::execution_id(execution_id),
        step: validate::step_name(step).or_raise(),
        mutations,
        context,
        iteration,
        playbook: playbook_name(playbook),
        ttl: args::ttl(ttl),
        event_id: args::event_id(event_id),
    };
    call.apply()
}

/// Every scope an execution's step and iteration see, in one read, untracked.
#[pg_extern(stable, parallel_restricted)]
fn context_vars(
    execution_id: Option<i64>,
    step: default!(Option<&str>, "NULL"),
    iteration: default!(Option<i32>, "NULL"),
    playbook: default!(Option<&str>, "NULL"),
) -> PgJsonb {
    let execution_id = args::execution_id(execution_id);
    if let Some(step) = step {
        validate::check_name("step", step).or_raise();
    }
    let playbook = playbook_name(playbook);
    // An iteration belongs to a step: without one there is no iteration scope to read.
    let iteration = step.and(iteration);
    let conn = Connection::open();
    let iteration_arg = match iteration {
        Some(i) => (pg_sys::Datum::from(i), false),
        None => (pg_sys::Datum::from(0usize), true),
    };
    let step_arg = step.map_or((pg_sys::Datum::from(0usize), true), text_arg);
    let rows = execute(
        pick(&q::CONTEXT_LEGACY, &q::CONTEXT),
        &[
            int8_arg(execution_id),
            step_arg,
            iteration_arg,
            opt_text_arg(playbook),
        ],
        true,
    );
    let Some(datum) = rows.get(0, 1) else {
        pgrx::error!("noetl_vars: internal query context returned no row");
    };
    conn.in_caller(|| {
        // SAFETY: jsonb_build_object returns a non-null jsonb.
        let context = unsafe { PgJsonb::copy_of(datum) };
        let step = step.unwrap_or_default();
        let opened: Vec<(String, String)> = context
            .members()
            .into_iter()
            .filter_map(|(scope, values)| {
                let row = match scope.as_str() {
                    "ctx" => Row::Transient(execution_id),
                    "step" | "iter" => Row::Step {
                        execution_id,
                        step,
                        iteration: iteration.filter(|_| scope == "iter"),
                    },
                    "workflow" => Row::Workflow(playbook.unwrap_or_default()),
                    _ => Row::Global,
                };
                sealed::open_members(&row, values).map(|v| (scope, v.json_text()))
            })
            .collect();
        context.with_members(&opened)
    })
}

/// Removes a finished step's step- and iteration-scoped values; how many there were.
#[pg_extern(volatile, parallel_unsafe)]
fn finish_step(execution_id: Option<i64>, step: Option<&str>) -> i32 {
    let execution_id = args::execution_id(execution_id);
    let step = validate::step_name(step).or_raise();
    let _conn = Connection::open();
    // No call of the execution runs meanwhile: none sees half of the step's values gone.
    let _locks = Locks::whole(execution_id).or_raise();
    let removed = execute(
        &q::STEP_FINISH,
        &[int8_arg(execution_id), text_arg(step)],
        false,
    )
    .processed();
    i32::try_from(removed).unwrap_or(i32::MAX)
}

/// The playbook argument: a catalog path, not empty when given.
fn playbook_name(playbook: Option<&str>) -> Option<&str> {
    if let Some(p) = playbook {
        validate::check_name("playbook", p).or_raise();
    }
    playbook
}
