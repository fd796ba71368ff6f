//! The minijinja environment, set up to behave like NoETL's Jinja2, and the two ways a
//! template is run: to text, or to the value of its single `{{ expression }}` (the formatter
//! captures what it would print).

use std::cell::RefCell;

use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::diagnostics::to_minijinja;
use super::{filters, Limits};
use crate::error::{Error, ErrorKind};
use crate::pyfmt;

/// What the formatter does with `{{ … }}` output in the render that is running.
enum Frame {
    Text,
    Capture(Vec<Value>),
}

thread_local! {
    static OUTPUT: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// One render's frame on the output stack, popped however the render ends (an error, or a
/// host interrupt unwinding through the engine).
struct FrameGuard;

impl FrameGuard {
    fn push(frame: Frame) -> FrameGuard {
        OUTPUT.with(|f| f.borrow_mut().push(frame));
        FrameGuard
    }

    fn pop(self) -> Option<Frame> {
        let frame = OUTPUT.with(|f| f.borrow_mut().pop());
        std::mem::forget(self);
        frame
    }
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        OUTPUT.with(|f| f.borrow_mut().pop());
    }
}

/// Renders `template` to text.
pub(super) fn render_text(
    template: &minijinja::Template<'_, '_>,
    ctx: Value,
) -> Result<String, minijinja::Error> {
    let frame = FrameGuard::push(Frame::Text);
    let result = guarded(|| template.render(ctx));
    drop(frame);
    result
}

/// Renders `template`, capturing the values its `{{ }}` tags emit instead of printing them:
/// (what was printed anyway, the captured values).
pub(super) fn render_captured(
    template: &minijinja::Template<'_, '_>,
    ctx: Value,
) -> Result<(String, Vec<Value>), minijinja::Error> {
    let frame = FrameGuard::push(Frame::Capture(Vec::new()));
    let result = guarded(|| template.render(ctx));
    let values = match frame.pop() {
        Some(Frame::Capture(values)) => values,
        _ => Vec::new(),
    };
    Ok((result?, values))
}

/// Runs the engine, turning a Rust panic inside it (an arithmetic overflow or a
/// `capacity overflow` on a size no check foresaw) into an error of the statement. Any other
/// unwinding (the host's own errors, raised from an interrupt poll) goes on unchanged.
fn guarded(
    render: impl FnOnce() -> Result<String, minijinja::Error>,
) -> Result<String, minijinja::Error> {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    // SAFETY (unwind safety): the engine's shared state is the environment, which a render
    // only reads; everything the render built is dropped with it.
    let payload = match catch_unwind(AssertUnwindSafe(render)) {
        Ok(result) => return result,
        Err(payload) => payload,
    };
    let message = match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(m), _) => m.to_string(),
        (_, Some(m)) => m.clone(),
        _ => resume_unwind(payload),
    };
    let error = if message.contains("capacity overflow") {
        Error::new(
            ErrorKind::ValueTooLarge,
            "a template asked for more memory than can exist",
        )
    } else {
        Error::new(
            ErrorKind::Evaluation,
            format!("the template engine failed: {message}"),
        )
        .with_hint("this is a defect of noetl_vars; please report the template")
    };
    Err(to_minijinja(error))
}

fn format(out: &mut minijinja::Output<'_>, value: &Value) -> Result<(), minijinja::Error> {
    crate::interrupt::poll();
    let captured = OUTPUT.with(|frames| {
        if let Some(Frame::Capture(values)) = frames.borrow_mut().last_mut() {
            values.push(value.clone());
            true
        } else {
            false
        }
    });
    if captured {
        return Ok(());
    }
    let text = pyfmt::py_str(value).map_err(to_minijinja)?;
    out.write_str(&text)
        .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"))
}

/// Python's methods on strings, lists and dicts (minijinja-contrib's), with the widths and
/// precisions of `str.format` checked first: contrib pads and extends without a bound.
fn python_method(
    state: &mut minijinja::State<'_, '_>,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, minijinja::Error> {
    if method == "format" {
        if let Some(format) = value.as_str() {
            crate::bounds::check_str_format(format).map_err(to_minijinja)?;
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// The environment every template of a process is compiled into.
pub(super) fn build(limits: &Limits) -> Environment<'static> {
    let mut env = Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(python_method);
    // Undefined is an error when printed or used, but a conditional may test it (rule 4).
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Debug mode would copy template sources and the values of variables into every error;
    // error messages must never echo a variable's value.
    env.set_debug(false);
    env.set_fuel(limits.fuel);
    env.set_formatter(|out, _state, value| format(out, value));
    env.add_filter("tojson", |value: Value, kwargs: Kwargs| {
        let indent: Option<usize> = kwargs.get("indent")?;
        kwargs.assert_all_used()?;
        crate::tojson::tojson(&value, indent)
            .map(Value::from_safe_string)
            .map_err(to_minijinja)
    });
    env.add_filter("string", |value: Value| {
        pyfmt::py_str(&value).map_err(to_minijinja)
    });
    env.add_filter("truncate", filters::truncate);
    env.add_filter("int", filters::jinja2_int);
    env.add_filter("float", filters::jinja2_float);
    env.add_test("sequence", filters::is_sequence);
    env.add_filter("b64encode", filters::b64encode);
    env.add_filter("b64decode", filters::b64decode);
    env.add_filter("pprint", filters::pprint);
    // Jinja2's range, with the same 100,000-item limit as minijinja's, but polling the host so
    // that loops can be cancelled.
    env.add_function("range", filters::range);
    env.add_function("now", filters::now);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_engine_is_an_error_and_a_host_error_unwinds_on() {
        let err = guarded(|| panic!("capacity overflow")).unwrap_err();
        let core = crate::error::eval_error(err);
        assert_eq!(core.kind, ErrorKind::ValueTooLarge);
        let err = guarded(|| panic!("attempt to add with overflow")).unwrap_err();
        assert_eq!(crate::error::eval_error(err).kind, ErrorKind::Evaluation);
        struct HostError;
        let unwound = std::panic::catch_unwind(|| guarded(|| std::panic::panic_any(HostError)));
        assert!(unwound.unwrap_err().downcast_ref::<HostError>().is_some());
    }
}
