//! JSON documents as the host exposes them: lazily, node by node.
//!
//! Templates usually touch a handful of fields of a large step result. A host (the PostgreSQL
//! layer walks `jsonb` containers in place) implements [`Doc`] so that only the nodes a template
//! visits are ever converted, and so that a node can be written back exactly as it was read
//! (digit for digit) by downcasting it through [`Doc::as_any`].

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A shared handle to one node of a document.
pub type DocRef = Arc<dyn Doc>;

/// A JSON number as templates see it. Hosts keep the exact digits themselves; this is only the
/// value arithmetic works with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    BigInt(i128),
    Float(f64),
}

impl Number {
    /// Reads the shortest form PostgreSQL's `numeric_out` (or any JSON writer) produces.
    /// Integers stay integers as long as they fit 128 bits; everything else becomes a float.
    pub fn parse(text: &str) -> Option<Number> {
        let is_integer = !text.contains(['.', 'e', 'E']);
        if is_integer {
            if let Ok(v) = text.parse::<i64>() {
                return Some(Number::Int(v));
            }
            if let Ok(v) = text.parse::<i128>() {
                return Some(Number::BigInt(v));
            }
        }
        text.parse::<f64>().ok().map(Number::Float)
    }
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum View<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    /// An array and its length.
    Array(usize),
    /// An object and its number of keys.
    Object(usize),
}

/// One node of a JSON document.
pub trait Doc: fmt::Debug + Send + Sync + 'static {
    fn view(&self) -> View<'_>;
    /// The member `key` of an object; `None` for a missing key or a non-object.
    fn get(&self, key: &str) -> Option<DocRef>;
    /// The element `index` of an array; `None` when out of range or not an array.
    fn at(&self, index: usize) -> Option<DocRef>;
    /// The keys of an object in the document's own order; empty for anything else.
    fn keys(&self) -> Vec<String>;
    /// The members of an object, key and value, in the document's own order; empty for
    /// anything else. One pass, where `keys` and then `get` for each would search the object
    /// once per key.
    fn entries(&self) -> Vec<(String, DocRef)> {
        self.keys()
            .into_iter()
            .filter_map(|k| self.get(&k).map(|v| (k, v)))
            .collect()
    }
    /// Lets the host recognise its own nodes when writing them back.
    fn as_any(&self) -> &dyn Any;
}

/// A [`Doc`] over a `serde_json::Value`, for tests, the fuzzer and hosts without a native
/// document format. Numbers are as exact as serde_json makes them (64-bit integers, doubles).
#[derive(Clone)]
pub struct SerdeDoc {
    root: Arc<serde_json::Value>,
    // Points into `root`, which is immutable and kept alive by the Arc above.
    node: *const serde_json::Value,
}

// SAFETY: the pointee is owned by an `Arc` that this struct keeps alive and never mutates.
unsafe impl Send for SerdeDoc {}
// SAFETY: as above; shared reads of an immutable value are thread-safe.
unsafe impl Sync for SerdeDoc {}

impl SerdeDoc {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(value: serde_json::Value) -> DocRef {
        let root = Arc::new(value);
        let node = Arc::as_ptr(&root);
        Arc::new(SerdeDoc { root, node })
    }

    /// Parses JSON text; `None` when it is not valid JSON.
    pub fn parse(text: &str) -> Option<DocRef> {
        serde_json::from_str(text).ok().map(SerdeDoc::new)
    }

    fn value(&self) -> &serde_json::Value {
        // SAFETY: see the struct comment.
        unsafe { &*self.node }
    }

    fn child(&self, node: &serde_json::Value) -> DocRef {
        Arc::new(SerdeDoc {
            root: self.root.clone(),
            node: node as *const _,
        })
    }
}

impl fmt::Debug for SerdeDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerdeDoc({})", self.value())
    }
}

