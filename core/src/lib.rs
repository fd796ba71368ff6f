//! The PostgreSQL-free core of `noetl_vars`.
//!
//! Everything that can be decided without a database lives here, so that it is tested with a
//! plain `cargo test` and fuzzed. The public API is what a host (the pgrx layer) needs:
//!
//! - the render facade: [`block::parse`] a vars block, [`render::plan`] what it reads and
//!   writes, [`render::evaluate`] it (or [`render::evaluate_one`] variable) in a
//!   [`context::Scope`];
//! - the traits the host implements: documents ([`doc::Doc`], over `jsonb` so that only what
//!   templates touch is converted) and the variable store ([`context::VarStore`]);
//! - encryption at rest of sensitive values ([`sealed`]);
//! - the typed result ([`output::OutValue`]), argument rules ([`validate`]), limits
//!   ([`limits`]), the API bodies ([`shape`], [`redact`]), errors ([`Error`]) and two host
//!   hooks ([`stack`]: entering the evaluation stack; [`interrupt`]: polling for cancels).
//!
//! Templates, paths, values, Python-compatible text, tojson and dependency order are private
//! to the crate. The modules are layered (`tests/layers.rs`).

pub mod block;
mod bounds;
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
pub mod schema;
pub mod scopes;
pub mod sealed;
pub mod set;
pub mod shape;
pub mod stack;
mod stores;
mod template;
mod tojson;
pub mod ttl;
pub mod validate;
mod value;
pub mod watch;

pub use error::{Error, ErrorKind, Result};
