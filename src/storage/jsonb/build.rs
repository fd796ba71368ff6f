//! Writing the core's output as `jsonb`, and its size before writing it.

use noetl_vars_core::doc::{Doc, DocRef, View};
use noetl_vars_core::output::{float_repr, OutValue};
use pgrx::pg_sys;

use super::{null_value, JsonbNode, PgJsonb, Repr};

/// A `numeric` from decimal text the core produced (always valid).
fn numeric(text: &str) -> pg_sys::Numeric {
    let text = std::ffi::CString::new(text).unwrap_or_default();
    // SAFETY: numeric_in takes a C string, an OID and a typmod, all given.
    let datum = unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::numeric_in,
            &[
                Some(pg_sys::Datum::from(text.as_ptr())),
                Some(pg_sys::Datum::from(pg_sys::InvalidOid)),
                Some(pg_sys::Datum::from(-1i32)),
            ],
        )
    };
    datum
        .map(|d| d.cast_mut_ptr())
        .unwrap_or(std::ptr::null_mut())
}

fn string_value(s: &str) -> pg_sys::JsonbValue {
    let mut v = null_value();
    v.type_ = pg_sys::jbvType::jbvString;
    v.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len: s.len() as i32,
        val: s.as_ptr() as *mut std::ffi::c_char,
    };
    v
}

fn scalar_value(out: &OutValue) -> pg_sys::JsonbValue {
    let mut v = null_value();
    match out {
        OutValue::Bool(b) => {
            v.type_ = pg_sys::jbvType::jbvBool;
            v.val.boolean = *b;
        }
        OutValue::Int(i) => {
            v.type_ = pg_sys::jbvType::jbvNumeric;
            // SAFETY: builds a numeric from a 64-bit integer, in the current memory context.
            v.val.numeric = unsafe { pg_sys::int64_to_numeric(*i) };
        }
        OutValue::BigInt(s) => {
            v.type_ = pg_sys::jbvType::jbvNumeric;
            v.val.numeric = numeric(s);
        }
        OutValue::Float(f) => {
            v.type_ = pg_sys::jbvType::jbvNumeric;
            v.val.numeric = numeric(&float_repr(*f));
        }
        OutValue::String(s) => v = string_value(s),
        _ => {}
    }
    v
}

/// Writes the core's output as a `jsonb` datum in the current memory context. Source nodes
/// are copied as they are: a whole container by `memcpy`, nested ones by PostgreSQL.
pub fn build(out: &OutValue) -> PgJsonb {
    // SAFETY: values pushed are built here or are nodes of live documents; PostgreSQL copies
    // them into the new jsonb.
    unsafe {
        let mut value = match out {
            OutValue::Doc(doc) => match doc.as_any().downcast_ref::<JsonbNode>() {
                Some(node) => node.as_value(),
                None => return build(&to_tree(doc)),
            },
            OutValue::Array(_) | OutValue::Object(_) => {
                let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
                let result = push(&mut state, pg_sys::JsonbIteratorToken::WJB_ELEM, out);
                return PgJsonb(pg_sys::JsonbValueToJsonb(result));
            }
            scalar => scalar_value(scalar),
        };
        PgJsonb(pg_sys::JsonbValueToJsonb(&mut value))
    }
}

/// `{key: value, …}` of objects already written as `jsonb`, copied as they are (nothing is
/// converted again), in the current memory context.
pub fn object_of(entries: &[(String, PgJsonb)]) -> PgJsonb {
    use pg_sys::JsonbIteratorToken as T;
    // SAFETY: every value pushed is a key built here or the root container of a live, detoasted
    // jsonb object; PostgreSQL copies them into the new jsonb.
    unsafe {
        let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
        pg_sys::pushJsonbValue(&mut state, T::WJB_BEGIN_OBJECT, std::ptr::null_mut());
        for (key, value) in entries {
            let mut k = string_value(key);
            pg_sys::pushJsonbValue(&mut state, T::WJB_KEY, &mut k);
            let mut v = null_value();
            v.type_ = pg_sys::jbvType::jbvBinary;
            v.val.binary = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_4 {
                len: value.size().saturating_sub(pg_sys::VARHDRSZ) as i32,
                data: &raw mut (*value.0).root,
            };
            pg_sys::pushJsonbValue(&mut state, T::WJB_VALUE, &mut v);
        }
        let result = pg_sys::pushJsonbValue(&mut state, T::WJB_END_OBJECT, std::ptr::null_mut());
        PgJsonb(pg_sys::JsonbValueToJsonb(result))
    }
}

