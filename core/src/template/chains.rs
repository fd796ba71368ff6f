//! How deep a template's syntax tree can be, measured on its tokens before it is parsed.
//!
//! minijinja's parser guards the nesting of brackets and statements, but chains (`a.b.c…`,
//! `x | f | g …`, `1 + 1 + …`) build a tree as deep as they are long, and compiling or dropping
//! it recurses once per link. A template whose chains exceed [`MAX_CHAIN`] is therefore refused
//! before minijinja ever builds its tree.

use minijinja::machinery::{tokenize, Token};

/// The longest chain of operations one expression may have.
pub const MAX_CHAIN: usize = 10_000;

/// The longest chain of operations in any expression of `text`, counting a bracketed
/// expression as one link of the chain around it and adding the chains it is nested in
/// (an upper bound of the syntax tree's depth).
pub fn chain_depth(text: &str) -> usize {
    let mut outer: Vec<usize> = Vec::new();
    let mut nested = 0usize;
    let mut chain = 0usize;
    let mut deepest = 0usize;
    for token in tokenize(text, false, Default::default()) {
        // The parser reports malformed input.
        let Ok((token, _)) = token else { break };
        match token {
            Token::VariableStart | Token::BlockStart | Token::VariableEnd | Token::BlockEnd => {
                outer.clear();
                nested = 0;
                chain = 0;
            }
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => {
                outer.push(chain);
                nested += chain;
                chain = 0;
            }
            Token::ParenClose | Token::BracketClose | Token::BraceClose => {
                if let Some(before) = outer.pop() {
                    nested -= before;
                    chain = before + 1;
                }
            }
            Token::Comma | Token::Colon => chain = 0,
            Token::Ident("and" | "or" | "not" | "in" | "is" | "if" | "else")
            | Token::Dot
            | Token::Pipe
            | Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::FloorDiv
            | Token::Pow
            | Token::Mod
            | Token::Tilde
            | Token::Assign
            | Token::Eq
            | Token::Ne
            | Token::Gt
            | Token::Gte
            | Token::Lt
            | Token::Lte => chain += 1,
            _ => {}
        }
        deepest = deepest.max(nested + chain);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_short_expressions_count_as_short_chains() {
        assert_eq!(chain_depth(&"{{ a.b.c }}".repeat(10_000)), 2);
    }

    #[test]
    fn a_bracketed_expression_is_one_link_of_the_chain_around_it() {
        assert_eq!(chain_depth("{{ (a + b).c[d.e] }}"), 3);
    }
}
