//! `$ttl` in `vars:` and `set:` blocks (docs/operations.md, "Lifetimes"): it is not a
//! variable, it covers the variables beside it, and a lifetime it cannot give is an error
//! naming the variable.

use noetl_vars_core::block;
use noetl_vars_core::doc::{DocRef, SerdeDoc};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::set::{self, Available};
use noetl_vars_core::ttl::Ttl;
use noetl_vars_core::validate::Phase;
use noetl_vars_core::ErrorKind;

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap_or_else(|| panic!("bad JSON in test: {text}"))
}

fn seconds(n: i64) -> Option<Ttl> {
    Some(Ttl::new(0, 0, n * 1_000_000, "test").unwrap())
}

const ALL: Available = Available {
    iteration: true,
    playbook: true,
};

#[test]
fn a_vars_block_ttl_is_not_a_variable() {
    let config = doc(r#"{"token": "{{ result.t }}", "n": 1, "$ttl": {"token": "15m"}}"#);
    let entries = block::parse(Some(&config), Phase::After, &Limits::default()).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["token", "n"]);
    let ttl = block::ttl(Some(&config), Phase::After).unwrap();
    assert_eq!(ttl.for_key("token"), seconds(900));
    assert_eq!(ttl.for_key("n"), None);
}

#[test]
fn a_before_after_block_has_a_ttl_per_phase() {
    let config = doc(r#"{"before": {"a": 1, "$ttl": 60}, "after": {"b": 2}}"#);
    assert_eq!(
        block::ttl(Some(&config), Phase::Before)
            .unwrap()
            .for_key("a"),
        seconds(60)
    );
    assert_eq!(
        block::ttl(Some(&config), Phase::After)
            .unwrap()
            .for_key("b"),
        None
    );
    let misplaced = doc(r#"{"after": {"b": 2}, "$ttl": 60}"#);
    for phase in [Phase::Before, Phase::After] {
        let err = block::parse(Some(&misplaced), phase, &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(
            err.message.contains("inside before or after"),
            "{}",
            err.message
        );
    }
}

#[test]
fn a_bad_ttl_names_the_variable() {
    let config = doc(r#"{"token": 1, "$ttl": {"token": "-5 minutes"}}"#);
    let err = block::ttl(Some(&config), Phase::After).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message.contains("$ttl of \"token\""), "{}", err.message);
    let config = doc(r#"{"token": 1, "$ttl": {"token": 0}}"#);
    assert!(block::ttl(Some(&config), Phase::After).is_err());
}

#[test]
fn a_set_block_ttl_covers_execution_variables_by_name() {
    let mutations =
        doc(r#"{"ctx.token": 1, "cursor": 2, "$ttl": {"ctx.token": 30, "cursor": "1h"}}"#);
    let entries = set::parse(Some(&mutations), ALL, &Limits::default()).unwrap();
    assert_eq!(entries.len(), 2);
    let ttl = set::ttl(Some(&mutations), ALL).unwrap();
    assert_eq!(ttl.for_key("token"), seconds(30));
    assert_eq!(ttl.for_key("cursor"), seconds(3600));
}

#[test]
fn a_set_block_ttl_refuses_other_scopes() {
    for key in ["step.x", "iter.x", "workflow.x", "global.x"] {
        let text = format!(r#"{{"{key}": 1, "$ttl": {{"{key}": 30}}}}"#);
        let err = set::ttl(Some(&doc(&text)), ALL).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{key}");
        assert!(
            err.message.contains("have no lifetime"),
            "{key}: {}",
            err.message
        );
        assert!(err.message.contains(key), "{key}: {}", err.message);
    }
}
