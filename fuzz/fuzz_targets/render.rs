//! One template with an arbitrary result, context and stored variables: rendering must end in
//! a typed value or an error, never a panic, a hang or a crash.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noetl_vars_core::block;
use noetl_vars_core::context::{MemoryStore, Scope, VarsState};
use noetl_vars_core::doc::{DocRef, SerdeDoc};
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::validate::Phase;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    template: &'a str,
    /// Read by the first template as `vars.other` and written by it.
    second: &'a str,
    result: &'a str,
    context: &'a str,
    vars: Vec<(&'a str, &'a str)>,
    before: bool,
    skip: bool,
}

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap_or_else(|| SerdeDoc::new(serde_json::Value::String(text.to_string())))
}

fuzz_target!(|input: Input<'_>| {
    let limits = Limits {
        fuel: Some(50_000),
        cache_size: 64,
        max_value_bytes: 1 << 20,
        ..Limits::default()
    };
    let store = MemoryStore::new(input.vars.iter().map(|(n, v)| (n.to_string(), doc(v))).collect());
    let vars = VarsState::new(Arc::new(store));
    let scope = Arc::new(Scope::new(
        7,
        "fuzz",
        Some(doc(input.result)),
        Some(doc(input.context)),
        vec![("item".to_string(), doc(input.context))],
        vars,
    ));
    let config = serde_json::json!({ "v": input.template, "other": input.second });
    let phase = if input.before { Phase::Before } else { Phase::After };
    let config = SerdeDoc::new(if input.before {
        serde_json::json!({ "before": config })
    } else {
        config
    });
    let Ok(entries) = block::parse(Some(&config), phase, &limits) else {
        return;
    };
    let plan = render::plan(entries, &scope);
    let settings = Settings {
        limits,
        stop_on_error: !input.skip,
    };
    for outcome in render::evaluate(&plan, &scope, &settings).unwrap_or_default() {
        if let Ok(value) = outcome.value {
            // Writing the value out must not fail either.
            let _ = value.to_json();
        }
    }
});
