//! The evaluation stack is sized from the fuel (`noetl_vars_core::stack`): a template that
//! spends its fuel building the deepest value it can, then compares, sorts, hashes, prints or
//! drops it, must fit. Overflowing would hit the guard page and kill the test process; the
//! high-water mark must also stay well inside the reservation.

use std::sync::Arc;

use noetl_vars_core::context::{EmptyStore, Scope, VarsState};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::render;
use noetl_vars_core::stack;

const FUEL: u64 = 200_000;

fn limits() -> Limits {
    Limits {
        fuel: Some(FUEL),
        ..Limits::default()
    }
}

/// Deepest nesting per unit of fuel: `k` brackets per loop iteration (the parser allows about
/// 70), as many iterations as the fuel leaves room for.
fn deep(open: &str, close: &str, target: &str, k: usize, share: f64) -> String {
    let n = (FUEL as f64 * share / (1.6 * k as f64 + 10.0)) as usize;
    format!(
        "{{% for i in range({n}) %}}{{% set {target} = {}{target}{} %}}{{% endfor %}}",
        open.repeat(k),
        close.repeat(k)
    )
}

fn run(op: &str, build: String) -> usize {
    let scope = Arc::new(Scope::new(
        1,
        "s",
        None,
        None,
        Vec::new(),
        VarsState::new(Arc::new(EmptyStore)),
    ));
    let template = format!("{{% set ns = namespace(x=[], y=[]) %}}{build}{op}");
    let limits = limits();
    stack::paint(&limits).unwrap();
    // Success or an error (fuel, depth) are both fine; a crash is not.
    let outcome = render::evaluate_one(&template, &scope, &limits);
    let shown = match &outcome {
        Ok(v) => v.to_json(),
        Err(e) => e.message.chars().take(60).collect(),
    };
    eprintln!("    {op}: {shown}");
    stack::high_water().unwrap()
}

#[test]
fn the_deepest_values_the_fuel_allows_fit_the_evaluation_stack() {
    let reserved = stack::size_for(&limits());
    let budget = reserved - stack::FIXED - limits().host_stack;
    let mut worst = 0;
    // A level of a map literal costs about twice the fuel of a list's.
    let two = |o: &str, c: &str, share: f64| {
        deep(o, c, "ns.x", 60, share) + &deep(o, c, "ns.y", 60, share)
    };
    let cases = [
        ("{{ 1 }}", deep("[", "]", "ns.x", 60, 0.9)),
        (
            "{{ ('a' ~ ns.x) | length }}",
            deep("[", "]", "ns.x", 60, 0.6),
        ),
        ("{{ ns.x == ns.y }}", two("[", "]", 0.45)),
        ("{{ [ns.x, ns.y] | sort | length }}", two("[", "]", 0.45)),
        ("{{ [ns.x, ns.y] | unique | length }}", two("[", "]", 0.45)),
        ("{{ ns.x in [ns.y] }}", two("[", "]", 0.45)),
        ("{{ ns.x == ns.y }}", two("{'a': ", "}", 0.22)),
        (
            "{{ [ns.x, ns.y] | sort | length }}",
            two("{'a': ", "}", 0.22),
        ),
        (
            "{{ ('a' ~ ns.x) | length }}",
            deep("{'a': ", "}", "ns.x", 60, 0.3),
        ),
        ("{{ ns.x == ns.y }}", two("(", ",)", 0.45)),
        (
            "{{ ns.x | pprint | length }}",
            deep("[", "]", "ns.x", 60, 0.85),
        ),
        (
            "{{ ns.x | tojson | length }}",
            deep("[", "]", "ns.x", 60, 0.85),
        ),
    ];
    for (op, build) in cases {
        let used = run(op, build);
        eprintln!("{used:>10} bytes of stack for {op}");
        worst = worst.max(used);
    }
    assert!(
        worst < budget * 3 / 4,
        "the deepest evaluation used {worst} bytes; {budget} are reserved for the fuel"
    );
}
