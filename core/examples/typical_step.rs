//! The core's share of a step, without a database: parsing the block, planning it and
//! evaluating its templates, with the variables it reads already in memory. bench/run.py runs
//! it with the benchmark's own inputs to show how much of a call's time is template work.
//!
//! Usage: typical_step RESULT CONFIG CONTEXT VARS [CALLS [PAUSE_US]]   (the first four are
//! JSON texts; PAUSE_US: sleep that long before each call, not timed, as a backend waits for
//! its client between two steps). Prints one JSON object: microseconds per call for each
//! phase.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use noetl_vars_core::block;
use noetl_vars_core::context::{MemoryStore, Scope, VarsState};
use noetl_vars_core::doc::{DocRef, SerdeDoc};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::validate::Phase;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: typical_step RESULT CONFIG CONTEXT VARS [CALLS [PAUSE_US]]");
        return ExitCode::from(2);
    }
    let parse = |what: &str, text: &str| {
        SerdeDoc::parse(text).ok_or_else(|| format!("{what} is not JSON: {text}"))
    };
    let inputs = (|| -> Result<_, String> {
        let vars = match serde_json::from_str::<serde_json::Value>(&args[3]) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| (k, SerdeDoc::new(v)))
                .collect::<Vec<(String, DocRef)>>(),
            _ => return Err("VARS must be a JSON object".to_string()),
        };
        let calls = match args.get(4) {
            Some(n) => n.parse::<u32>().map_err(|e| format!("CALLS: {e}"))?,
            None => 100_000,
        };
        let pause = match args.get(5) {
            Some(us) => {
                Duration::from_micros(us.parse::<u64>().map_err(|e| format!("PAUSE_US: {e}"))?)
            }
            None => Duration::ZERO,
        };
        Ok((
            parse("RESULT", &args[0])?,
            parse("CONFIG", &args[1])?,
            parse("CONTEXT", &args[2])?,
            vars,
            calls.max(1),
            pause,
        ))
    })();
    let (result, config, context, vars, calls, pause) = match inputs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };

    let limits = Limits::default();
    let settings = Settings {
        limits,
        stop_on_error: true,
    };
    let (mut parsing, mut planning, mut evaluating) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..calls {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let started = Instant::now();
        let store = Arc::new(MemoryStore::new(vars.clone()));
        let scope = Arc::new(Scope::new(
            1,
            "step",
            Some(result.clone()),
            Some(context.clone()),
            Vec::new(),
            VarsState::new(store),
        ));
        let entries = match block::parse(Some(&config), Phase::After, &limits) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("the block does not parse: {}", e.message);
                return ExitCode::FAILURE;
            }
        };
        let parsed = Instant::now();
        let plan = render::plan(entries, &scope);
        let planned = Instant::now();
        let outcomes = match render::evaluate(&plan, &scope, &settings) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                eprintln!("the block does not evaluate: {}", e.message);
                return ExitCode::FAILURE;
            }
        };
        let evaluated = Instant::now();
        if let Some(failed) = outcomes.iter().find_map(|o| o.value.as_ref().err()) {
            eprintln!("the block does not evaluate: {}", failed.message);
            return ExitCode::FAILURE;
        }
        parsing += parsed - started;
        planning += planned - parsed;
        evaluating += evaluated - planned;
    }
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(calls);
    println!(
        "{{\"parse_us\": {:.3}, \"plan_us\": {:.3}, \"evaluate_us\": {:.3}, \"calls\": {calls}}}",
        per_call(parsing),
        per_call(planning),
        per_call(evaluating)
    );
    ExitCode::SUCCESS
}
