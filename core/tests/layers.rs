//! The core's modules are layered: each may use only modules of lower layers (or its own), so
//! there is no import cycle and a module can be read knowing only what is below it. This test
//! reads the sources and fails on any `crate::` reference that points up or sideways, and on
//! any module missing from the table.

use std::collections::HashMap;
use std::path::Path;

/// Bottom to top. A module may use modules of the layers before its own.
const LAYERS: &[&[&str]] = &[
    // errors and the plain data everything shares
    &["error", "interrupt", "doc", "deps", "path", "scopes"],
    // limits on work, text and memory
    &["limits"],
    // arguments; the evaluation stack; Python text of documents
    &["validate", "stack", "doctext", "bounds"],
    // documents as template values, compared at any depth
    &["value"],
    // Python text of template values
    &["pyfmt"],
    // tojson; what templates produce, as stored
    &["tojson", "output"],
    // templates; the API bodies and their redaction
    &["template", "redact", "shape"],
    // a vars block: formats, phases, typed pieces
    &["block"],
    // a set: block: the scope of each key
    &["set"],
    // what templates see
    &["context"],
    // pure paths against the context
    &["resolve"],
    // planning and evaluating a block
    &["render"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `crate::name` references outside comments, per module (submodules count as their parent).
fn references(src: &Path) -> HashMap<String, Vec<(String, String)>> {
    let mut refs: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut files = vec![src.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push(entry.unwrap().path());
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                let used: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                refs.entry(module.clone())
                    .or_default()
                    .push((used, line.trim().to_string()));
            }
        }
        refs.entry(module).or_default();
    }
    refs
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, used) in references(&src) {
        let Some(mine) = layer_of(&module) else {
            wrong.push(format!(
                "{module}: not in the layer table of core/tests/layers.rs"
            ));
            continue;
        };
        for (other, line) in used {
            if other == module {
                continue;
            }
            match layer_of(&other) {
                Some(theirs) if theirs < mine => {}
                _ => wrong.push(format!("{module} (layer {mine}) uses {other}: {line}")),
            }
        }
    }
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "modules out of layer:\n{}",
        wrong.join("\n")
    );
}
