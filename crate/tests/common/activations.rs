//! `jax_activations.json` (or any file of its schema): every entry's formula with its
//! parameters, `f` and `f'` on the grid computed by JAX in float64, the float32 tolerance, and
//! formulas that must be refused. Shared by the native test (`tests/activations.rs`) and the
//! browser's (`tests/wasm.rs`).

use actlab::activation::{Activation, Builtin};
use actlab::error::Error;
use serde_json::Value;

pub struct Entry {
    pub name: String,
    pub formula: String,
    pub params: Vec<(String, f64)>,
    pub f: Vec<f64>,
    pub df: Vec<f64>,
}

pub struct Spec {
    pub x: Vec<f64>,
    pub atol: f64,
    pub rtol: f64,
    pub entries: Vec<Entry>,
    pub invalid: Vec<String>,
}

fn floats(v: &Value, what: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{what} holds a non-number"))
        })
        .collect()
}

pub fn parse(json: &str) -> Spec {
    let v: Value = serde_json::from_str(json).expect("the spec is JSON");
    let tol = &v["tolerance_f32"];
    let x = floats(&v["x"], "x");
    let entries: Vec<Entry> = v["activations"]
        .as_array()
        .expect("activations")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().expect("name").to_owned();
            let entry = Entry {
                formula: e["formula"].as_str().expect("formula").to_owned(),
                params: e["params"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_f64().expect("a parameter's value")))
                            .collect()
                    })
                    .unwrap_or_default(),
                f: floats(&e["f"], &format!("{name}.f")),
                df: floats(&e["df"], &format!("{name}.df")),
                name,
            };
            assert_eq!(
                entry.f.len(),
                x.len(),
                "{}: f has a value per x",
                entry.name
            );
            assert_eq!(
                entry.df.len(),
                x.len(),
                "{}: df has a value per x",
                entry.name
            );
            entry
        })
        .collect();
    Spec {
        atol: tol["atol"].as_f64().expect("atol"),
        rtol: tol["rtol"].as_f64().expect("rtol"),
        x,
        entries,
        invalid: v["invalid"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().expect("a formula").to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Spec {
    /// What to check: each entry parsed from its formula and parameters and, where its name is
    /// a built-in, that built-in by name (the entry's parameters over its defaults, which the
    /// public file's entries have).
    pub fn activations(&self) -> Vec<(String, Activation, &Entry)> {
        let mut out = Vec::new();
        for e in &self.entries {
            let a = Activation::new(&e.name, &e.formula, e.params.clone())
                .unwrap_or_else(|err| panic!("{}: {:?} does not parse: {err}", e.name, e.formula));
            out.push((format!("{} (formula)", e.name), a, e));
            if let Some(b) = Builtin::named(&e.name) {
                let set: Vec<(&str, f64)> =
                    e.params.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                let a = Activation::builtin_with(b, &set)
                    .unwrap_or_else(|err| panic!("{} by name: {err}", e.name));
                out.push((format!("{} (by name)", e.name), a, e));
            }
        }
        out
    }

    /// Every value of `got` within the tolerance of `want`; the failures, described.
    pub fn compare(&self, what: &str, got_f: &[f64], got_df: &[f64], e: &Entry) -> Vec<String> {
        let mut bad = Vec::new();
        for (which, got, want) in [("f", got_f, &e.f), ("f'", got_df, &e.df)] {
            assert_eq!(got.len(), want.len(), "{what}: {which} has a value per x");
            for i in 0..want.len() {
                let (g, w) = (got[i], want[i]);
                let within = (g - w).abs() <= self.atol + self.rtol * w.abs();
                if !within {
                    bad.push(format!(
                        "{what}: {which}({}) = {g:e}, JAX says {w:e}",
                        self.x[i]
                    ));
                }
            }
        }
        bad
    }

    /// Every invalid formula refused with an error naming its column and what was expected.
    pub fn check_invalid(&self) -> usize {
        for src in &self.invalid {
            match Activation::parse(src, &[]) {
                Ok(_) => panic!("{src:?} must be refused"),
                Err(Error::Formula(f)) => {
                    let len = src.chars().count();
                    assert!(
                        (1..=len + 1).contains(&f.column),
                        "{src:?}: column {} is not in the formula",
                        f.column
                    );
                    assert!(
                        !f.expected.is_empty() && !f.found.is_empty(),
                        "{src:?}: {f}"
                    );
                    let msg = Error::Formula(f.clone()).to_string();
                    assert!(
                        msg.contains(&format!("column {}", f.column)) && msg.contains("expected"),
                        "{src:?}: {msg}"
                    );
                }
                Err(e) => panic!("{src:?}: refused without a position: {e}"),
            }
        }
        self.invalid.len()
    }
}
