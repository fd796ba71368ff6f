//! Change capture: the history of every write (the trigger function on `noetl.transient` and
//! its transaction callbacks, [`changes`]) and the change events sent with `NOTIFY` at commit
//! ([`notify`]), and the outbox of variable watch ([`watch`]).

pub(crate) mod changes;
pub(crate) mod declared;
pub(crate) mod notify;
pub(crate) mod watch;