/// # Safety
/// `state` must be a parse state begun by `pushJsonbValue` (or null to begin one).
unsafe fn push(
    state: &mut *mut pg_sys::JsonbParseState,
    token: pg_sys::JsonbIteratorToken::Type,
    out: &OutValue,
) -> *mut pg_sys::JsonbValue {
    use pg_sys::JsonbIteratorToken as T;
    // SAFETY: the caller's; every value pushed is valid for the call.
    unsafe {
        match out {
            OutValue::Array(items) => {
                pg_sys::pushJsonbValue(state, T::WJB_BEGIN_ARRAY, std::ptr::null_mut());
                for item in items {
                    push(state, T::WJB_ELEM, item);
                }
                pg_sys::pushJsonbValue(state, T::WJB_END_ARRAY, std::ptr::null_mut())
            }
            OutValue::Object(entries) => {
                pg_sys::pushJsonbValue(state, T::WJB_BEGIN_OBJECT, std::ptr::null_mut());
                for (key, value) in entries {
                    let mut k = string_value(key);
                    pg_sys::pushJsonbValue(state, T::WJB_KEY, &mut k);
                    push(state, T::WJB_VALUE, value);
                }
                pg_sys::pushJsonbValue(state, T::WJB_END_OBJECT, std::ptr::null_mut())
            }
            OutValue::Doc(doc) => match doc.as_any().downcast_ref::<JsonbNode>() {
                Some(node) => {
                    let mut v = node.as_value();
                    pg_sys::pushJsonbValue(state, token, &mut v)
                }
                None => push(state, token, &to_tree(doc)),
            },
            scalar => {
                let mut v = scalar_value(scalar);
                pg_sys::pushJsonbValue(state, token, &mut v)
            }
        }
    }
}

/// A node of another kind of document, converted to an owned tree.
fn to_tree(doc: &DocRef) -> OutValue {
    match doc.view() {
        View::Null => OutValue::Null,
        View::Bool(b) => OutValue::Bool(b),
        View::Number(n) => OutValue::from(n),
        View::String(s) => OutValue::String(s.into_owned()),
        View::Array(len) => OutValue::Array(
            (0..len)
                .filter_map(|i| doc.at(i))
                .map(|d| to_tree(&d))
                .collect(),
        ),
        View::Object(_) => OutValue::Object(
            doc.keys()
                .into_iter()
                .filter_map(|k| doc.get(&k).map(|d| (k, to_tree(&d))))
                .collect(),
        ),
    }
}

/// An upper bound of the size `build(out)` would have, in bytes, computed without building
/// it: exact for containers copied from a document (their byte length is known), generous
/// for the rest (every element is given its entry, header and alignment).
pub fn size_bound(out: &OutValue) -> usize {
    const ELEMENT: usize = 16;
    let header = pg_sys::VARHDRSZ + 8;
    fn inner(out: &OutValue) -> usize {
        match out {
            OutValue::Null | OutValue::Bool(_) => ELEMENT,
            OutValue::Int(_) | OutValue::Float(_) => ELEMENT + 32,
            OutValue::BigInt(s) => ELEMENT + 16 + s.len(),
            OutValue::String(s) => ELEMENT + s.len(),
            OutValue::Array(items) => ELEMENT + items.iter().map(inner).sum::<usize>(),
            OutValue::Object(fields) => {
                ELEMENT
                    + fields
                        .iter()
                        .map(|(k, v)| ELEMENT + k.len() + inner(v))
                        .sum::<usize>()
            }
            OutValue::Doc(doc) => match doc.as_any().downcast_ref::<JsonbNode>() {
                Some(node) => match node.repr {
                    Repr::Container { len, .. } => ELEMENT + len.max(0) as usize,
                    Repr::Scalar(_) => match node.view() {
                        View::String(s) => ELEMENT + s.len(),
                        View::Number(_) => ELEMENT + 32,
                        _ => ELEMENT,
                    },
                },
                // Not a jsonb node: measured the slow way.
                None => ELEMENT + build(out).size(),
            },
        }
    }
    header + inner(out)
}

/// The exact size of `out` as a stored value: built only when the bound says it might matter.
pub fn size_beyond(out: &OutValue, limit: usize) -> Option<usize> {
    if size_bound(out) <= limit {
        return None;
    }
    let size = build(out).size();
    (size > limit).then_some(size)
}
