//! The crate's modules form a stack (see `src/lib.rs`): each imports only from the modules
//! below it, with the error types at the bottom. This reads the sources and holds every
//! `crate::` path to that order.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

/// From the bottom up, as `src/lib.rs` lists them.
const ORDER: [&str; 16] = [
    "error",
    "activation",
    "prng",
    "init",
    "matmul",
    "mlp",
    "optim",
    "data",
    "train",
    "analysis",
    "flax",
    "jax",
    "checkpoint",
    "device",
    "jit",
    "bindings",
];

fn rank(module: &str) -> Option<usize> {
    ORDER.iter().position(|m| *m == module)
}

/// Every `.rs` file under `dir`, with the top-level module it belongs to.
fn sources(dir: &Path, module: Option<&str>, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let name = module.unwrap_or(stem).to_owned();
        if path.is_dir() {
            sources(&path, Some(&name), out);
        } else if path.extension().is_some_and(|e| e == "rs") && stem != "lib" {
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((name, text));
        }
    }
}

#[test]
fn no_module_imports_from_one_above_it() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        None,
        &mut files,
    );
    let mut wrong = Vec::new();
    for (module, text) in &files {
        let own = rank(module).unwrap_or_else(|| panic!("module {module} is not in ORDER"));
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let used: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                match rank(&used) {
                    Some(r) if r <= own => {}
                    Some(_) => wrong.push(format!("{module} imports from {used}: {}", line.trim())),
                    None => wrong.push(format!(
                        "{module} uses crate::{used} (name the module: crate::error::...): {}",
                        line.trim()
                    )),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        files.len() > ORDER.len(),
        "found only {} files",
        files.len()
    );
}
