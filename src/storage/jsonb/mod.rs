//! `jsonb` as PostgreSQL holds it, walked and built in place.
//!
//! pgrx's `JsonB` converts through text and serde_json in both directions: it costs time
//! proportional to the whole document, turns integers past 64 bits into floats and panics on
//! `1e400`. [`PgJsonb`] is the datum itself; [`JsonbNode`] exposes it to the core node by node
//! with PostgreSQL's own container functions, and [`build`] (in [`mod@build`]) writes the
//! core's output back, copying source nodes byte for byte.

mod build;
mod container;
mod depth;
mod members;
mod text;

pub use build::{build, object_of, size_beyond};
pub use depth::{depth_beyond, stored_depth_beyond, MAX_STORED_DEPTH};

use std::any::Any;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use noetl_vars_core::doc::{Doc, DocRef, Number, View};
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
pub struct PgJsonb(pub(crate) *mut pg_sys::Jsonb);

impl PgJsonb {
    /// # Safety
    /// `datum` must be a non-null `jsonb` datum.
    unsafe fn from_raw(datum: pg_sys::Datum) -> PgJsonb {
        // Containers need the 4-byte header, so short (packed) varlenas are expanded too.
        // SAFETY: the caller's: a non-null jsonb (varlena) datum.
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
        // SAFETY: a PgJsonb always holds a detoasted jsonb varlena.
        unsafe { pgrx::varlena::varsize_any(self.0.cast()) }
    }

    /// The datum's bytes, header included: equal bytes hold equal documents. Valid while the
    /// datum is (the memory context of the call that holds it).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: a detoasted jsonb varlena of `size()` bytes, not written while borrowed.
        unsafe { std::slice::from_raw_parts(self.0.cast::<u8>(), self.size()) }
    }

    /// The document as the core sees it; valid while `life` is.
    pub fn doc(&self, life: &Arc<Lifetime>) -> DocRef {
        // SAFETY: a detoasted jsonb: its root container is valid for as long as the datum,
        // which the memory `life` stands for holds.
        unsafe {
            let root: *mut pg_sys::JsonbContainer = &raw mut (*self.0).root;
            if (*root).header & JB_FSCALAR != 0 {
                // A scalar is stored as an array of one element (container.rs reads it).
                let mut scalar = container::array_at(root, 0);
                JsonbNode::from_value(life, &mut scalar)
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
    // SAFETY (of callers): `datum` is a jsonb datum, or `is_null`.
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<PgJsonb> {
        if is_null {
            None
        } else {
            // SAFETY: not null, and a jsonb datum by this function's contract.
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

// SAFETY: arguments are unboxed through `FromDatum`, for arguments declared as jsonb.
unsafe impl<'fcx> ArgAbi<'fcx> for PgJsonb {
    // pgrx calls this only for arguments declared without `Option`, i.e. of STRICT functions,
    // where PostgreSQL never passes NULL; every jsonb argument here is an `Option`.
    // SAFETY (of callers): `arg` is a jsonb argument.
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument is a jsonb datum (the function's declared type).
        match unsafe { arg.unbox_arg_using_from_datum() } {
            Some(value) => value,
            None => pgrx::error!("noetl_vars: argument {index} must not be NULL"),
        }
    }

    // SAFETY (of callers): `arg` is a jsonb argument.
    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: the argument is a jsonb datum (the function's declared type) or NULL.
        unsafe { arg.unbox_arg_using_from_datum().into() }
    }
}

// SAFETY: the datum returned is a jsonb built in the caller's memory context.
unsafe impl BoxRet for PgJsonb {
    // SAFETY (of callers): `fcinfo` is the call's own.
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: a valid, non-null jsonb datum for a function declared to return jsonb.
        unsafe { fcinfo.return_raw_datum(self.datum()) }
    }
}

pgrx::impl_sql_translatable!(PgJsonb, "jsonb");

/// Marks the end of the memory that nodes point into (the function call, the SPI connection).
/// A node used after that answers like JSON `null` instead of reading freed memory.
pub struct Lifetime(AtomicBool);

/// The memory of one call: ends when dropped, on every return path and while unwinding.
/// Declare it after the [`crate::storage::spi::Connection`] its nodes point into, so that it ends
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
pub(crate) enum Repr {
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
    pub(crate) repr: Repr,
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
        // SAFETY: the caller's: a valid JsonbValue.
        let value = unsafe { *value };
        let repr = if value.type_ == pg_sys::jbvType::jbvBinary {
            // SAFETY: jbvBinary values carry the `binary` member of the union.
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
                // SAFETY: the container lives as long as `life`, which is still alive.
                Some((ptr, unsafe { (*ptr).header }))
            }
            _ => None,
        }
    }

    /// This node as a `JsonbValue`, to be copied into another document.
    pub(crate) fn as_value(&self) -> pg_sys::JsonbValue {
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
                // SAFETY: checked alive above; the container lives as long as `life`.
                let header = unsafe { (*ptr).header };
                let count = (header & JB_CMASK) as usize;
                if header & JB_FOBJECT != 0 {
                    View::Object(count)
                } else {
                    View::Array(count)
                }
            }
            // SAFETY: the union member read is the one `type_` names; strings and numerics
            // point into a container that lives as long as `life`, checked alive above.
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
        // SAFETY: a live object container (checked by `container`); the value found points
        // into the same container.
        unsafe {
            let mut found = container::object_get(ptr, key.as_bytes())?;
            Some(JsonbNode::from_value(&self.life, &mut found))
        }
    }

    fn at(&self, index: usize) -> Option<DocRef> {
        let (ptr, header) = self.container()?;
        if header & JB_FOBJECT != 0 || index >= (header & JB_CMASK) as usize {
            return None;
        }
        // SAFETY: a live array container (checked by `container`), `index` in range.
        unsafe {
            let mut found = container::array_at(ptr, index);
            Some(JsonbNode::from_value(&self.life, &mut found))
        }
    }

    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(self.object_len());
        self.members(false, |key, _| keys.push(key));
        keys
    }

    fn entries(&self) -> Vec<(String, DocRef)> {
        let mut entries = Vec::with_capacity(self.object_len());
        self.members(true, |key, value| {
            if let Some(value) = value {
                entries.push((key, value));
            }
        });
        entries
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub(crate) fn null_value() -> pg_sys::JsonbValue {
    // SAFETY: an all-zero JsonbValue is a valid jbvNull.
    unsafe { std::mem::zeroed() }
}

/// The text `numeric_out` gives for a number (the shortest exact form, scale kept).
///
/// # Safety
/// `n` must point to a valid numeric.
unsafe fn numeric_text(n: pg_sys::Numeric) -> String {
    let text: Option<&CStr> =
        // SAFETY: the caller's; numeric_out takes one numeric and returns a C string.
        unsafe { pgrx::direct_function_call(pg_sys::numeric_out, &[Some(pg_sys::Datum::from(n))]) };
    text.map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default()
}
