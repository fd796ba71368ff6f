//! An arbitrary JSON document as a vars block (both formats, both phases), with arbitrary JSON
//! as result: parsing, planning and evaluating must never panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use noetl_vars_core::block;
use noetl_vars_core::context::{EmptyStore, Scope, VarsState};
use noetl_vars_core::doc::SerdeDoc;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::validate::Phase;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (config, result) = text.split_once('\u{1}').unwrap_or((text, "null"));
    let Some(config) = SerdeDoc::parse(config) else {
        return;
    };
    let result = SerdeDoc::parse(result);
    let limits = Limits {
        fuel: Some(50_000),
        cache_size: 64,
        max_value_bytes: 1 << 20,
        ..Limits::default()
    };
    for phase in [Phase::Before, Phase::After] {
        let vars = VarsState::new(Arc::new(EmptyStore));
        let scope = Arc::new(Scope::new(1, "fuzz", result.clone(), None, Vec::new(), vars));
        let Ok(entries) = block::parse(Some(&config), phase, &limits) else {
            continue;
        };
        let plan = render::plan(entries, &scope);
        let settings = Settings {
            limits,
            stop_on_error: false,
        };
        for outcome in render::evaluate(&plan, &scope, &settings).unwrap_or_default() {
            if let Ok(value) = outcome.value {
                let _ = value.to_json();
            }
        }
    }
});
