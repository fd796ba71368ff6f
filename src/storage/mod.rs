//! Storage: everything that reads or writes the extension's tables. SPI with kept plans
//! ([`spi`]), every statement ([`queries`], the writes of variables in [`upserts`], and
//! [`scoped_queries`] for the `set:` scopes) and
//! the planner hook that plans them as index scans ([`planner`]), typed access to
//! `noetl.transient` ([`table`]), `jsonb` read and built in place ([`jsonb`]), text and
//! timestamp datums ([`datum`]), the statements of an extension not updated yet
//! ([`legacy_queries`]), the checks every value passes before it is stored
//! ([`value_checks`]), and the two stores a block's templates read: the execution's variables
//! ([`vars_store`]) and the other `set:` scopes ([`scoped_store`]); events applied at most once
//! ([`events`]); the declarations of typed variables ([`declarations`]); the purges'
//! statements ([`purge_queries`]).

pub(crate) mod datum;
pub(crate) mod declarations;
pub(crate) mod direct;
pub(crate) mod events;
pub(crate) mod jsonb;
pub(crate) mod legacy_queries;
pub(crate) mod planner;
pub(crate) mod purge_queries;
pub(crate) mod queries;
pub(crate) mod rotation;
pub(crate) mod scoped_queries;
pub(crate) mod scoped_store;
pub(crate) mod scrub;
pub(crate) mod sealed;
pub(crate) mod spi;
pub(crate) mod table;
pub(crate) mod upserts;
pub(crate) mod value_checks;
pub(crate) mod vars_store;
