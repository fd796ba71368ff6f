//! The modules of both crates are layered: each may use only modules of lower layers (or its
//! own), so there is no import cycle and a module can be read knowing only what is below it.
//! This test reads the sources of the core and of the PostgreSQL layer (`src/`) and fails on
//! any `crate::` reference that points up or sideways, and on any module missing from its
//! table.

use std::collections::HashMap;
use std::path::Path;

/// Bottom to top. A module may use modules of the layers before its own.
const LAYERS: &[&[&str]] = &[
    // errors and the plain data everything shares
    &[
        "error",
        "interrupt",
        "doc",
        "deps",
        "path",
        "scopes",
        "watch",
    ],
    // limits on work, text and memory; the stores a host gives templates; sealed values
    &["limits", "stores", "sealed"],
    // arguments; the evaluation stack; Python text of documents
    &["validate", "stack", "doctext", "bounds"],
    // documents as template values, compared at any depth; lifetimes
    &["value", "ttl"],
    // Python text of template values
    &["pyfmt"],
    // tojson; what templates produce, as stored
    &["tojson", "output"],
    // templates; the API bodies and their redaction
    &["template", "redact", "shape", "schema"],
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

/// The PostgreSQL layer (`src/`), bottom to top. `lib` (the entry points) and `pg_tests` are
/// not layered: they may use anything.
const SRC_LAYERS: &[&[&str]] = &[
    // errors and datums, calls into PostgreSQL under one error boundary, whether Citus is
    // loaded, the extension's relations by name
    &[
        "backend/errors",
        "backend/ffi",
        "backend/citus",
        "storage/datum",
        "backend/catalog",
    ],
    // the backend's guards, privilege checks
    &[
        "backend/guard",
        "backend/privileges",
        "backend/triggers",
        "backend/check_constraints",
    ],
    // settings, SPI, jsonb in place
    &["backend/guc", "storage/spi", "storage/jsonb"],
    // the statements that write variables; the purges' statements
    &["storage/upserts", "storage/purge_queries"],
    // locks, memory metering, NOTIFY, the statements
    &[
        "backend/keys",
        "backend/locks",
        "backend/memory",
        "capture/notify",
        "capture/watch",
        "storage/declarations",
        "storage/queries",
        "storage/legacy_queries",
        "storage/scoped_queries",
    ],
    // the planner hook, change capture, the checks of stored values
    &[
        "storage/planner",
        "capture/changes",
        "capture/declared",
        "storage/value_checks",
        "storage/direct",
        "storage/scrub",
        "storage/sealed",
    ],
    // the variables table; events applied at most once
    &["storage/table"],
    &["storage/events", "storage/rotation"],
    // the stores templates read
    &["storage/vars_store", "storage/scoped_store"],
    // blocks: the pipeline and its kinds
    &["blocks"],
    // the SQL functions
    &["api"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn src_layer_of(module: &str) -> Option<usize> {
    SRC_LAYERS.iter().position(|l| l.contains(&module))
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
        let parts: Vec<String> = relative
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        // In a folder that only groups modules, each module of it is a unit of its own.
        let module = match parts.as_slice() {
            [folder, inner, ..] if FOLDERS.contains(&folder.as_str()) && inner != "mod" => {
                format!("{folder}/{inner}")
            }
            [first, ..] => first.clone(),
            [] => continue,
        };
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                for used in modules_named(&code[at + 7..]) {
                    refs.entry(module.clone())
                        .or_default()
                        .push((used, line.trim().to_string()));
                }
            }
        }
        refs.entry(module).or_default();
    }
    refs
}

/// Every reference of `src` that `layer` does not allow, and every module it does not know.
fn out_of_layer(src: &Path, layer: fn(&str) -> Option<usize>, unlayered: &[&str]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (module, used) in references(src) {
        if unlayered.contains(&module.as_str()) {
            continue;
        }
        let Some(mine) = layer(&module) else {
            wrong.push(format!(
                "{module}: not in a layer table of core/tests/layers.rs"
            ));
            continue;
        };
        for (other, line) in used {
            if other == module {
                continue;
            }
            match layer(&other) {
                Some(theirs) if theirs < mine => {}
                _ => wrong.push(format!("{module} (layer {mine}) uses {other}: {line}")),
            }
        }
    }
    wrong.sort();
    wrong
}

/// Folders of `src/` that only group modules: `storage::table` is the unit `storage/table`.
const FOLDERS: &[&str] = &["storage", "backend", "capture"];

/// The modules a path after `crate::` names: `a::…` names `a`, `{a, b::c}` names `a` and `b`,
/// and in a grouping folder `storage::table::…` names `storage/table`.
fn modules_named(path: &str) -> Vec<String> {
    let items: Vec<&str> = match path.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or_default()
            .split(',')
            .collect(),
        None => vec![path],
    };
    items.into_iter().flat_map(module_of).collect()
}

fn module_of(path: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let first = ident(path);
    if first.is_empty() {
        return Vec::new();
    }
    if !FOLDERS.contains(&first.as_str()) {
        return vec![first];
    }
    let rest = path.trim_start()[first.len()..].trim_start_matches("::");
    modules_named(rest)
        .into_iter()
        .map(|inner| format!("{first}/{inner}"))
        .collect()
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wrong = out_of_layer(&src, layer_of, &[]);
    assert!(
        wrong.is_empty(),
        "modules out of layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_of_the_postgresql_layer_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let wrong = out_of_layer(
        &src,
        src_layer_of,
        &["pg_tests", "storage", "backend", "capture"],
    );
    assert!(
        wrong.is_empty(),
        "modules of src/ out of layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_cycle_or_an_upward_import_is_found() {
    let dir = std::env::temp_dir().join(format!("noetl_vars_layers_{}", std::process::id()));
    std::fs::create_dir_all(dir.join("backend")).unwrap();
    std::fs::create_dir_all(dir.join("storage")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).unwrap();
    write(
        "backend/guc.rs",
        "use crate::backend::locks::MAX_CALL_LOCKS;\n",
    );
    write(
        "backend/locks.rs",
        "use crate::backend::guc;\n// crate::api in a comment\n",
    );
    write(
        "storage/table.rs",
        "use crate::{storage::spi, blocks::Access};\n",
    );
    write(
        "storage/queries.rs",
        "use crate::storage::{spi, table::read};\n",
    );
    let wrong = out_of_layer(&dir, src_layer_of, &[]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(wrong.len(), 3, "{wrong:?}");
    assert!(
        wrong[0].starts_with("backend/guc (layer 2) uses backend/locks"),
        "{wrong:?}"
    );
    assert!(
        wrong[1].starts_with("storage/queries (layer 4) uses storage/table"),
        "{wrong:?}"
    );
    assert!(
        wrong[2].starts_with("storage/table (layer 6) uses blocks"),
        "{wrong:?}"
    );
}
