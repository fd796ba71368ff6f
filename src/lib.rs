use pgrx::prelude::*;
::pgrx::pg_module_magic!(name, version);
#[pg_extern]
fn hello() -> &'static str {
    "hi"
}
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
