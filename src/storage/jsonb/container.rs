//! A `jsonb` container's members read in place, as PostgreSQL's `getKeyJsonValueFromContainer`,
//! `getIthJsonbValueFromContainer` and `fillJsonbValue` (src/backend/utils/adt/jsonb_util.c)
//! read them, without their `palloc` and without a call into PostgreSQL: templates look a
//! result's members up one by one, each through an error boundary of its own otherwise. It is
//! the extension's one reader of containers: documents as the core sees them (`JsonbNode`,
//! a scalar root included) and the members of stored values (sealing, `text.rs`).
//!
//! The layout is jsonb's on-disk format (src/include/utils/jsonb.h), the same since
//! PostgreSQL 9.4 on every major this extension builds for: a header (member count and kind)
//! followed by one `JEntry` per child (an object's keys, then its values), then the children's
//! data. A `JEntry` holds the child's type and either its length or, every
//! `JB_OFFSET_STRIDE` children, its end offset; numbers and containers start int-aligned.
//! Nothing here checks the datum: like PostgreSQL's own readers, it relies on jsonb datums
//! being well formed, which every jsonb input and operation guarantees.

use pgrx::pg_sys::{self, JsonbContainer, JsonbValue};

use super::{null_value, JB_CMASK};

const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;

/// The `JEntry` of child `index`.
///
/// # Safety
/// `c` points to a valid container with more than `index` children.
unsafe fn entry(c: *const JsonbContainer, index: usize) -> u32 {
    // SAFETY: the caller's.
    unsafe { *(*c).children.as_ptr().add(index) }
}

/// Where child `index`'s data starts, from the start of the children's data
/// (`getJsonbOffset`).
///
/// # Safety
/// As [`entry`].
unsafe fn offset(c: *const JsonbContainer, index: usize) -> u32 {
    let mut offset = 0u32;
    for i in (0..index).rev() {
        // SAFETY: the caller's; `i < index`.
        let e = unsafe { entry(c, i) };
        offset = offset.wrapping_add(e & JENTRY_OFFLENMASK);
        if e & JENTRY_HAS_OFF != 0 {
            break;
        }
    }
    offset
}

/// The length of child `index`'s data (`getJsonbLength`).
///
/// # Safety
/// As [`entry`].
unsafe fn length(c: *const JsonbContainer, index: usize) -> u32 {
    // SAFETY: the caller's.
    let e = unsafe { entry(c, index) };
    if e & JENTRY_HAS_OFF != 0 {
        // SAFETY: the caller's.
        (e & JENTRY_OFFLENMASK).wrapping_sub(unsafe { offset(c, index) })
    } else {
        e & JENTRY_OFFLENMASK
    }
}

fn int_align(n: u32) -> u32 {
    (n + 3) & !3
}

/// The start of the children's data of a container with `children` `JEntry`s.
///
/// # Safety
/// As [`entry`], for `children` children.
unsafe fn base(c: *const JsonbContainer, children: usize) -> *mut u8 {
    // SAFETY: the caller's: the data follows the JEntry array.
    unsafe { (*c).children.as_ptr().add(children) as *mut u8 }
}

/// Child `index` as a `JsonbValue` pointing into the container (`fillJsonbValue`).
///
/// # Safety
/// As [`entry`]; `base` is the start of the container's children's data.
unsafe fn value(c: *const JsonbContainer, index: usize, base: *mut u8) -> JsonbValue {
    let mut v = null_value();
    // SAFETY: the caller's; each arm reads the child as its JEntry's type says it is stored.
    unsafe {
        let e = entry(c, index);
        let at = offset(c, index);
        match e & JENTRY_TYPEMASK {
            JENTRY_ISNULL => {}
            JENTRY_ISSTRING => {
                v.type_ = pg_sys::jbvType::jbvString;
                v.val.string.val = base.add(at as usize).cast();
                v.val.string.len = length(c, index) as i32;
            }
            JENTRY_ISNUMERIC => {
                v.type_ = pg_sys::jbvType::jbvNumeric;
                v.val.numeric = base.add(int_align(at) as usize).cast();
            }
            JENTRY_ISBOOL_TRUE | JENTRY_ISBOOL_FALSE => {
                v.type_ = pg_sys::jbvType::jbvBool;
                v.val.boolean = e & JENTRY_TYPEMASK == JENTRY_ISBOOL_TRUE;
            }
            _ => {
                v.type_ = pg_sys::jbvType::jbvBinary;
                v.val.binary.data = base.add(int_align(at) as usize).cast();
                v.val.binary.len = length(c, index).saturating_sub(int_align(at) - at) as i32;
            }
        }
    }
    v
}

/// The key of member `index` of an object of `count` members.
///
/// # Safety
/// `c` points to a valid object container of `count` members, `index < count`; the bytes
/// live as long as the container.
unsafe fn key<'a>(c: *const JsonbContainer, count: usize, index: usize) -> &'a [u8] {
    // SAFETY: the caller's; keys are strings.
    unsafe {
        let start = base(c, count * 2).add(offset(c, index) as usize);
        std::slice::from_raw_parts(start, length(c, index) as usize)
    }
}

/// The value of member `name` of an object (`getKeyJsonValueFromContainer`): keys are sorted
/// by length, then bytes, and searched in halves.
///
/// # Safety
/// `c` points to a valid object container.
pub(super) unsafe fn object_get(c: *const JsonbContainer, name: &[u8]) -> Option<JsonbValue> {
    // SAFETY: the caller's.
    let count = unsafe { ((*c).header & JB_CMASK) as usize };
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        // SAFETY: `middle < count`.
        let candidate = unsafe { key(c, count, middle) };
        match candidate
            .len()
            .cmp(&name.len())
            .then_with(|| candidate.cmp(name))
        {
            std::cmp::Ordering::Equal => {
                // SAFETY: the value of member `middle` is child `middle + count`.
                return Some(unsafe { value(c, middle + count, base(c, count * 2)) });
            }
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
        }
    }
    None
}

/// Element `index` of an array (`getIthJsonbValueFromContainer`).
///
/// # Safety
/// `c` points to a valid array container with more than `index` elements.
pub(super) unsafe fn array_at(c: *const JsonbContainer, index: usize) -> JsonbValue {
    // SAFETY: the caller's.
    unsafe {
        let count = ((*c).header & JB_CMASK) as usize;
        value(c, index, base(c, count))
    }
}

/// The members of an object, in its order: each key's bytes and its value.
///
/// # Safety
/// `c` points to a valid object container; the keys live as long as it.
pub(super) unsafe fn object_members<'a>(c: *const JsonbContainer) -> Vec<(&'a [u8], JsonbValue)> {
    // SAFETY: the caller's.
    let count = unsafe { ((*c).header & JB_CMASK) as usize };
    (0..count)
        // SAFETY: `i < count`; the value of member `i` is child `i + count`.
        .map(|i| unsafe { (key(c, count, i), value(c, i + count, base(c, count * 2))) })
        .collect()
}
