//! A `set:` block end to end, without a database (docs/set-blocks.md): which scope each key writes, what
//! templates see as `ctx`, `step`, `iter`, `workflow` and `global`, and the order entries run in.

use std::sync::Arc;

use noetl_vars_core::context::{MemoryStore, Scope, VarsState};
use noetl_vars_core::doc::{DocRef, SerdeDoc};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::set::{self, Available};
use noetl_vars_core::{scopes, Error, ErrorKind};

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap_or_else(|| panic!("bad JSON in test: {text}"))
}

fn store(vars: &[(&str, &str)]) -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(
        vars.iter().map(|(n, v)| (n.to_string(), doc(v))).collect(),
    ))
}

const ALL: Available = Available {
    iteration: true,
    playbook: true,
};

/// Stored values per scope: `ctx`, `step`, `iter` (over `context.iter`), `workflow`, `global`.
struct Stores<'a> {
    ctx: &'a [(&'a str, &'a str)],
    step: &'a [(&'a str, &'a str)],
    iter: &'a [(&'a str, &'a str)],
}

const EMPTY: Stores<'static> = Stores {
    ctx: &[],
    step: &[],
    iter: &[],
};

/// Every outcome of `mutations` as (key as written, JSON text), or the first error.
fn apply(
    mutations: &str,
    context: &str,
    stores: &Stores<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let limits = Limits::default();
    let context = doc(context);
    let iter_base = context.get("iter");
    let scope = Scope::new(
        7,
        "fetch",
        None,
        Some(context),
        Vec::new(),
        VarsState::new(store(stores.ctx)),
    )
    .with_scopes(vec![
        ("step", VarsState::scoped(store(stores.step), "step", None)),
        (
            "iter",
            VarsState::scoped(store(stores.iter), "iter", iter_base),
        ),
        ("workflow", VarsState::scoped(store(&[]), "workflow", None)),
        (
            "global",
            VarsState::scoped(store(&[("limit", "10")]), "global", None),
        ),
    ]);
    let scope = Arc::new(scope);
    let entries = set::parse(Some(&doc(mutations)), ALL, &limits)?;
    let plan = render::plan(entries, &scope);
    let settings = Settings {
        limits,
        stop_on_error: true,
    };
    render::evaluate(&plan, &scope, &settings)?
        .into_iter()
        .map(|o| Ok((scopes::display(&o.name), o.value?.to_json())))
        .collect()
}

