//! Tests of the block parser: formats, phases, typing rules and limits.
use super::*;
use crate::doc::SerdeDoc;

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap()
}

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn tells_simple_from_before_after_blocks() {
    assert_eq!(format_of(&doc(r#"{"a": "{{ x }}"}"#)), Format::Simple);
    assert_eq!(
        format_of(&doc(r#"{"before": {"a": 1}}"#)),
        Format::BeforeAfter
    );
    assert_eq!(
        format_of(&doc(r#"{"before": {"a": 1}, "after": {}}"#)),
        Format::BeforeAfter
    );
    // A key "after" whose value is not an object is just a variable called "after".
    assert_eq!(format_of(&doc(r#"{"after": "{{ x }}"}"#)), Format::Simple);
    assert_eq!(format_of(&doc(r#"{"after": {}, "x": {}}"#)), Format::Simple);
    assert_eq!(format_of(&doc("{}")), Format::Simple);
}

#[test]
fn phases_pick_their_half_and_simple_blocks_apply_after() {
    let l = Limits::default();
    let ba = doc(r#"{"before": {"a": 1}, "after": {"b": 2, "c": 3}}"#);
    assert_eq!(names(&parse(Some(&ba), Phase::Before, &l).unwrap()), ["a"]);
    assert_eq!(
        names(&parse(Some(&ba), Phase::After, &l).unwrap()),
        ["b", "c"]
    );
    let only_after = doc(r#"{"after": {"b": 2}}"#);
    assert!(parse(Some(&only_after), Phase::Before, &l)
        .unwrap()
        .is_empty());
    let simple = doc(r#"{"x": 1}"#);
    assert_eq!(
        names(&parse(Some(&simple), Phase::After, &l).unwrap()),
        ["x"]
    );
    assert!(parse(Some(&simple), Phase::Before, &l).unwrap().is_empty());
}

#[test]
fn null_and_empty_configs_have_no_entries() {
    let l = Limits::default();
    assert!(parse(None, Phase::After, &l).unwrap().is_empty());
    assert!(parse(Some(&doc("null")), Phase::After, &l)
        .unwrap()
        .is_empty());
    assert!(parse(Some(&doc("{}")), Phase::After, &l)
        .unwrap()
        .is_empty());
}

#[test]
fn non_object_configs_are_rejected() {
    let l = Limits::default();
    for text in ["[]", "\"{{ x }}\"", "1", "true"] {
        let err = parse(Some(&doc(text)), Phase::After, &l).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{text}");
    }
}

#[test]
fn empty_variable_names_are_rejected() {
    let err = parse(Some(&doc(r#"{"": 1}"#)), Phase::After, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
}

#[test]
fn containers_without_templates_are_verbatim_and_with_templates_are_walked() {
    let l = Limits::default();
    let entries = parse(
        Some(&doc(
            r#"{"lit": {"a": [1, "x"]}, "mixed": {"a": "{{ y }}", "b": 2}, "s": "plain"}"#,
        )),
        Phase::After,
        &l,
    )
    .unwrap();
    assert!(matches!(entries[0].value, BlockValue::Verbatim(_)));
    match &entries[1].value {
        BlockValue::Object(fields) => {
            assert!(matches!(fields[0].1, BlockValue::Template(_)));
            assert!(matches!(fields[1].1, BlockValue::Verbatim(_)));
        }
        other => panic!("expected an object, got {other:?}"),
    }
    assert!(matches!(entries[2].value, BlockValue::Verbatim(_)));
}

/// An array that contains itself, forever: only a depth limit ends a walk over it.
#[derive(Debug)]
struct Bottomless;

impl crate::doc::Doc for Bottomless {
    fn view(&self) -> View<'_> {
        View::Array(1)
    }
    fn get(&self, _: &str) -> Option<DocRef> {
        None
    }
    fn at(&self, _: usize) -> Option<DocRef> {
        Some(Arc::new(Bottomless))
    }
    fn keys(&self) -> Vec<String> {
        Vec::new()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn overly_deep_configs_are_refused() {
    let err = classify(
        &(Arc::new(Bottomless) as DocRef),
        0,
        &Limits::default(),
        &mut 0,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooComplex);
}

#[test]
fn parse_with_ttl_gives_what_parse_and_ttl_give_apart() {
    let l = Limits::default();
    for (text, phase) in [
        (r#"{"a": "{{ x }}", "b": 1}"#, Phase::After),
        (
            r#"{"a": "{{ x }}", "b": 1, "$ttl": "1 hour"}"#,
            Phase::After,
        ),
        (
            r#"{"a": 1, "b": 2, "$ttl": {"b": "5 minutes"}}"#,
            Phase::After,
        ),
        (
            r#"{"before": {"a": 1, "$ttl": {"a": "1 day"}}, "after": {"b": 2}}"#,
            Phase::Before,
        ),
        (
            r#"{"before": {"a": 1, "$ttl": {"a": "1 day"}}, "after": {"b": 2}}"#,
            Phase::After,
        ),
        (r#"{"a": 1}"#, Phase::Before),
    ] {
        let config = doc(text);
        let (entries, ttl) = parse_with_ttl(Some(&config), phase, &l).unwrap();
        let apart = parse(Some(&config), phase, &l).unwrap();
        assert_eq!(names(&entries), names(&apart), "{text}");
        assert_eq!(ttl, super::ttl(Some(&config), phase).unwrap(), "{text}");
    }
    // Errors of either kind still come out.
    let unknown = doc(r#"{"a": 1, "$ttl": {"zzz": "1 hour"}}"#);
    let err = parse_with_ttl(Some(&unknown), Phase::After, &l).unwrap_err();
    assert!(err.message.contains("writes no"), "{}", err.message);
    let bad_name = doc(r#"{"": 1}"#);
    assert!(parse_with_ttl(Some(&bad_name), Phase::After, &l).is_err());
    assert!(parse_with_ttl(None, Phase::After, &l).unwrap().0.is_empty());
}
