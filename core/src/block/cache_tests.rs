//! Tests of the cache of parsed blocks: what a later call with the same bytes gets, and what
//! makes it parse again.
use std::cell::Cell;

use super::*;
use crate::block::{parse_with_ttl, BlockValue};
use crate::doc::{SerdeDoc, View};
use crate::validate::Phase;

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap()
}

/// Parses `text` through the cache under the key `bytes`, counting real parses in `parses`.
fn through_cache(
    bytes: &[u8],
    text: &str,
    limits: &Limits,
    parses: &Cell<usize>,
) -> Result<(Vec<Entry>, BlockTtl)> {
    let config = doc(text);
    parsed(
        2,
        bytes,
        limits,
        || Some(config.clone()),
        || {
            parses.set(parses.get() + 1);
            parse_with_ttl(Some(&config), Phase::After, limits)
        },
    )
}

/// The JSON of a verbatim value, and the source of a template, at each place of `value`.
fn describe(value: &BlockValue) -> String {
    match value {
        BlockValue::Verbatim(d) => match d.view() {
            View::Number(n) => format!("{n:?}"),
            View::String(s) => format!("{s:?}"),
            View::Object(_) | View::Array(_) => format!("{:?}", d.keys()),
            other => format!("{other:?}"),
        },
        BlockValue::Template(c) => format!("T({})", c.source),
        BlockValue::Array(items) => {
            let parts: Vec<String> = items.iter().map(describe).collect();
            format!("[{}]", parts.join(", "))
        }
        BlockValue::Object(members) => {
            let parts: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{k}: {}", describe(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn described(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| format!("{} = {}", e.name, describe(&e.value)))
        .collect()
}

#[test]
fn the_same_bytes_are_parsed_once_and_give_the_same_entries_and_ttl() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    let text = r#"{"a": "{{ x }}", "b": 1, "c": {"d": "{{ y }}", "e": [1, "{{ z }}"]},
                   "$ttl": {"a": "1 hour"}}"#;
    let first = through_cache(b"block-1", text, &limits, &parses).unwrap();
    let again = through_cache(b"block-1", text, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 1);
    assert_eq!(described(&first.0), described(&again.0));
    assert_eq!(first.1, again.1);
    assert!(again.1.each.contains_key("a"));
    // The templates are the compiled ones, shared.
    let (BlockValue::Template(t1), BlockValue::Template(t2)) =
        (&first.0[0].value, &again.0[0].value)
    else {
        panic!("a is a template");
    };
    assert!(Arc::ptr_eq(t1, t2));
}

#[test]
fn verbatim_values_are_read_from_each_calls_document() {
    // Two documents under the same key: what is kept is the block's shape, its verbatim
    // values come from the document of the call (here a different one, to tell them apart).
    let limits = Limits::default();
    let parses = Cell::new(0);
    let shape = |n: u32| {
        format!(
            r#"{{"a": "{{{{ x }}}}", "b": {n}, "c": {{"d": "{{{{ y }}}}", "e": [{n}, "{{{{ z }}}}"], "f": "k{n}"}}}}"#
        )
    };
    let first = through_cache(b"same", &shape(1), &limits, &parses).unwrap();
    let second = through_cache(b"same", &shape(2), &limits, &parses).unwrap();
    assert_eq!(parses.get(), 1);
    assert_eq!(
        described(&first.0),
        [
            "a = T({{ x }})",
            "b = Int(1)",
            r#"c = {d: T({{ y }}), e: [Int(1), T({{ z }})], f: "k1"}"#
        ]
    );
    assert_eq!(
        described(&second.0),
        [
            "a = T({{ x }})",
            "b = Int(2)",
            r#"c = {d: T({{ y }}), e: [Int(2), T({{ z }})], f: "k2"}"#
        ]
    );
}

#[test]
fn a_verbatim_value_missing_from_the_document_makes_it_parse_again() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    through_cache(b"k", r#"{"a": "{{ x }}", "b": 1}"#, &limits, &parses).unwrap();
    let other = through_cache(b"k", r#"{"a": "{{ x }}", "z": 1}"#, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 2);
    assert_eq!(described(&other.0), ["a = T({{ x }})", "z = Int(1)"]);
}

#[test]
fn other_parsers_bytes_or_limits_parse_again() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    let text = r#"{"a": "{{ x }}"}"#;
    through_cache(b"one", text, &limits, &parses).unwrap();
    through_cache(b"two", text, &limits, &parses).unwrap();
    let tighter = Limits {
        max_value_bytes: 1000,
        ..limits
    };
    through_cache(b"one", text, &tighter, &parses).unwrap();
    let config = doc(text);
    parsed(
        3,
        b"one",
        &limits,
        || Some(config.clone()),
        || {
            parses.set(parses.get() + 1);
            parse_with_ttl(Some(&config), Phase::After, &limits)
        },
    )
    .unwrap();
    assert_eq!(parses.get(), 4);
}