fn ok(mutations: &str, context: &str, stores: &Stores<'_>) -> Vec<(String, String)> {
    apply(mutations, context, stores).unwrap_or_else(|e| panic!("{mutations}: {e}"))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn each_prefix_writes_its_scope_and_a_bare_key_is_ctx() {
    let entries = set::parse(
        Some(&doc(
            r#"{"ctx.a": 1, "b": 2, "step.c": 3, "iter.d": 4, "workflow.e": 5, "global.f": 6}"#,
        )),
        ALL,
        &Limits::default(),
    )
    .unwrap();
    let keys: Vec<(Option<&str>, &str)> = entries.iter().map(|e| scopes::split(&e.name)).collect();
    assert_eq!(
        keys,
        [
            (None, "a"),
            (None, "b"),
            (Some("step"), "c"),
            (Some("iter"), "d"),
            (Some("workflow"), "e"),
            (Some("global"), "f")
        ]
    );
}

#[test]
fn an_unknown_prefix_or_an_empty_name_is_refused_naming_it() {
    for (mutations, says) in [
        (r#"{"foo.x": 1}"#, "unknown scope \"foo\""),
        (r#"{"setp.attempts": 1}"#, "unknown scope \"setp\""),
        (r#"{"ctx.": 1}"#, "names no variable"),
        (r#"{"step.": 1}"#, "names no variable"),
        (r#"{"": 1}"#, "names no variable"),
        (r#"{"x": 1, "ctx.x": 2}"#, "write the same variable"),
        ("[1]", "must be a JSON object"),
    ] {
        let err = set::parse(Some(&doc(mutations)), ALL, &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{mutations}");
        assert!(err.message.contains(says), "{mutations}: {}", err.message);
    }
}

#[test]
fn iter_needs_an_iteration_and_workflow_a_playbook() {
    let none = Available::default();
    let err = set::parse(Some(&doc(r#"{"iter.x": 1}"#)), none, &Limits::default()).unwrap_err();
    assert!(err.message.contains("iteration is NULL"), "{}", err.message);
    let err = set::parse(Some(&doc(r#"{"workflow.x": 1}"#)), none, &Limits::default()).unwrap_err();
    assert!(err.message.contains("playbook is NULL"), "{}", err.message);
    assert!(set::parse(
        Some(&doc(r#"{"global.x": 1, "step.y": 2}"#)),
        none,
        &Limits::default()
    )
    .is_ok());
}

#[test]
fn templates_read_each_scope_by_its_name() {
    let stores = Stores {
        ctx: &[("processed", "4")],
        step: &[("attempts", "2")],
        iter: &[("seen", "true")],
    };
    let out = ok(
        r#"{"ctx.processed": "{{ ctx.processed + 1 }}",
            "step.attempts": "{{ (step.attempts | default(0)) + 1 }}",
            "iter.last_id": "{{ iter.item.id }}",
            "iter.first": "{{ iter._first and iter.seen }}",
            "ctx.cap": "{{ global.limit * vars.processed }}",
            "ctx.eid": "{{ execution_id }}",
            "ctx.out": "{{ output.data.id }}"}"#,
        r#"{"iter": {"item": {"id": 42}, "_index": 0, "_first": true}, "output": {"data": {"id": "u1"}}}"#,
        &stores,
    );
    assert_eq!(
        out,
        pairs(&[
            ("processed", "5"),
            ("step.attempts", "3"),
            ("iter.last_id", "42"),
            ("iter.first", "true"),
            ("cap", "50"),
            ("eid", "7"),
            ("out", "\"u1\"")
        ])
    );
}

#[test]
fn a_key_reading_another_key_of_the_block_runs_after_it() {
    let out = ok(
        r#"{"ctx.total": "{{ step.n * 2 }}", "step.n": "{{ iter.x + 1 }}", "iter.x": 20}"#,
        r#"{"iter": {}}"#,
        &EMPTY,
    );
    assert_eq!(
        out,
        pairs(&[("iter.x", "20"), ("step.n", "21"), ("total", "42")])
    );
}

#[test]
fn a_key_reading_its_own_name_sees_the_stored_value_in_every_scope() {
    let stores = Stores {
        ctx: &[("n", "1")],
        step: &[("n", "10")],
        iter: &[("n", "100")],
    };
    let out = ok(
        r#"{"ctx.n": "{{ ctx.n + 1 }}", "step.n": "{{ step.n + ctx.n }}", "iter.n": "{{ iter.n + step.n }}"}"#,
        "{}",
        &stores,
    );
    assert_eq!(
        out,
        pairs(&[("n", "2"), ("step.n", "12"), ("iter.n", "112")])
    );
}

#[test]
fn a_stored_iteration_value_wins_over_what_context_iter_passes() {
    let stores = Stores {
        iter: &[("item", "\"stored\"")],
        ..EMPTY
    };
    let out = ok(
        r#"{"ctx.v": "{{ iter.item }}"}"#,
        r#"{"iter": {"item": "passed"}}"#,
        &stores,
    );
    assert_eq!(out, pairs(&[("v", "\"stored\"")]));
}

#[test]
fn a_cycle_through_scopes_names_the_keys_as_written() {
    let err = apply(
        r#"{"step.a": "{{ ctx.b }}", "ctx.b": "{{ step.a }}"}"#,
        "{}",
        &EMPTY,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cycle);
    assert!(err.message.contains("\"step.a\""), "{}", err.message);
    assert!(!err.message.contains('\0'), "{}", err.message);
}

#[test]
fn a_bare_name_is_the_most_specific_variable_there_is() {
    let stores = Stores {
        ctx: &[("a", "\"ctx\""), ("b", "\"ctx\""), ("c", "\"ctx\"")],
        step: &[("a", "\"step\""), ("b", "\"step\"")],
        iter: &[("a", "\"iter\"")],
    };
    // The iteration's, else the step's, else the execution's, else the global one (`limit`);
    // `vars.x` and `ctx.x` are always the execution's.
    let out = ok(
        r#"{"ctx.r": "{{ [a, b, c, limit] | join(',') }}", "ctx.v": "{{ vars.a }}", "ctx.x": "{{ ctx.a }}"}"#,
        r#"{"iter": {}}"#,
        &stores,
    );
    assert_eq!(
        out,
        pairs(&[
            ("r", "\"iter,step,ctx,10\""),
            ("v", "\"ctx\""),
            ("x", "\"ctx\"")
        ])
    );
}

#[test]
fn a_context_key_wins_over_every_variable_of_that_name() {
    let stores = Stores {
        step: &[("a", "\"step\"")],
        ..EMPTY
    };
    let out = ok(r#"{"ctx.r": "{{ a }}"}"#, r#"{"a": "context"}"#, &stores);
    assert_eq!(out, pairs(&[("r", "\"context\"")]));
}

#[test]
fn a_bare_name_written_in_the_block_is_read_after_it_and_its_own_name_is_stored() {
    let stores = Stores {
        ctx: &[("n", "100")],
        step: &[("m", "1")],
        ..EMPTY
    };
    let out = ok(
        r#"{"ctx.r": "{{ n }}", "step.n": 5, "step.m": "{{ m + 1 }}"}"#,
        r#"{"iter": {}}"#,
        &stores,
    );
    assert_eq!(out, pairs(&[("step.n", "5"), ("r", "5"), ("step.m", "2")]));
}
