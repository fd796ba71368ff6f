//! Jinja2 behaviours minijinja's syntax does not have, handled in the source before it is
//! compiled: Python's `'%s rows' % count` becomes `'%s rows' | format(count)`, and integer
//! literals with leading zeros (`007`, a syntax error in Python) are refused. Every rewrite is
//! recorded, so that an error in the rewritten text is reported where the user wrote it.

use minijinja::machinery::{tokenize, Span, Token};

/// What the rewrites changed, to map positions in the rewritten text back.
#[derive(Debug, Default, Clone)]
pub struct Edits(Vec<Edit>);

/// `old` bytes at `at` became `new` bytes.
#[derive(Debug, Clone, Copy)]
struct Edit {
    at: usize,
    old: usize,
    new: usize,
}

impl Edits {
    /// The position in the original text of `pos` in the rewritten text. A position inside
    /// a rewritten stretch maps into the stretch it replaced.
    pub fn original(&self, pos: usize) -> usize {
        self.0.iter().rev().fold(pos, |p, e| {
            if p < e.at {
                p
            } else if p >= e.at + e.new {
                p - e.new + e.old
            } else {
                e.at + (p - e.at).min(e.old)
            }
        })
    }
}

type Tokens<'a> = Vec<(Token<'a>, Span)>;

fn start(t: &(Token<'_>, Span)) -> usize {
    t.1.start_offset as usize
}

fn end(t: &(Token<'_>, Span)) -> usize {
    t.1.end_offset as usize
}

/// Index of the token closing the bracket opened at `i`, within the same tag.
fn closing(tokens: &Tokens<'_>, i: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, (token, _)) in tokens.iter().enumerate().skip(i) {
        match token {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
            Token::ParenClose | Token::BracketClose | Token::BraceClose => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k);
                }
            }
            Token::VariableEnd | Token::BlockEnd => return None,
            _ => {}
        }
    }
    None
}

/// The last token of the operand starting at `j`, with its `.attr`, `[…]`, `(…)` and
/// `| filter(…)` postfixes; and whether it had any.
fn operand(tokens: &Tokens<'_>, j: usize) -> Option<(usize, bool)> {
    let mut last = match tokens.get(j)?.0 {
        Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => closing(tokens, j)?,
        Token::Ident(_)
        | Token::Str(_)
        | Token::String(_)
        | Token::Int(_)
        | Token::Int128(_)
        | Token::Float(_) => j,
        _ => return None,
    };
    let kind = |i: usize| tokens.get(i).map(|t| &t.0);
    let mut postfix = false;
    loop {
        match kind(last + 1) {
            Some(Token::Dot) if matches!(kind(last + 2), Some(Token::Ident(_))) => last += 2,
            Some(Token::BracketOpen | Token::ParenOpen) => last = closing(tokens, last + 1)?,
            Some(Token::Pipe) if matches!(kind(last + 2), Some(Token::Ident(_))) => {
                last += 2;
                if matches!(kind(last + 1), Some(Token::ParenOpen)) {
                    last = closing(tokens, last + 1)?;
                }
            }
            _ => break,
        }
        postfix = true;
    }
    Some((last, postfix))
}

/// Whether the parenthesised operand `first..=last` is a tuple (a comma at its top level).
fn is_tuple(tokens: &Tokens<'_>, first: usize, last: usize) -> bool {
    if !matches!(tokens[first].0, Token::ParenOpen) {
        return false;
    }
    let mut depth = 0i32;
    tokens[first + 1..last].iter().any(|(t, _)| {
        match t {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
            Token::ParenClose | Token::BracketClose | Token::BraceClose => depth -= 1,
            _ => {}
        }
        depth == 0 && matches!(t, Token::Comma)
    })
}

