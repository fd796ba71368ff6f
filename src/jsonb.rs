//! `jsonb` as PostgreSQL holds it, walked and built in place.
//!
//! pgrx's `JsonB` converts through text and serde_json in both directions: it costs time
//! proportional to the whole document, turns integers past 64 bits into floats and panics on
//! `1e400`. [`PgJsonb`] is the datum itself; [`JsonbNode`] exposes it to the core node by node
//! with PostgreSQL's own container functions, and [`build`] writes the core's output back,
//! copying source nodes byte for byte.

use std::any::Any;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use noetl_vars_core::doc::{Doc, DocRef, Number, View};
use noetl_vars_core::output::OutValue;
use noetl_vars_core::pyfmt;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::prelude::*;

// Container header bits (src/include/utils/jsonb.h).
const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;

/// A `jsonb` datum, detoasted, never converted.
#[derive(Clone, Copy)]
pub struct PgJsonb(*mut pg_sys::Jsonb);

impl PgJsonb {
    /// # Safety
    /// `datum` must be a non-null `jsonb` datum.
    unsafe fn from_raw(datum: pg_sys::Datum) -> PgJsonb {
        // Containers need the 4-byte header, so short (packed) varlenas are expanded too.
        PgJsonb(unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) }.cast())
    }

    /// A detoasted copy of a `jsonb` datum in the current memory context, for values read
    /// through SPI that must outlive the connection.
    ///
    /// # Safety
    /// `datum` must be a non-null `jsonb` datum.
    pub unsafe fn copy_of(datum: pg_sys::Datum) -> PgJsonb {
        // SAFETY: the caller's.
        PgJsonb(unsafe { pg_sys::pg_detoast_datum_copy(datum.cast_mut_ptr()) }.cast())
    }

    /// The size of the datum in bytes, header included.
    pub fn size(&self) -> usize {
        unsafe { pgrx::varlena::varsize_any(self.0.cast()) }
    }

    /// The document as the core sees it; valid while `life` is.
    pub fn doc(&self, life: &Arc<Lifetime>) -> DocRef {
        unsafe {
            let root: *mut pg_sys::JsonbContainer = &raw mut (*self.0).root;
            if (*root).header & JB_FSCALAR != 0 {
                let scalar = pg_sys::getIthJsonbValueFromContainer(root, 0);
                JsonbNode::from_value(life, scalar)
            } else {
                let len = self.size().saturating_sub(pg_sys::VARHDRSZ);
                Arc::new(JsonbNode {
                    life: life.clone(),
                    repr: Repr::Container {
                        ptr: root,
                        len: len as i32,
                    },
                })
            }
        }
    }

    pub fn datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.0)
    }
}

impl FromDatum for PgJsonb {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<PgJsonb> {
        if is_null {
            None
        } else {
            Some(unsafe { PgJsonb::from_raw(datum) })
        }
    }
}

impl IntoDatum for PgJsonb {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.datum())
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for PgJsonb {
    // pgrx calls this only for arguments declared without `Option`, i.e. of STRICT functions,
    // where PostgreSQL never passes NULL; every jsonb argument here is an `Option`.
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument is a jsonb datum (the function's declared type).
        match unsafe { arg.unbox_arg_using_from_datum() } {
            Some(value) => value,
            None => pgrx::error!("noetl_vars: argument {index} must not be NULL"),
        }
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum().into() }
    }
}

unsafe impl BoxRet for PgJsonb {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.datum()) }
    }
}

pgrx::impl_sql_translatable!(PgJsonb, "jsonb");

/// Marks the end of the memory that nodes point into (the function call, the SPI connection).
/// A node used after that answers like JSON `null` instead of reading freed memory.
pub struct Lifetime(AtomicBool);

/// The memory of one call: ends when dropped, on every return path and while unwinding.
/// Declare it after the [`crate::spi::Connection`] its nodes point into, so that it ends
/// first.
pub struct Alive(Arc<Lifetime>);

impl std::ops::Deref for Alive {
    type Target = Arc<Lifetime>;

    fn deref(&self) -> &Arc<Lifetime> {
        &self.0
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0 .0.store(false, Ordering::Relaxed);
    }
}

impl Lifetime {
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Alive {
        Alive(Arc::new(Lifetime(AtomicBool::new(true))))
    }

    fn alive(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy)]
enum Repr {
    /// An array or object, with its size in bytes.
    Container {
        ptr: *mut pg_sys::JsonbContainer,
        len: i32,
    },
    /// A null, boolean, number or string; strings and numbers point into their container.
    Scalar(pg_sys::JsonbValue),
}

