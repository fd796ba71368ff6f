//! Scalar datums of `noetl.transient`'s columns as Rust strings: `text` and `timestamptz`
//! (written as `to_json` writes it, for the API bodies); a column of a trigger's row version.

use std::ffi::CStr;

use pgrx::pg_sys;

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

/// The bytes of a `text` (or other varlena) datum, detoasted in the current memory context.
///
/// # Safety
/// `datum` must be a non-null varlena datum; the bytes live as long as that context.
pub(crate) unsafe fn varlena_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    // SAFETY: the caller's.
    unsafe {
        let t: *mut pg_sys::varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let len = pgrx::varlena::varsize_any_exhdr(t);
        let data = pgrx::varlena::vardata_any(t) as *const u8;
        std::slice::from_raw_parts(data, len)
    }
}

/// The bytes of a `text` datum, as stored (in the database's encoding).
///
/// # Safety
/// `datum` must be a non-null `text` (or other varlena) datum.
pub unsafe fn text_bytes(datum: pg_sys::Datum) -> Vec<u8> {
    // SAFETY: the caller's; copied before the context can go.
    unsafe { varlena_bytes(datum) }.to_vec()
}

/// The text of a `text` datum (bytes that are not UTF-8 replaced: for messages and keys
/// shown, never for telling two values apart).
///
/// # Safety
/// `datum` must be a non-null `text` (or other varlena) datum.
pub unsafe fn text(datum: pg_sys::Datum) -> String {
    // SAFETY: the caller's; copied before the context can go.
    String::from_utf8_lossy(unsafe { varlena_bytes(datum) }).into_owned()
}

/// Column `name` of `tuple` (a trigger's row version); `None` for SQL NULL or no such column.
///
/// # Safety
/// `tuple` must be a valid tuple of a relation whose descriptor is `desc`.
pub unsafe fn column(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    name: &CStr,
) -> Option<pg_sys::Datum> {
    // SAFETY: the caller's; `name` is NUL-terminated.
    unsafe {
        let attnum = pg_sys::SPI_fnumber(desc, name.as_ptr());
        if attnum <= 0 {
            return None;
        }
        let mut is_null = false;
        let datum = pg_sys::SPI_getbinval(tuple, desc, attnum, &mut is_null);
        (!is_null).then_some(datum)
    }
}
