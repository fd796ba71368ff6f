//! Error reports: every engine error becomes a core [`Error`] of the right kind, with the
//! template shown as the user wrote it and the failing spot marked.

use crate::error::Error;

use super::rewrite::Edits;

/// An engine error located in `source`: the compiled text started at `offset` of it, and
/// `edits` (when the compiled text was rewritten) map its positions back.
pub(super) fn located(
    err: &minijinja::Error,
    source: &str,
    offset: usize,
    edits: Option<&Edits>,
) -> Error {
    let back = |pos: usize| offset + edits.map_or(pos, |e| e.original(pos));
    let range = err.range().map(|r| back(r.start)..back(r.end));
    let line = if range.is_some() { None } else { err.line() };
    let mut error = crate::error::eval_error_ref(err);
    error.detail = Some(snippet(source, range, line));
    error
}

/// A marked excerpt of `source`: where the error is, the line with it, and a caret line
/// under the failing spot. The excerpt starts on a line of its own so that the caret lines up
/// whatever the client prints before the first line (psql prints `DETAIL:  `).
pub fn snippet(source: &str, range: Option<std::ops::Range<usize>>, line: Option<usize>) -> String {
    const WIDTH: usize = 200;
    // Spans come from the engine; never trust them to fall on character boundaries.
    let floor = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let range = range.map(|r| floor(r.start)..floor(r.end.max(r.start)));
    let Some(range) = range else {
        let line_no = line.unwrap_or(1).max(1);
        let text = source.lines().nth(line_no - 1).unwrap_or(source);
        return format!("in the template:\n{}", shorten(text, WIDTH));
    };
    let line_start = source[..range.start]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line_end = source[range.start..]
        .find('\n')
        .map(|i| range.start + i)
        .unwrap_or(source.len());
    let line_text = &source[line_start..line_end];
    let line_no = source[..line_start].matches('\n').count() + 1;
    let col = source[line_start..range.start].chars().count();
    let place = if source.contains('\n') {
        format!("at line {line_no}, column {} of the template:", col + 1)
    } else {
        format!("at column {} of the template:", col + 1)
    };
    if col > WIDTH {
        return format!("{place}\n{}", shorten(line_text, WIDTH));
    }
    let end = range.end.min(line_end).max(range.start);
    let width = source[range.start..end].chars().count().max(1);
    format!(
        "{place}\n{}\n{}{}",
        shorten(line_text, WIDTH.max(col + width)),
        " ".repeat(col),
        "^".repeat(width.min(WIDTH))
    )
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A core error carried through minijinja (from our filters and formatter).
pub(super) fn to_minijinja(err: Error) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.message.clone())
        .with_source(err)
}
