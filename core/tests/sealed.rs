//! Sealed values: the key ring's format, authentication bound to the row, key ids.

use noetl_vars_core::sealed::{associated_data, key_id, KeyRing, OpenError, Part};

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const B64: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn ring(text: &str) -> KeyRing {
    KeyRing::parse(text).unwrap()
}

fn row(execution: i64, name: &str) -> Vec<u8> {
    associated_data(&[
        Part::Text("transient"),
        Part::Int(execution),
        Part::Text(name),
    ])
}

#[test]
fn a_sealed_value_opens_with_the_same_row_and_ring() {
    let keys = ring(&format!("k1 {HEX}\n"));
    let sealed = keys.seal(&row(7, "token"), br#"{"a":1}"#).unwrap();
    assert!(sealed.starts_with("v1.k1."), "{sealed}");
    assert!(!sealed.contains("\"a\""));
    let open = keys.open(&row(7, "token"), &sealed).unwrap();
    assert_eq!(open.as_slice(), br#"{"a":1}"#);
}

#[test]
fn each_seal_uses_a_new_nonce() {
    let keys = ring(&format!("k1 {HEX}"));
    let a = keys.seal(&row(1, "x"), b"1").unwrap();
    let b = keys.seal(&row(1, "x"), b"1").unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_ciphertext_copied_to_another_row_does_not_open() {
    let keys = ring(&format!("k1 {HEX}"));
    let sealed = keys.seal(&row(7, "token"), b"\"s3cret\"").unwrap();
    assert_eq!(keys.open(&row(8, "token"), &sealed), Err(OpenError::Forged));
    assert_eq!(keys.open(&row(7, "other"), &sealed), Err(OpenError::Forged));
    let step = associated_data(&[Part::Text("step_vars"), Part::Int(7), Part::Null]);
    assert_eq!(keys.open(&step, &sealed), Err(OpenError::Forged));
}

#[test]
fn associated_data_tells_null_empty_and_boundaries_apart() {
    let a = associated_data(&[Part::Text("ab"), Part::Text("c")]);
    let b = associated_data(&[Part::Text("a"), Part::Text("bc")]);
    assert_ne!(a, b);
    assert_ne!(
        associated_data(&[Part::Null]),
        associated_data(&[Part::Text("")])
    );
}

#[test]
fn a_tampered_ciphertext_is_refused_not_garbage() {
    let keys = ring(&format!("k1 {HEX}"));
    let sealed = keys.seal(&row(1, "x"), b"\"value\"").unwrap();
    let mut bytes = sealed.into_bytes();
    let last = bytes.len() - 3;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(keys.open(&row(1, "x"), &tampered), Err(OpenError::Forged));
    assert_eq!(
        keys.open(&row(1, "x"), "v1.k1.AAAA"),
        Err(OpenError::Malformed)
    );
    assert_eq!(
        keys.open(&row(1, "x"), "v2.k1.AAAA"),
        Err(OpenError::Malformed)
    );
    assert_eq!(
        keys.open(&row(1, "x"), "v1.k1.!!"),
        Err(OpenError::Malformed)
    );
}

#[test]
fn the_first_key_seals_and_every_key_opens() {
    let old = ring(&format!("old {HEX}"));
    let both = ring(&format!("# rotated\nnew {B64}\n\nold {HEX}\n"));
    assert_eq!(both.active_id(), "new");
    let before = old.seal(&row(1, "x"), b"1").unwrap();
    assert_eq!(key_id(&before), Some("old"));
    assert_eq!(both.open(&row(1, "x"), &before).unwrap().as_slice(), b"1");
    let after = both.seal(&row(1, "x"), b"2").unwrap();
    assert_eq!(key_id(&after), Some("new"));
    assert_eq!(
        old.open(&row(1, "x"), &after),
        Err(OpenError::UnknownKey("new".into()))
    );
}

#[test]
fn a_wrong_key_under_the_same_id_does_not_open() {
    let right = ring(&format!("k {HEX}"));
    let wrong = ring(&format!("k {B64}"));
    let sealed = right.seal(&row(1, "x"), b"1").unwrap();
    assert_eq!(wrong.open(&row(1, "x"), &sealed), Err(OpenError::Forged));
}

#[test]
fn bad_key_rings_are_refused_naming_the_line_not_the_key() {
    for (text, says) in [
        ("", "no key"),
        ("# only a comment\n", "no key"),
        ("k1", "line 1: expected"),
        ("k1 a b", "line 1: expected"),
        (&format!("k.1 {HEX}"), "line 1: a key id"),
        (
            &format!("k1 {HEX}\nk1 {B64}"),
            "line 2: key id \"k1\" appears twice",
        ),
        ("k1 0011", "line 1: key \"k1\" is not 32 bytes"),
        (&format!("k1 {}", &HEX[..62]), "is not 32 bytes"),
        ("k1 c2hvcnQ=", "is not 32 bytes"),
    ] {
        let err = KeyRing::parse(text)
            .err()
            .unwrap_or_else(|| panic!("{text:?} parsed"));
        assert!(err.contains(says), "{text:?}: {err}");
        assert!(
            !err.contains(&HEX[..16]) && !err.contains("c2hvcnQ"),
            "{err}"
        );
    }
}

#[test]
fn key_id_reads_only_the_sealed_form() {
    assert_eq!(key_id("v1.k-2_x.AAAA"), Some("k-2_x"));
    assert_eq!(key_id("v1..AAAA"), None);
    assert_eq!(key_id("plain text"), None);
    assert_eq!(key_id("v1.k1"), None);
}