impl Doc for SerdeDoc {
    fn view(&self) -> View<'_> {
        use serde_json::Value as J;
        match self.value() {
            J::Null => View::Null,
            J::Bool(b) => View::Bool(*b),
            J::Number(n) => View::Number(if let Some(i) = n.as_i64() {
                Number::Int(i)
            } else if let Some(u) = n.as_u64() {
                Number::BigInt(u as i128)
            } else {
                Number::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            J::String(s) => View::String(Cow::Borrowed(s)),
            J::Array(a) => View::Array(a.len()),
            J::Object(o) => View::Object(o.len()),
        }
    }

    fn get(&self, key: &str) -> Option<DocRef> {
        match self.value() {
            serde_json::Value::Object(o) => o.get(key).map(|v| self.child(v)),
            _ => None,
        }
    }

    fn at(&self, index: usize) -> Option<DocRef> {
        match self.value() {
            serde_json::Value::Array(a) => a.get(index).map(|v| self.child(v)),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<String> {
        match self.value() {
            serde_json::Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn entries(&self) -> Vec<(String, DocRef)> {
        match self.value() {
            serde_json::Value::Object(o) => {
                o.iter().map(|(k, v)| (k.clone(), self.child(v))).collect()
            }
            _ => Vec::new(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A JSON `null`, for arguments that are SQL NULL.
pub fn null() -> DocRef {
    SerdeDoc::new(serde_json::Value::Null)
}

/// The string of a string node, if it is one.
pub fn as_str(doc: &DocRef) -> Option<String> {
    match doc.view() {
        View::String(s) => Some(s.into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parse_keeps_integers_up_to_128_bits() {
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert_eq!(
            Number::parse("12345678901234567890123"),
            Some(Number::BigInt(12345678901234567890123))
        );
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse("-0"), Some(Number::Int(0)));
        // Past 128 bits an integer can only be approximated for arithmetic.
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(Number::parse(&huge), Some(Number::Float(f64::INFINITY)));
        assert_eq!(Number::parse("abc"), None);
    }

    #[test]
    fn serde_doc_navigates_objects_and_arrays() {
        let doc = SerdeDoc::parse(r#"{"a": [1, {"b": "x"}], "c": null}"#).unwrap();
        assert_eq!(doc.view(), View::Object(2));
        assert_eq!(doc.keys(), vec!["a".to_string(), "c".to_string()]);
        let a = doc.get("a").unwrap();
        assert_eq!(a.view(), View::Array(2));
        assert_eq!(a.at(0).unwrap().view(), View::Number(Number::Int(1)));
        assert_eq!(
            as_str(&a.at(1).unwrap().get("b").unwrap()),
            Some("x".to_string())
        );
        assert!(a.at(2).is_none());
        assert!(doc.get("zzz").is_none());
        assert_eq!(doc.get("c").unwrap().view(), View::Null);
    }

    /// A document that has only `keys` and `get`: what `entries` gives by default.
    #[derive(Debug)]
    struct KeysOnly(DocRef);

    impl Doc for KeysOnly {
        fn view(&self) -> View<'_> {
            self.0.view()
        }
        fn get(&self, key: &str) -> Option<DocRef> {
            self.0.get(key)
        }
        fn at(&self, index: usize) -> Option<DocRef> {
            self.0.at(index)
        }
        fn keys(&self) -> Vec<String> {
            self.0.keys()
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn entries_pair_every_key_with_its_value_in_the_documents_order() {
        let doc = SerdeDoc::parse(r#"{"b": [1], "a": {"c": "x"}, "d": null}"#).unwrap();
        let shown = |d: &DocRef| -> Vec<(String, View<'static>)> {
            d.entries()
                .into_iter()
                .map(|(k, v)| {
                    let view = match v.view() {
                        View::String(s) => View::String(Cow::Owned(s.into_owned())),
                        View::Null => View::Null,
                        View::Bool(b) => View::Bool(b),
                        View::Number(n) => View::Number(n),
                        View::Array(n) => View::Array(n),
                        View::Object(n) => View::Object(n),
                    };
                    (k, view)
                })
                .collect()
        };
        let expected = vec![
            ("b".to_string(), View::Array(1)),
            ("a".to_string(), View::Object(1)),
            ("d".to_string(), View::Null),
        ];
        assert_eq!(shown(&doc), expected);
        let by_default: DocRef = Arc::new(KeysOnly(doc.clone()));
        assert_eq!(shown(&by_default), expected);
        assert_eq!(
            doc.entries()[1].1.get("c").and_then(|c| as_str(&c)),
            Some("x".into())
        );
        // Anything but an object has none.
        assert!(doc.get("b").unwrap().entries().is_empty());
        assert!(doc.get("d").unwrap().entries().is_empty());
    }
}
