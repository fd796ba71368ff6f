//! Lifetimes (docs/operations.md, "Lifetimes"): how long a variable written now lasts, from a
//! call's `ttl interval` argument or from a block's `$ttl` key, and which variables of a block a
//! `$ttl` covers.
//!
//! A lifetime is an interval as PostgreSQL keeps one (months, days, microseconds), so that
//! `interval '1 month'` means a calendar month as it does in SQL. It must be positive in every
//! part it has (a mixed interval such as `1 month -29 days` may end before it starts, depending
//! on the month) and at most 100 years (`infinity` included): a lifetime that is no lifetime is
//! the caller's mistake, never an instant expiry or a variable that silently never ends.

use std::collections::HashMap;

use crate::doc::{DocRef, Number, View};
use crate::error::{Error, Result};
use crate::validate::quote;

/// The key of a `vars:` or `set:` block that holds lifetimes rather than a variable.
pub const TTL_KEY: &str = "$ttl";

const MICROS_PER_DAY: i128 = 86_400_000_000;
/// An average month (365.25 / 12 days), for the bound only.
const MICROS_PER_MONTH: i128 = 2_629_800_000_000;
/// 100 years of 365.25 days, the longest lifetime.
const MAX_DAYS: i128 = 36_525;

/// A checked lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    months: i32,
    days: i32,
    micros: i64,
}

impl Ttl {
    /// A lifetime from an interval's parts; `what` names where it came from in an error.
    pub fn new(months: i32, days: i32, micros: i64, what: &str) -> Result<Ttl> {
        let hint =
            "a lifetime is a positive interval of at most 100 years, e.g. '15 minutes' or '7 days'";
        if months < 0 || days < 0 || micros < 0 || (months == 0 && days == 0 && micros == 0) {
            return Err(Error::invalid(format!(
                "{what} must be a positive lifetime: no part of it below zero, and not all of it zero"
            ))
            .with_hint(hint));
        }
        let total =
            months as i128 * MICROS_PER_MONTH + days as i128 * MICROS_PER_DAY + micros as i128;
        if total > MAX_DAYS * MICROS_PER_DAY {
            return Err(
                Error::invalid(format!("{what} is longer than 100 years")).with_hint(
                    "a variable without a lifetime lasts as long as its execution: leave the lifetime out",
                ),
            );
        }
        Ok(Ttl {
            months,
            days,
            micros,
        })
    }

    /// The interval as PostgreSQL reads it back, whatever `IntervalStyle` is (every part is
    /// positive and carries its unit).
    pub fn interval_text(&self) -> String {
        format!(
            "{} mons {} days {} microseconds",
            self.months, self.days, self.micros
        )
    }
}

/// A lifetime written in a block: a JSON number of seconds, or a duration such as
/// `"15 minutes"`, `"1h30m"` or `"2 days 4 hours"` (units: s, sec, second; m, min, minute;
/// h, hr, hour; d, day; w, week; each also plural). Months and years have no fixed length and
/// are not units here.
pub fn parse_spec(spec: &View<'_>, what: &str) -> Result<Ttl> {
    let micros = match spec {
        View::Number(Number::Int(n)) => (*n as f64) * 1e6,
        View::Number(Number::Float(f)) => f * 1e6,
        View::Number(Number::BigInt(_)) => f64::INFINITY,
        View::String(text) => duration_micros(text).ok_or_else(|| {
            Error::invalid(format!("{what}: {} is not a duration", quote(text))).with_hint(
                "write a number of seconds or a duration in s, m, h, d or w, such as \"15 minutes\", \"1h30m\" or \"7 days\" (months and years have no fixed length: write days, or pass ttl => interval '1 month')",
            )
        })?,
        _ => {
            return Err(Error::invalid(format!(
                "{what} must be a number of seconds or a duration text"
            ))
            .with_hint("e.g. 900 or \"15 minutes\""))
        }
    };
    if !(micros.is_finite() && micros <= (MAX_DAYS * MICROS_PER_DAY) as f64) {
        return Err(
            Error::invalid(format!("{what} is longer than 100 years")).with_hint(
                "leave the lifetime out for a variable that lasts as long as its execution",
            ),
        );
    }
    Ttl::new(0, 0, micros.round() as i64, what)
}

/// The microseconds of a duration text, `None` when it is not one.
fn duration_micros(text: &str) -> Option<f64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = unit_seconds(&rest[..unit_len].to_ascii_lowercase())?;
        rest = rest[unit_len..].trim_start_matches([' ', ',']);
        total += number * unit * 1e6;
    }
    Some(total)
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return None,
    })
}

/// The lifetimes a block's `$ttl` gives: one for every variable it writes, or one per key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockTtl {
    pub all: Option<Ttl>,
    /// By the key as the block writes it.
    pub each: HashMap<String, Ttl>,
}

