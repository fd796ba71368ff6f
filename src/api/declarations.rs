//! Typed variables: the check of a schema before it is declared. `noetl.declare_var` and
//! `noetl.undeclare_var` are in `sql/declarations.sql`; the checks of written values in
//! [`crate::storage::declarations`].

use noetl_vars_core::output::OutValue;
use noetl_vars_core::schema;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::prelude::*;

use crate::backend::errors::Raise;
use crate::storage::jsonb::{Lifetime, PgJsonb};

/// Refuses a schema that is not a valid JSON Schema (draft 2020-12) the extension can use
/// (22023, naming the keyword at fault and where it is); NULL (no schema) is fine.
#[pg_extern(immutable, parallel_safe)]
fn check_schema(schema: Option<PgJsonb>) {
    let Some(schema) = schema else {
        return;
    };
    let life = Lifetime::new();
    if let Err(refused) = schema::compile_value(&OutValue::Doc(schema.doc(&life))) {
        let at = if refused.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", refused.path)
        };
        let err = Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the schema is not a valid JSON Schema (draft 2020-12): keyword \"{}\"{at}",
                refused.keyword
            ),
        )
        .with_detail(refused.reason);
        match refused.keyword.as_str() {
            "$ref" => {
                err.with_hint("references must point inside the schema ($defs): nothing is fetched")
            }
            _ => err,
        }
        .raise();
    }
}
