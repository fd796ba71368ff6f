//! Blocks: a step's `vars:` block (`render_vars`, `render_iteration`: [`vars_block`]) and
//! NoETL's `set:` block (`apply_set`: [`set_block`]), each a [`BlockKind`] run by the one
//! pipeline of [`pipeline`]: parse → plan → access → lock → prefetch → evaluate → write. A
//! new kind of block (re-running with predefined values, declarations) implements the trait
//! and gets the order of locks, the evaluation and the error modes of the others.

mod access;
mod pipeline;
pub(crate) mod set_block;
pub(crate) mod vars_block;

pub(crate) use access::Access;
pub(crate) use pipeline::{context_doc, expiry, run, skipping, BlockKind};
