//! The members of a `jsonb` object, walked once: its keys, or its keys and values.

use noetl_vars_core::doc::DocRef;
use pgrx::pg_sys::{JsonbIteratorToken as Token, JsonbValue};

use super::{null_value, JsonbNode, JB_CMASK, JB_FOBJECT};
use crate::backend::ffi;

impl JsonbNode {
    /// The number of members of an object; 0 for anything else.
    pub(super) fn object_len(&self) -> usize {
        match self.container() {
            Some((_, header)) if header & JB_FOBJECT != 0 => (header & JB_CMASK) as usize,
            _ => 0,
        }
    }

    /// Calls `each` with every key of an object in the document's order, and its value when
    /// `values` is set (nothing for anything else): one pass of a `JsonbIterator` that does not
    /// descend into nested containers, its calls under one error boundary.
    pub(super) fn members(&self, values: bool, mut each: impl FnMut(String, Option<DocRef>)) {
        let Some((ptr, header)) = self.container() else {
            return;
        };
        if header & JB_FOBJECT == 0 {
            return;
        }
        // Keys and values as the iterator gives them, made into Rust values after it is done.
        let mut found: Vec<(JsonbValue, Option<JsonbValue>)> =
            Vec::with_capacity((header & JB_CMASK) as usize);
        let walk = &mut found;
        // SAFETY: on the backend's thread, over a live object container; the iterator is run
        // to WJB_DONE (which frees it). The closure holds plain data and a reference, and its
        // only call that may fail, `push`, aborts rather than unwinds.
        unsafe {
            ffi::boundary(|| {
                let mut it = ffi::JsonbIteratorInit(ptr);
                let mut v = null_value();
                loop {
                    match ffi::JsonbIteratorNext(&mut it, &mut v, true) {
                        Token::WJB_DONE => break,
                        Token::WJB_KEY => walk.push((v, None)),
                        Token::WJB_VALUE if values => {
                            if let Some(last) = walk.last_mut() {
                                last.1 = Some(v);
                            }
                        }
                        _ => {}
                    }
                }
            })
        };
        for (key, value) in found {
            // SAFETY: keys are strings pointing into the container, which lives as long as
            // `life` (checked alive by `container` above, and nothing ran since).
            let name = unsafe {
                let s = key.val.string;
                let bytes = std::slice::from_raw_parts(s.val as *const u8, s.len.max(0) as usize);
                String::from_utf8_lossy(bytes).into_owned()
            };
            let value = value.map(|mut v| {
                // SAFETY: a value the iterator filled in, pointing into the same container.
                unsafe { JsonbNode::from_value(&self.life, &mut v) }
            });
            if values && value.is_none() {
                continue;
            }
            each(name, value);
        }
    }
}
