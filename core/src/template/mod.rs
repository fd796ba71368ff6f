//! Templates: minijinja set up to behave like NoETL's Jinja2 ([`environment`], [`filters`]),
//! the source rewrites Jinja2 needs ([`rewrite`]), a bounded cache of compiled templates per
//! process ([`cache`]), what each template reads and how it is evaluated, read off its syntax
//! tree ([`analysis`]), and error reports that point into the text the user wrote
//! ([`diagnostics`]).

mod analysis;
mod cache;
mod chains;
mod diagnostics;
mod environment;
mod filters;
mod rewrite;

use std::collections::BTreeSet;
use std::sync::Arc;

use minijinja::value::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::path::Path;

use crate::limits::Limits;
pub use diagnostics::{shorten, snippet};

/// Whether a string is a template at all (rule 3: otherwise it is stored unchanged).
pub fn has_template_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// How a template string is evaluated.
#[derive(Debug)]
pub enum Evaluation {
    /// Exactly `{{ path }}`: resolved against the documents, falling back to `expression`.
    Path(Path),
    /// Exactly one `{{ expression }}`: its value, with its own JSON type.
    Expression,
    /// Anything else: rendered to text.
    Text,
}

/// The variables a template reads, as far as its syntax tells.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads {
    /// `vars.X`, `vars['X']`, `vars.get('X')`
    pub vars: BTreeSet<String>,
    /// Bare names that may be variables (`{{ counter }}` means `vars.counter` when it exists).
    pub names: BTreeSet<String>,
    /// `vars` used as a whole or with a name known only at run time: `vars[name]`,
    /// `vars.get(name)`, `vars | length`, `for k in vars`, `vars.items()`. `ctx`, which is
    /// `vars` in a `set:` block, counts as `vars` here in every block (a vars block that reads
    /// a `ctx` of its own only locks more than it needs).
    pub all_vars: bool,
    /// Members of the `set:` scopes read (`step.x`, `iter['x']`, `workflow.get('x')`), as
    /// (scope, name); see [`crate::scopes`].
    pub scoped: BTreeSet<(String, String)>,
    /// `set:` scopes used as a whole or with a name known only at run time.
    pub scoped_all: BTreeSet<String>,
}

/// One template string, compiled once per process.
#[derive(Debug)]
pub struct Compiled {
    /// The string as written in the vars block (line endings normalized).
    pub source: String,
    pub evaluation: Evaluation,
    pub reads: Reads,
    /// The name of the compiled template in the environment, or why there is none.
    body: std::result::Result<String, Error>,
    /// Where the compiled text starts in `source` (it is trimmed for `Expression`).
    offset: usize,
    /// Maps positions in the compiled text back to the user's text.
    edits: rewrite::Edits,
    /// What the cache counts this template as.
    cost: usize,
}

/// What running a template gave.
pub enum Rendered {
    /// The single `{{ expression }}`'s value.
    Value(Value),
    Text(String),
}

/// The compiled form of a template string, from the cache when it was seen before. Call it
/// on the evaluation stack ([`crate::stack::run`]): parsing recurses once per nesting level.
pub fn compile(source: &str, limits: &Limits) -> Arc<Compiled> {
    cache::compile(source, limits)
}

/// Changes whenever the template cache lets a compiled template go ([`cache::generation`]).
pub fn generation(limits: &Limits) -> u64 {
    cache::generation(limits)
}

/// Compiles `original` into the environment under `name`.
fn compile_new(env: &mut minijinja::Environment<'static>, name: &str, original: &str) -> Compiled {
    // Jinja2 reads every line ending of a template as "\n".
    let source = if original.contains('\r') {
        original.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        original.to_string()
    };
    let trimmed = source.trim();
    let lead = source.len() - source.trim_start().len();
    // A template that is one `{{ }}` and nothing else is evaluated without the whitespace
    // around it; anything else is text, whitespace included.
    let inspection = analysis::inspect(trimmed, &|e| diagnostics::located(e, &source, lead, None));
    let (text, offset) = match &inspection {
        Ok(s) if !matches!(s.evaluation, Evaluation::Text) => (trimmed, lead),
        _ => (source.as_str(), 0),
    };
    let (compiled_text, edits) = rewrite::percent_format(text);
    let body = inspection.as_ref().map_err(Clone::clone).and_then(|_| {
        if let Some((message, at)) = rewrite::zero_padded_integer(text) {
            let at = at.start + offset..at.end + offset;
            return Err(Error::new(
                ErrorKind::TemplateSyntax,
                format!("syntax error: {message}"),
            )
            .with_detail(snippet(&source, Some(at), None)));
        }
        env.add_template_owned(name.to_string(), compiled_text)
            .map(|()| name.to_string())
            .map_err(|e| diagnostics::located(&e, &source, offset, Some(&edits)))
    });
    let (evaluation, mut reads) = match inspection {
        Ok(s) => (s.evaluation, s.reads),
        Err(_) => (Evaluation::Text, Reads::default()),
    };
    if let Ok(name) = &body {
        if let Ok(t) = env.get_template(name) {
            reads.names = analysis::free_names(t.undeclared_variables(false));
        }
    }
    let cost = cache::cost_of(source.len());
    Compiled {
        source,
        evaluation,
        reads,
        body,
        offset,
        edits,
        cost,
    }
}

impl Compiled {
    /// Runs the template with `ctx`: `Expression` templates yield their value, `Text` ones
    /// their text. Each is rendered once.
    pub fn run(&self, ctx: Value, limits: &Limits) -> Result<Rendered> {
        let name = self.body.as_ref().map_err(Clone::clone)?;
        crate::limits::set_text_limit(limits.max_value_bytes);
        let env = cache::environment(limits);
        let template = env.get_template(name).map_err(|e| self.error(&e))?;
        match self.evaluation {
            Evaluation::Text => {
                let text = environment::render_text(&template, ctx).map_err(|e| self.error(&e))?;
                check_text_size(&text, limits)?;
                Ok(Rendered::Text(text))
            }
            Evaluation::Path(_) | Evaluation::Expression => {
                let (text, mut values) =
                    environment::render_captured(&template, ctx).map_err(|e| self.error(&e))?;
                if values.len() == 1 && text.is_empty() {
                    return Ok(Rendered::Value(values.remove(0)));
                }
                // One `{{ }}` emits once; should the engine emit otherwise, the text is what
                // it printed, in order.
                let mut out = String::new();
                for value in &values {
                    crate::pyfmt::write_str(value, &mut out)?;
                }
                out.push_str(&text);
                check_text_size(&out, limits)?;
                Ok(Rendered::Text(out))
            }
        }
    }

    /// An engine error, with the template shown as the user wrote it and the failing spot
    /// marked.
    pub fn error(&self, err: &minijinja::Error) -> Error {
        diagnostics::located(err, &self.source, self.offset, Some(&self.edits))
    }
}

fn check_text_size(text: &str, limits: &Limits) -> Result<()> {
    if text.len() > limits.max_value_bytes {
        return Err(Error::new(
            ErrorKind::ValueTooLarge,
            format!(
                "rendered text is {} bytes, more than noetl_vars.max_value_bytes ({})",
                text.len(),
                limits.max_value_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