/// One node of a `jsonb` document.
pub struct JsonbNode {
    life: Arc<Lifetime>,
    repr: Repr,
}

// SAFETY: a backend is single-threaded; these bounds only satisfy minijinja's `Object`.
unsafe impl Send for JsonbNode {}
// SAFETY: as above, and nodes are never mutated.
unsafe impl Sync for JsonbNode {}

impl std::fmt::Debug for JsonbNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonbNode({:?})", self.view())
    }
}

impl JsonbNode {
    /// # Safety
    /// `value` must point to a valid `JsonbValue` whose data lives as long as `life`.
    unsafe fn from_value(life: &Arc<Lifetime>, value: *mut pg_sys::JsonbValue) -> DocRef {
        let value = unsafe { *value };
        let repr = if value.type_ == pg_sys::jbvType::jbvBinary {
            let binary = unsafe { value.val.binary };
            Repr::Container {
                ptr: binary.data,
                len: binary.len,
            }
        } else {
            Repr::Scalar(value)
        };
        Arc::new(JsonbNode {
            life: life.clone(),
            repr,
        })
    }

    fn container(&self) -> Option<(*mut pg_sys::JsonbContainer, u32)> {
        match self.repr {
            Repr::Container { ptr, .. } if self.life.alive() => {
                Some((ptr, unsafe { (*ptr).header }))
            }
            _ => None,
        }
    }

    /// This node as a `JsonbValue`, to be copied into another document.
    fn as_value(&self) -> pg_sys::JsonbValue {
        match self.repr {
            Repr::Container { ptr, len } => {
                let mut v = null_value();
                v.type_ = pg_sys::jbvType::jbvBinary;
                v.val.binary = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_4 { len, data: ptr };
                v
            }
            Repr::Scalar(v) => v,
        }
    }
}

impl Doc for JsonbNode {
    fn view(&self) -> View<'_> {
        if !self.life.alive() {
            return View::Null;
        }
        match self.repr {
            Repr::Container { ptr, .. } => {
                let header = unsafe { (*ptr).header };
                let count = (header & JB_CMASK) as usize;
                if header & JB_FOBJECT != 0 {
                    View::Object(count)
                } else {
                    View::Array(count)
                }
            }
            Repr::Scalar(v) => unsafe {
                match v.type_ {
                    pg_sys::jbvType::jbvBool => View::Bool(v.val.boolean),
                    pg_sys::jbvType::jbvString => {
                        let s = v.val.string;
                        let bytes =
                            std::slice::from_raw_parts(s.val as *const u8, s.len.max(0) as usize);
                        View::String(String::from_utf8_lossy(bytes))
                    }
                    pg_sys::jbvType::jbvNumeric => View::Number(
                        Number::parse(&numeric_text(v.val.numeric))
                            .unwrap_or(Number::Float(f64::NAN)),
                    ),
                    _ => View::Null,
                }
            },
        }
    }

    fn get(&self, key: &str) -> Option<DocRef> {
        let (ptr, header) = self.container()?;
        if header & JB_FOBJECT == 0 {
            return None;
        }
        unsafe {
            let found = pg_sys::getKeyJsonValueFromContainer(
                ptr,
                key.as_ptr().cast(),
                key.len() as i32,
                std::ptr::null_mut(),
            );
            (!found.is_null()).then(|| JsonbNode::from_value(&self.life, found))
        }
    }

    fn at(&self, index: usize) -> Option<DocRef> {
        let (ptr, header) = self.container()?;
        if header & JB_FOBJECT != 0 || index >= (header & JB_CMASK) as usize {
            return None;
        }
        unsafe {
            let found = pg_sys::getIthJsonbValueFromContainer(ptr, index as u32);
            (!found.is_null()).then(|| JsonbNode::from_value(&self.life, found))
        }
    }

    fn keys(&self) -> Vec<String> {
        let Some((ptr, header)) = self.container() else {
            return Vec::new();
        };
        if header & JB_FOBJECT == 0 {
            return Vec::new();
        }
        let mut keys = Vec::with_capacity((header & JB_CMASK) as usize);
        unsafe {
            let mut it = pg_sys::JsonbIteratorInit(ptr);
            let mut v = null_value();
            loop {
                let token = pg_sys::JsonbIteratorNext(&mut it, &mut v, true);
                match token {
                    pg_sys::JsonbIteratorToken::WJB_DONE => break,
                    pg_sys::JsonbIteratorToken::WJB_KEY => {
                        let s = v.val.string;
                        let bytes =
                            std::slice::from_raw_parts(s.val as *const u8, s.len.max(0) as usize);
                        keys.push(String::from_utf8_lossy(bytes).into_owned());
                    }
                    _ => {}
                }
            }
        }
        keys
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn null_value() -> pg_sys::JsonbValue {
    // SAFETY: an all-zero JsonbValue is a valid jbvNull.
    unsafe { std::mem::zeroed() }
}

/// The text `numeric_out` gives for a number (the shortest exact form, scale kept).
unsafe fn numeric_text(n: pg_sys::Numeric) -> String {
    let text: Option<&CStr> =
        unsafe { pgrx::direct_function_call(pg_sys::numeric_out, &[Some(pg_sys::Datum::from(n))]) };
    text.map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A `numeric` from decimal text the core produced (always valid).
fn numeric(text: &str) -> pg_sys::Numeric {
    let text = std::ffi::CString::new(text).unwrap_or_default();
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
            v.val.numeric = numeric(&i.to_string());
        }
        OutValue::BigInt(s) => {
            v.type_ = pg_sys::jbvType::jbvNumeric;
            v.val.numeric = numeric(s);
        }
        OutValue::Float(f) => {
            v.type_ = pg_sys::jbvType::jbvNumeric;
            v.val.numeric = numeric(&pyfmt::float_repr(*f));
        }
        OutValue::String(s) => v = string_value(s),
        _ => {}
    }
    v
}