impl BlockTtl {
    /// The `$ttl` of `block` (an object); `keys` are the block's other keys, and `allowed`
    /// says whether a key's variable can have a lifetime (an error message when not).
    pub fn of(
        block: &DocRef,
        keys: &[String],
        allowed: impl Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<BlockTtl> {
        let Some(spec) = block.get(TTL_KEY) else {
            return Ok(BlockTtl::default());
        };
        let View::Object(_) = spec.view() else {
            let all = parse_spec(&spec.view(), "$ttl")?;
            return Ok(BlockTtl {
                all: Some(all),
                each: HashMap::new(),
            });
        };
        let mut each = HashMap::new();
        for key in spec.keys() {
            let what = format!("$ttl of {}", quote(&key));
            if !keys.contains(&key) {
                return Err(
                    Error::invalid(format!("{what}: the block writes no {}", quote(&key)))
                        .with_hint("name a key of the same block, spelt as the block spells it"),
                );
            }
            allowed(&key).map_err(|why| Error::invalid(format!("{what}: {why}")))?;
            if let Some(value) = spec.get(&key) {
                each.insert(key, parse_spec(&value.view(), &what)?);
            }
        }
        Ok(BlockTtl { all: None, each })
    }

    /// The lifetime of the variable the block writes under `key`.
    pub fn for_key(&self, key: &str) -> Option<Ttl> {
        self.each.get(key).copied().or(self.all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<Ttl> {
        let doc = crate::doc::SerdeDoc::new(serde_json::from_str(json).unwrap());
        parse_spec(&doc.view(), "$ttl")
    }

    fn micros(ttl: Ttl) -> i64 {
        assert_eq!((ttl.months, ttl.days), (0, 0));
        ttl.micros
    }

    #[test]
    fn numbers_are_seconds() {
        assert_eq!(micros(spec("900").unwrap()), 900_000_000);
        assert_eq!(micros(spec("0.5").unwrap()), 500_000);
    }

    #[test]
    fn durations_add_their_parts() {
        assert_eq!(micros(spec("\"15 minutes\"").unwrap()), 900_000_000);
        assert_eq!(micros(spec("\"1h30m\"").unwrap()), 5_400_000_000);
        assert_eq!(
            micros(spec("\"2 days, 4 Hours\"").unwrap()),
            (2 * 86_400 + 4 * 3_600) * 1_000_000
        );
        assert_eq!(micros(spec("\"1 week\"").unwrap()), 604_800_000_000);
    }

    #[test]
    fn zero_negative_and_unknown_units_are_refused() {
        for bad in [
            "0",
            "-5",
            "\"0s\"",
            "\"\"",
            "\"soon\"",
            "\"5\"",
            "\"1 month\"",
            "\"1 year\"",
            "\"-1h\"",
            "\"1..5s\"",
            "true",
            "null",
            "[]",
            "1e300",
            "99999999999999999999999",
        ] {
            let err = spec(bad).unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::InvalidArgument, "{bad}");
            assert!(err.message.contains("$ttl"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn a_hundred_years_is_the_longest() {
        assert!(spec("\"36525 days\"").is_ok());
        assert!(spec("\"36526 days\"").is_err());
        assert!(Ttl::new(1200, 0, 0, "ttl").is_ok());
        assert!(Ttl::new(1201, 0, 0, "ttl").is_err());
        assert!(Ttl::new(1200, 1, 0, "ttl").is_err());
        // PostgreSQL 17's interval 'infinity'.
        assert!(Ttl::new(i32::MAX, i32::MAX, i64::MAX, "ttl").is_err());
    }

    #[test]
    fn intervals_must_be_positive_in_every_part() {
        assert!(Ttl::new(1, -29, 0, "ttl").is_err());
        assert!(Ttl::new(0, 1, -3_600_000_000, "ttl").is_err());
        assert!(Ttl::new(0, 0, 0, "ttl").is_err());
        assert_eq!(
            Ttl::new(1, 2, 3, "ttl").unwrap().interval_text(),
            "1 mons 2 days 3 microseconds"
        );
    }

    #[test]
    fn a_block_ttl_names_keys_of_the_block() {
        let block =
            crate::doc::SerdeDoc::new(serde_json::json!({"a": 1, "b": 2, "$ttl": {"a": "1m"}}));
        let keys = vec!["a".to_string(), "b".to_string()];
        let ttl = BlockTtl::of(&block, &keys, |_| Ok(())).unwrap();
        assert_eq!(ttl.for_key("a").map(micros), Some(60_000_000));
        assert_eq!(ttl.for_key("b"), None);

        let stray = crate::doc::SerdeDoc::new(serde_json::json!({"a": 1, "$ttl": {"c": 5}}));
        let err = BlockTtl::of(&stray, &keys, |_| Ok(())).unwrap_err();
        assert!(err.message.contains("writes no \"c\""), "{}", err.message);

        let refused = BlockTtl::of(&block, &keys, |_| Err("no".into())).unwrap_err();
        assert!(
            refused.message.contains("$ttl of \"a\": no"),
            "{}",
            refused.message
        );

        let all = crate::doc::SerdeDoc::new(serde_json::json!({"a": 1, "$ttl": 60}));
        let ttl = BlockTtl::of(&all, &keys, |_| Ok(())).unwrap();
        assert_eq!(ttl.for_key("a").map(micros), Some(60_000_000));
    }
}
