//! Every number a template can pass as a size (widths, precisions, indents, counts, repeat
//! factors), at its extremes, through every filter, method, function and format spec that
//! takes one: each ends as a value within the limits or an error of the core, never as a
//! panic or an allocation that fails (which aborts the process; in PostgreSQL that restarts
//! every backend of the server).

use std::sync::Arc;

use noetl_vars_core::block;
use noetl_vars_core::context::{MemoryStore, Scope, VarsState};
use noetl_vars_core::doc::SerdeDoc;
use noetl_vars_core::limits::Limits;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::validate::Phase;
use noetl_vars_core::{Error, ErrorKind};

/// What the template `source` stores: its JSON text, or its error.
fn run(source: &str) -> Result<String, Error> {
    let config = serde_json::json!({ "v": source }).to_string();
    let store = MemoryStore::new(Default::default());
    let scope = Arc::new(Scope::new(
        1,
        "step",
        None,
        SerdeDoc::parse("{}"),
        Vec::new(),
        VarsState::new(Arc::new(store)),
    ));
    let limits = Limits::default();
    let entries = block::parse(SerdeDoc::parse(&config).as_ref(), Phase::After, &limits)?;
    let plan = render::plan(entries, &scope);
    let settings = Settings {
        limits,
        stop_on_error: true,
    };
    let outcome = render::evaluate(&plan, &scope, &settings)?
        .into_iter()
        .next();
    outcome.expect("one variable").value.map(|v| v.to_json())
}

/// Sizes a template may write: huge, past every integer type, negative, zero.
const SIZES: &[&str] = &[
    "4000000000000000000",
    "18446744073709551615",
    "18446744073709551616",
    "100000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "2147483648",
    "-1",
    "0",
];

/// Each takes a size where `N` is; `M` is the same size, unsigned where a format spec needs it.
const TEMPLATES: &[&str] = &[
    "{{ [1] | tojson(indent=N) }}",
    "{{ {'a': [1, {'b': 2}]} | tojson(indent=N) }}",
    "{{ '{:>M}'.format(1) }}",
    "{{ '{:<M}'.format('a') }}",
    "{{ '{:^M}'.format(1.5) }}",
    "{{ '{:0M}'.format(7) }}",
    "{{ '{:,M}'.format(7) }}",
    "{{ '{:.Mf}'.format(1.5) }}",
    "{{ '{:.Me}'.format(1.5) }}",
    "{{ '{:.Mg}'.format(1.5) }}",
    "{{ '{:M.Mf}'.format(1.5) }}",
    "{{ '{:.Ms}'.format('abc') }}",
    "{{ '%Ms' | format(1) }}",
    "{{ '%.Mf' | format(1.5) }}",
    "{{ '%-Md' | format(1) }}",
    "{{ 'a\nb' | indent(N) }}",
    "{{ 'a\nb' | indent(width=N, first=true) }}",
    "{{ 'ab' * N }}",
    "{{ [1, 2] * N }}",
    "{{ range(N) | list | length }}",
    "{{ range(0, N, 1) | length }}",
    "{{ [1, 2] | batch(N, 0) | list }}",
    "{{ [1, 2] | slice(N, 0) | list }}",
    "{{ 1.5 | round(N) }}",
    "{{ 'ab' | truncate(N) }}",
    "{{ 'ab' | truncate(length=3, leeway=N) }}",
    "{{ 'x'.join(range(N)) }}",
    "{{ 'ab'.replace('', 'x', N) }}",
    "{{ 'a,b'.split(',', N) }}",
    "{{ 'ab'.center(N) }}",
    "{{ 'ab' | center(N) }}",
    "{{ N | int }}",
    "{{ 'z' | int(base=N) }}",
    "{{ N | float }}",
    "{{ N | filesizeformat }}",
    "{{ N ** N }}",
    "{{ 2 ** N }}",
    "{{ N * N * N }}",
    "{{ [N] | sum }}",
    "{{ 'abc'[N:] }}",
    "{{ 'abc'[:N] }}",
    "{{ [1][N] is defined }}",
    "{{ [1, 2, 3] | first(N) }}",
    "{{ 'ab' | pprint | length }}",
    "{{ N | string | length }}",
    "{{ 'ab' | wordwrap(N) }}",
    "{{ lipsum(N) }}",
];

#[test]
fn every_size_a_template_controls_ends_in_a_value_or_an_error_never_a_panic() {
    let mut outcomes = Vec::new();
    for template in TEMPLATES {
        for size in SIZES {
            let unsigned = size.trim_start_matches('-');
            let source = template.replace('N', size).replace('M', unsigned);
            let outcome = std::panic::catch_unwind(|| run(&source));
            match outcome {
                Err(_) => panic!("{source}: panicked"),
                Ok(Ok(json)) => {
                    assert!(json.len() <= 1 << 24, "{source}: {} bytes", json.len());
                    outcomes.push((source, "ok".to_string()));
                }
                Ok(Err(e)) => outcomes.push((source, format!("{:?}", e.kind))),
            }
        }
    }
    assert_eq!(outcomes.len(), TEMPLATES.len() * SIZES.len());
}

#[test]
fn the_attacks_that_restarted_the_cluster_are_refused_as_too_large() {
    for source in [
        "{{ [1] | tojson(indent=4000000000000000000) }}",
        "{{ \"{:>4000000000000000000}\".format(1) }}",
        "{{ \"{:.4000000000000000000f}\".format(1.5) }}",
        "{{ \"{:>18446744073709551615}\".format(1) }}",
        "{{ \"{:>100000000000}\".format(1) }}",
    ] {
        let err = run(source).expect_err(source);
        assert_eq!(err.kind, ErrorKind::ValueTooLarge, "{source}: {err}");
        assert!(err.message.contains("max_value_bytes"), "{source}: {err}");
    }
}

#[test]
fn widths_and_indents_within_the_limit_still_work() {
    assert_eq!(run("{{ '{:>5}'.format(1) }}").unwrap(), r#""    1""#);
    assert_eq!(run("{{ '{:.3f}'.format(1.5) }}").unwrap(), r#""1.500""#);
    assert_eq!(
        run("{{ [1] | tojson(indent=2) }}").unwrap(),
        r#""[\n  1\n]""#
    );
}