/// Writes the core's output as a `jsonb` datum in the current memory context. Source nodes
/// are copied as they are: a whole container by `memcpy`, nested ones by PostgreSQL.
pub fn build(out: &OutValue) -> PgJsonb {
    unsafe {
        let mut value = match out {
            OutValue::Doc(doc) => match doc.as_any().downcast_ref::<JsonbNode>() {
                Some(node) => node.as_value(),
                None => return build(&owned(doc)),
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

unsafe fn push(
    state: &mut *mut pg_sys::JsonbParseState,
    token: pg_sys::JsonbIteratorToken::Type,
    out: &OutValue,
) -> *mut pg_sys::JsonbValue {
    use pg_sys::JsonbIteratorToken as T;
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
                None => push(state, token, &owned(doc)),
            },
            scalar => {
                let mut v = scalar_value(scalar);
                pg_sys::pushJsonbValue(state, token, &mut v)
            }
        }
    }
}

/// A node of another kind of document, converted to an owned tree.
fn owned(doc: &DocRef) -> OutValue {
    match doc.view() {
        View::Null => OutValue::Null,
        View::Bool(b) => OutValue::Bool(b),
        View::Number(n) => OutValue::from(n),
        View::String(s) => OutValue::String(s.into_owned()),
        View::Array(len) => OutValue::Array(
            (0..len)
                .filter_map(|i| doc.at(i))
                .map(|d| owned(&d))
                .collect(),
        ),
        View::Object(_) => OutValue::Object(
            doc.keys()
                .into_iter()
                .filter_map(|k| doc.get(&k).map(|d| (k, owned(&d))))
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
pub fn size_if_over(out: &OutValue, limit: usize) -> Option<usize> {
    if size_bound(out) <= limit {
        return None;
    }
    let size = build(out).size();
    (size > limit).then_some(size)
}

/// A timestamp as ISO-8601 with offset, exactly as `to_json(timestamptz)` writes it.
///
/// # Safety
/// `datum` must be a `timestamptz` datum.
pub unsafe fn iso_timestamp(datum: pg_sys::Datum) -> String {
    // SAFETY: the caller's; JsonEncodeDateTime returns a palloc'd C string.
    unsafe {
        let text = pg_sys::JsonEncodeDateTime(
            std::ptr::null_mut(),
            datum,
            pg_sys::TIMESTAMPTZOID,
            std::ptr::null(),
        );
        let s = CStr::from_ptr(text).to_string_lossy().into_owned();
        pg_sys::pfree(text.cast());
        s
    }
}

/// The text of a `text` datum.
///
/// # Safety
/// `datum` must be a non-null `text` (or other varlena) datum.
pub unsafe fn text(datum: pg_sys::Datum) -> String {
    // SAFETY: the caller's.
    unsafe {
        let t: *mut pg_sys::varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let len = pgrx::varlena::varsize_any_exhdr(t);
        let data = pgrx::varlena::vardata_any(t) as *const u8;
        String::from_utf8_lossy(std::slice::from_raw_parts(data, len)).into_owned()
    }
}
