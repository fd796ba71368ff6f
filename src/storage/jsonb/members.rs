//! The members of a `jsonb` object, walked once: its keys, or its keys and values.

use noetl_vars_core::doc::DocRef;

use super::{container, JsonbNode, JB_CMASK, JB_FOBJECT};

impl JsonbNode {
    /// The number of members of an object; 0 for anything else.
    pub(super) fn object_len(&self) -> usize {
        match self.container() {
            Some((_, header)) if header & JB_FOBJECT != 0 => (header & JB_CMASK) as usize,
            _ => 0,
        }
    }

    /// Calls `each` with every key of an object in the document's order, and its value when
    /// `values` is set (nothing for anything else), read in place ([`container`]).
    pub(super) fn members(&self, values: bool, mut each: impl FnMut(String, Option<DocRef>)) {
        let Some((ptr, header)) = self.container() else {
            return;
        };
        if header & JB_FOBJECT == 0 {
            return;
        }
        // SAFETY: a live object container; its keys and values point into it, and it lives
        // as long as `life` (checked alive by `container` above).
        for (key, mut value) in unsafe { container::object_members(ptr) } {
            let name = String::from_utf8_lossy(key).into_owned();
            // SAFETY: as above: a value read from the same live container.
            let value = values.then(|| unsafe { JsonbNode::from_value(&self.life, &mut value) });
            each(name, value);
        }
    }
}