#[test]
fn errors_are_not_kept() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    for _ in 0..2 {
        let err = through_cache(b"bad", r#"{"": 1}"#, &limits, &parses).unwrap_err();
        assert!(err.message.contains("name"), "{}", err.message);
    }
    assert_eq!(parses.get(), 2);
}

#[test]
fn large_and_deep_blocks_are_not_kept() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    let big = vec![b'x'; MAX_BLOCK_BYTES + 1];
    let text = r#"{"a": "{{ x }}"}"#;
    through_cache(&big, text, &limits, &parses).unwrap();
    through_cache(&big, text, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 2);

    let mut deep = String::from("\"{{ x }}\"");
    for _ in 0..=MAX_KEPT_DEPTH {
        deep = format!("[{deep}]");
    }
    let deep = format!(r#"{{"a": {deep}}}"#);
    let first = through_cache(b"deep", &deep, &limits, &parses).unwrap();
    let again = through_cache(b"deep", &deep, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 4);
    assert_eq!(described(&first.0), described(&again.0));
}

#[test]
fn the_cache_stays_within_its_bounds() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    let text = r#"{"a": "{{ x }}"}"#;
    for i in 0..MAX_BLOCKS + 10 {
        through_cache(format!("block {i}").as_bytes(), text, &limits, &parses).unwrap();
    }
    let (count, _) = usage();
    assert_eq!(count, MAX_BLOCKS);
    // The most recent are kept, the oldest let go.
    let before = parses.get();
    through_cache(
        format!("block {}", MAX_BLOCKS + 9).as_bytes(),
        text,
        &limits,
        &parses,
    )
    .unwrap();
    assert_eq!(parses.get(), before);
    through_cache(b"block 0", text, &limits, &parses).unwrap();
    assert_eq!(parses.get(), before + 1);

    let large = vec![b'y'; MAX_BLOCK_BYTES];
    for i in 0..(MAX_BYTES / MAX_BLOCK_BYTES) + 4 {
        let mut key = large.clone();
        key[..8].copy_from_slice(&(i as u64).to_le_bytes());
        through_cache(&key, text, &limits, &parses).unwrap();
    }
    let (_, bytes) = usage();
    assert!(bytes <= MAX_BYTES, "{bytes}");
}

#[test]
fn blocks_are_let_go_when_the_template_cache_lets_a_template_go() {
    // A template cache of one template: compiling a second lets the first go, and with it
    // the kept block that holds it.
    let limits = Limits {
        cache_size: 1,
        ..Limits::default()
    };
    let parses = Cell::new(0);
    through_cache(b"p", r#"{"a": "{{ kept_one }}"}"#, &limits, &parses).unwrap();
    through_cache(b"p", r#"{"a": "{{ kept_one }}"}"#, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 1);
    through_cache(b"q", r#"{"a": "{{ another_one }}"}"#, &limits, &parses).unwrap();
    assert_eq!(usage().0, 1, "only the block parsed last is kept");
    through_cache(b"p", r#"{"a": "{{ kept_one }}"}"#, &limits, &parses).unwrap();
    assert_eq!(parses.get(), 3);
}

#[test]
fn a_kept_block_counts_what_its_shape_takes_not_only_its_bytes() {
    let limits = Limits::default();
    let parses = Cell::new(0);
    // 3,000 tiny members: a few bytes each in the block, far more kept.
    let members: Vec<String> = (0..3000)
        .map(|i| format!(r#""v{i}": [1, "{{{{ x }}}}"]"#))
        .collect();
    let text = format!("{{{}}}", members.join(", "));
    through_cache(b"tiny members", &text, &limits, &parses).unwrap();
    let (count, cost) = usage();
    assert_eq!(count, 1);
    assert!(cost >= 3000 * 3 * NODE_COST, "{cost}");
    // Blocks whose shapes together take more than the bound are not all kept.
    for i in 0..(MAX_BYTES / (3000 * 3 * NODE_COST)) + 2 {
        through_cache(format!("tiny {i}").as_bytes(), &text, &limits, &parses).unwrap();
        assert!(usage().1 <= MAX_BYTES);
    }
}
