//! `#[pg_test]`s: the functions inside a real PostgreSQL, through SPI.

use pgrx::prelude::*;

fn one(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query failed")
}

#[pg_test]
fn set_then_get_returns_the_value_exactly() {
    Spi::run("SELECT noetl.set_var(1, 'big', '12345678901234567890123'::jsonb)").unwrap();
    assert_eq!(
        one("SELECT noetl.get_var(1, 'big')::text").as_deref(),
        Some("12345678901234567890123")
    );
}
