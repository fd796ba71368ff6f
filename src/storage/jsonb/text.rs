//! `jsonb` to and from its text, and the members of an object: what encryption at rest needs
//! (the value's exact text is what is sealed; an opened value is parsed back by `jsonb_in`,
//! never through serde_json, so numbers keep every digit).

use std::ffi::{CStr, CString};

use noetl_vars_core::output::OutValue;
use noetl_vars_core::sealed::MARK;
use pgrx::pg_sys;

use super::{container, PgJsonb, JB_CMASK, JB_FOBJECT};

impl PgJsonb {
    /// The text stored under [`MARK`] when this is a sealed value: an object whose only
    /// member is that key, holding a string.
    pub fn sealed_text(&self) -> Option<String> {
        // SAFETY: a PgJsonb is a detoasted jsonb; the root container lives as long as it.
        if unsafe { (*self.0).root.header } & JB_CMASK != 1 {
            return None;
        }
        let found = self.find(MARK)?;
        if found.type_ != pg_sys::jbvType::jbvString {
            return None;
        }
        // SAFETY: a string value read from this datum's root object, pointing into it.
        unsafe {
            let s = found.val.string;
            let bytes = std::slice::from_raw_parts(s.val as *const u8, s.len.max(0) as usize);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    /// The root object, when the document is one.
    fn object(&self) -> Option<*const pg_sys::JsonbContainer> {
        // SAFETY: a detoasted jsonb; its root container lives as long as it.
        let root: *const pg_sys::JsonbContainer = unsafe { &raw const (*self.0).root };
        // SAFETY: as above.
        (unsafe { (*root).header } & JB_FOBJECT != 0).then_some(root)
    }

    /// The value of the root object's member `key`, pointing into this datum.
    fn find(&self, key: &str) -> Option<pg_sys::JsonbValue> {
        // SAFETY: an object container of this datum, read in place (container.rs).
        unsafe { container::object_get(self.object()?, key.as_bytes()) }
    }

    /// The value's text, as `jsonb_out` writes it.
    pub fn json_text(&self) -> String {
        // SAFETY: a detoasted jsonb; JsonbToCString returns a palloc'd C string.
        unsafe {
            let root: *mut pg_sys::JsonbContainer = &raw mut (*self.0).root;
            let text = pg_sys::JsonbToCString(std::ptr::null_mut(), root, self.size() as i32);
            let owned = CStr::from_ptr(text).to_string_lossy().into_owned();
            pg_sys::pfree(text.cast());
            owned
        }
    }

    /// The value `text` holds, parsed by `jsonb_in` (an ERROR when it is not JSON), in the
    /// current memory context.
    pub fn parse(text: &str) -> PgJsonb {
        let Ok(text) = CString::new(text) else {
            pgrx::error!("noetl_vars: a JSON text to parse holds a NUL character");
        };
        // SAFETY: jsonb_in takes a C string and returns a non-null jsonb datum.
        unsafe {
            let datum: Option<pg_sys::Datum> = pgrx::direct_function_call(
                pg_sys::jsonb_in,
                &[Some(pg_sys::Datum::from(text.as_ptr()))],
            );
            match datum {
                Some(d) => PgJsonb::from_raw(d),
                None => pgrx::error!("noetl_vars: jsonb_in returned NULL"),
            }
        }
    }

    /// The object's members as `(key, value)`, values as their own jsonb; empty for anything
    /// but an object.
    pub fn members(&self) -> Vec<(String, PgJsonb)> {
        let Some(object) = self.object() else {
            return Vec::new();
        };
        // SAFETY: an object container of this datum, read in place (container.rs); each value
        // is copied into a datum of its own.
        unsafe { container::object_members(object) }
            .into_iter()
            .map(|(key, mut value)| {
                let key = String::from_utf8_lossy(key).into_owned();
                // SAFETY: a value read from this datum, copied into a datum of its own.
                (
                    key,
                    PgJsonb(unsafe { pg_sys::JsonbValueToJsonb(&mut value) }),
                )
            })
            .collect()
    }

    /// The object's keys; empty for anything but an object.
    pub fn keys(&self) -> Vec<String> {
        let life = super::Lifetime::new();
        let doc = self.doc(&life);
        doc.keys()
    }

    /// The value of the object's member `key`, as its own jsonb.
    pub fn member(&self, key: &str) -> Option<PgJsonb> {
        let mut found = self.find(key)?;
        // SAFETY: a value found in this datum, copied into a datum of its own.
        Some(PgJsonb(unsafe { pg_sys::JsonbValueToJsonb(&mut found) }))
    }

    /// This object with the members named in `sealed` replaced by sealed values
    /// (`{MARK: text}`), built in one pass (no text is parsed).
    /// `keys` are the object's keys, in their order.
    pub fn with_sealed(&self, keys: Vec<String>, sealed: &[(String, String)]) -> PgJsonb {
        if sealed.is_empty() {
            return *self;
        }
        let life = super::Lifetime::new();
        let doc = self.doc(&life);
        let members = keys
            .into_iter()
            .filter_map(|key| {
                let value = match sealed.iter().find(|(name, _)| *name == key) {
                    Some((_, text)) => sealed_value(text),
                    None => OutValue::Doc(doc.get(&key)?),
                };
                Some((key, value))
            })
            .collect();
        super::build(&OutValue::Object(members))
    }

    /// The sealed value `{MARK: text}`.
    pub fn sealed(text: &str) -> PgJsonb {
        super::build(&sealed_value(text))
    }

    /// This object with the members `replaced` (`(key, JSON text)`) set, by `jsonb ||`.
    pub fn with_members(&self, replaced: &[(String, String)]) -> PgJsonb {
        if replaced.is_empty() {
            return *self;
        }
        let mut text = String::from("{");
        for (i, (key, value)) in replaced.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&quoted(key));
            text.push(':');
            text.push_str(value);
        }
        text.push('}');
        let patch = PgJsonb::parse(&text);
        // SAFETY: jsonb_concat takes two jsonb datums and returns a non-null jsonb.
        unsafe {
            let datum: Option<pg_sys::Datum> = pgrx::direct_function_call(
                pg_sys::jsonb_concat,
                &[Some(self.datum()), Some(patch.datum())],
            );
            match datum {
                Some(d) => PgJsonb::from_raw(d),
                None => pgrx::error!("noetl_vars: jsonb_concat returned NULL"),
            }
        }
    }
}

fn sealed_value(text: &str) -> OutValue {
    OutValue::Object(vec![(MARK.to_string(), OutValue::String(text.to_string()))])
}

/// `s` as a JSON string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