/// Rewrites the first `'literal' % operand` of `text`: (the new text, the edit).
fn rewrite_first(text: &str) -> Option<Option<(String, Edit)>> {
    let tokens: Tokens<'_> = tokenize(text, false, Default::default())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let Some(i) = tokens.windows(2).position(|w| {
        matches!(w[0].0, Token::Str(_) | Token::String(_)) && matches!(w[1].0, Token::Mod)
    }) else {
        return Some(None);
    };
    let percent = i + 1;
    let mut first = percent + 1;
    while matches!(
        tokens.get(first).map(|t| &t.0),
        Some(Token::Minus | Token::Plus)
    ) {
        first += 1;
    }
    let (last, postfix) = operand(&tokens, first)?;
    // `'%s-%s' % (a, b)` passes a and b; a leading sign is kept: `'%d' % -x`.
    let args = if is_tuple(&tokens, first, last) && !postfix {
        &text[end(&tokens[first])..start(&tokens[last])]
    } else {
        &text[start(&tokens[first])..end(&tokens[last])]
    };
    let sign = &text[start(&tokens[percent + 1])..start(&tokens[first])];
    let replacement = format!("| format({sign}{args})");
    let at = start(&tokens[percent]);
    let old = end(&tokens[last]) - at;
    let rewritten = format!("{}{replacement}{}", &text[..at], &text[at + old..]);
    let edit = Edit {
        at,
        old,
        new: replacement.len(),
    };
    Some(Some((rewritten, edit)))
}

/// Python's `'%s rows' % count` (`%`-formatting of a string literal), which minijinja's `%`
/// does not do, as minijinja's printf-style `'%s rows' | format(count)`. Returns the text to
/// compile and how it differs from `source`.
pub fn percent_format(source: &str) -> (String, Edits) {
    let mut text = source.to_string();
    let mut edits = Edits::default();
    // Each pass rewrites the first occurrence; a template has few.
    for _ in 0..64 {
        match rewrite_first(&text) {
            Some(Some((rewritten, edit))) => {
                text = rewritten;
                edits.0.push(edit);
            }
            _ => break,
        }
    }
    (text, edits)
}

/// Python rejects integer literals with leading zeros (`{{ 007 }}` is a syntax error in
/// Jinja2); minijinja reads them as decimal. Finds the first one, if any: what is wrong and
/// where.
pub fn zero_padded_integer(source: &str) -> Option<(String, std::ops::Range<usize>)> {
    for token in tokenize(source, false, Default::default()) {
        // The tokenizer repeats an error forever; the compiler reports it.
        let Ok((token, span)) = token else {
            return None;
        };
        if !matches!(token, Token::Int(_) | Token::Int128(_)) {
            continue;
        }
        let text = source.get(span.start_offset as usize..span.end_offset as usize)?;
        if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
            return Some((
                format!("leading zeros in an integer literal ({text}) are not allowed"),
                span.start_offset as usize..span.end_offset as usize,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_formatting_becomes_the_format_filter() {
        let cases = [
            ("{{ '%s rows' % n }}", "{{ '%s rows' | format(n) }}"),
            ("{{ '%s-%s' % (a, b) }}", "{{ '%s-%s' | format(a, b) }}"),
            ("{{ '%d' % -x }}", "{{ '%d' | format(-x) }}"),
            (
                "{{ '%s' % a.b[0] | upper }}",
                "{{ '%s' | format(a.b[0] | upper) }}",
            ),
            ("{{ 7 % 2 }}", "{{ 7 % 2 }}"),
        ];
        for (source, expected) in cases {
            assert_eq!(percent_format(source).0, expected, "{source}");
        }
    }

    #[test]
    fn positions_in_the_rewritten_text_map_back_to_the_source() {
        let source = "{{ '%s' % n }} {{ nope + }}";
        let (text, edits) = percent_format(source);
        let at = text.find("nope").unwrap();
        assert_eq!(edits.original(at), source.find("nope").unwrap());
        // Before the rewrite nothing moves; inside it, positions stay inside what it replaced.
        assert_eq!(edits.original(3), 3);
        let inside = edits.original(text.find("format").unwrap());
        assert!((source.find('%').unwrap()..source.find(" }}").unwrap()).contains(&inside));
    }

    #[test]
    fn leading_zeros_are_a_syntax_error_with_a_position() {
        let (message, range) = zero_padded_integer("{{ 1 + 007 }}").unwrap();
        assert!(message.contains("007"), "{message}");
        assert_eq!(range, 7..10);
        assert!(zero_padded_integer("{{ 0 + 10 }}").is_none());
    }
}
