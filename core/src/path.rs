//! Pure paths: `{{ result.users[0].id }}`, `{{ vars.config }}`, `{{ this['data'] }}`.
//!
//! A template that is nothing but a path stores the node it names exactly as it is in the
//! source document (rule 2 of the contract: digit for digit). The template analysis
//! recognises them on the syntax tree; [`crate::resolve`] resolves them against a block's
//! scope, without the template engine.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub root: String,
    pub segs: Vec<Seg>,
}
