//! Sizes a template asks for by number, checked before anything is allocated.
//!
//! A width, a precision or an indentation is a number in the template; the text it asks for
//! can be far larger than any memory limit (`'{:>4000000000000000000}'.format(1)`). minijinja's
//! own filters check such sizes against the fuel before they allocate; the ones below do not
//! come from minijinja's checked code (Python's `str.format` from minijinja-contrib, and our
//! `tojson`), so they are checked here against `noetl_vars.max_value_bytes`: a Rust allocation
//! that fails aborts the process, which PostgreSQL answers by restarting every backend.

use crate::error::{Error, ErrorKind, Result};
use crate::limits::text_limit;

/// The output `format` asks for at least, by the widths and precisions of its replacement
/// fields: the sum of every number written in a field's format spec (an over-estimate, which
/// is all a bound needs), plus the format string itself.
pub(crate) fn str_format_demand(format: &str) -> u128 {
    let mut demand = format.len() as u128;
    let mut rest = format;
    while let Some(open) = rest.find(['{', '}']) {
        let after = &rest[open + 1..];
        // `{{` and `}}` are literal braces.
        if after.starts_with(&rest[open..open + 1]) {
            rest = &after[1..];
            continue;
        }
        if rest.as_bytes()[open] == b'}' {
            rest = after;
            continue;
        }
        let end = after.find('}').unwrap_or(after.len());
        if let Some((_, spec)) = after[..end].split_once(':') {
            demand = demand.saturating_add(numbers_in(spec));
        }
        rest = &after[end.min(after.len())..];
    }
    demand
}

/// The sum of the decimal numbers in `spec` (saturating).
fn numbers_in(spec: &str) -> u128 {
    let mut sum: u128 = 0;
    let mut current: u128 = 0;
    for c in spec.chars().chain(std::iter::once(' ')) {
        match c.to_digit(10) {
            Some(d) => current = current.saturating_mul(10).saturating_add(d as u128),
            None => {
                sum = sum.saturating_add(current);
                current = 0;
            }
        }
    }
    sum
}

/// Refuses a `str.format` whose widths and precisions ask for more text than a value may be.
pub(crate) fn check_str_format(format: &str) -> Result<()> {
    let demand = str_format_demand(format);
    check_demand(demand, "the widths and precisions of a format string ask")
}

/// Refuses `tojson`'s indentation of `indent` spaces per level at `depth` levels.
pub(crate) fn check_indent(indent: usize, depth: usize) -> Result<usize> {
    let demand = (indent as u128).saturating_mul(depth as u128);
    check_demand(demand, "tojson's indentation asks")?;
    Ok(demand as usize)
}

/// Refuses text that would grow to `bytes`, more than a value may be.
pub(crate) fn check_output(bytes: usize) -> Result<()> {
    check_demand(bytes as u128, "a template's text would ask")
}

fn check_demand(demand: u128, what: &str) -> Result<()> {
    let limit = text_limit();
    if demand > limit as u128 {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!("{what} for more than noetl_vars.max_value_bytes ({limit}) bytes of text"),
        )
        .with_hint("use smaller widths, precisions or indentation"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_format_demand_counts_widths_and_precisions_of_every_field() {
        assert_eq!(str_format_demand("ab"), 2);
        assert_eq!(str_format_demand("{:>10}"), 6 + 10);
        assert_eq!(str_format_demand("{0:08.3f}-{x!r:^5}"), 18 + 8 + 3 + 5);
        // Literal braces are no fields; a field name's digits are no width.
        assert_eq!(str_format_demand("{{:999}}{12}"), 12);
        assert_eq!(
            str_format_demand("{:>4000000000000000000}"),
            4_000_000_000_000_000_000 + 23
        );
        assert_eq!(
            str_format_demand(&format!("{{:{}}}", "9".repeat(60))),
            u128::MAX
        );
    }

    #[test]
    fn oversized_demands_are_refused_before_anything_is_built() {
        crate::limits::set_text_limit(1000);
        assert!(check_str_format("{:>900}").is_ok());
        let err = check_str_format("{:.4000000000000000000f}").unwrap_err();
        assert_eq!(err.kind, ErrorKind::ValueTooLarge);
        assert!(check_indent(4, 250).is_ok());
        assert_eq!(
            check_indent(usize::MAX, 2).unwrap_err().kind,
            ErrorKind::ValueTooLarge
        );
        crate::limits::set_text_limit(crate::limits::DEFAULT_MAX_VALUE_BYTES);
    }
}
