//! Files and functions stay small enough to read at once: no source file of either crate
//! (`core/src`, the pgrx layer's `src`) over 400 lines, no function over 60. A function is
//! counted from its `fn` line to the line that closes it at the same indentation, the way
//! `cargo fmt` lays code out.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 400;
const MAX_FUNCTION_LINES: usize = 60;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

/// The name of the function a line starts, if it starts one with a body.
fn function_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub ",
        "const ",
        "unsafe ",
        "extern \"C-unwind\" ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    if line.trim_end().ends_with(';') {
        return None;
    }
    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
}

/// Whether `line` ends a body-less declaration whose `fn` line is indented by `indent`:
/// `);` or `) -> T;` at that indentation.
fn declaration_end(line: &str, indent: usize) -> bool {
    line.get(..indent)
        .is_some_and(|lead| lead.trim().is_empty())
        && line.get(indent..).is_some_and(|rest| rest.starts_with(')'))
        && line.ends_with(';')
}

/// Functions of `text` longer than the limit, as (name, lines).
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(name) = function_name(lines[i]) {
            let indent = lines[i].len() - lines[i].trim_start().len();
            let close = " ".repeat(indent) + "}";
            let end = (i..lines.len())
                .find(|&j| {
                    lines[j] == close
                        || (j == i && lines[j].trim_end().ends_with('}'))
                        || declaration_end(lines[j], indent)
                })
                .unwrap_or(lines.len() - 1);
            // A declaration over several lines (`fn f(\n…\n) -> T;`) has no body.
            if !declaration_end(lines[end], indent) && end - i + 1 > MAX_FUNCTION_LINES {
                long.push((name.to_string(), end - i + 1));
            }
            i = end;
        }
        i += 1;
    }
    long
}

#[test]
fn no_file_and_no_function_is_too_long() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&core.join("src"), &mut files);
    sources(&core.join("../src"), &mut files);
    assert!(files.len() > 30, "sources not found: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{}: {lines} lines", path.display()));
        }
        for (name, n) in long_functions(&text) {
            problems.push(format!("{}: fn {name} is {n} lines", path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "over {MAX_FILE_LINES} lines per file or {MAX_FUNCTION_LINES} per function:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_long_function_is_found() {
    let body = "    let x = 1;\n".repeat(MAX_FUNCTION_LINES);
    let text = format!("fn short() {{}}\n\npub fn long() {{\n{body}}}\n");
    assert_eq!(
        long_functions(&text),
        [("long".to_string(), MAX_FUNCTION_LINES + 2)]
    );
}

#[test]
fn a_declaration_over_several_lines_is_not_a_function_and_hides_none() {
    let args = "        a: i32,\n".repeat(MAX_FUNCTION_LINES);
    let body = "    let x = 1;\n".repeat(MAX_FUNCTION_LINES);
    let text = format!(
        "unsafe extern \"C\" {{\n    fn declared(\n{args}    ) -> i32;\n}}\n\nfn long() {{\n{body}}}\n"
    );
    assert_eq!(
        long_functions(&text),
        [("long".to_string(), MAX_FUNCTION_LINES + 2)]
    );
}
