//! The PostgreSQL-free core of `noetl_vars`.
//!
//! Everything that can be decided without a database lives here, so that it is tested with a
//! plain `cargo test` and fuzzed: validation of names and types ([`validate`]), a step's vars
//! block ([`block`]), the template environment ([`template`]) and what templates see
//! ([`context`]), pure paths ([`path`]), dependency order ([`deps`]), rendering a block
//! ([`render`]), the typed result ([`output`]), Python-compatible text ([`pyfmt`]) and the API
//! response bodies ([`shape`]).
//!
//! Documents come in through the [`doc::Doc`] trait, which the PostgreSQL layer implements over
//! `jsonb` so that only what templates touch is ever converted.

pub mod block;
pub mod context;
mod deps;
pub mod doc;
mod doctext;
pub mod error;
pub mod interrupt;
pub mod limits;
pub mod output;
mod path;
mod pyfmt;
pub mod redact;
pub mod render;
mod resolve;
pub mod shape;
pub mod stack;
mod template;
mod tojson;
pub mod validate;
mod value;

pub use error::{Error, ErrorKind, Result};
