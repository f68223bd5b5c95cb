//! Activation formulas for JavaScript: check one as it is typed (the error with its column),
//! its values from the scalar evaluator (the page's live plot), and the built-in table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::{js_err, to_js};
use crate::activation::{Activation, Builtin, grammar};
use crate::error::Error;

/// What JavaScript passes as an activation: a built-in's name, or its parts.
#[derive(Deserialize)]
#[serde(untagged)]
enum Given {
    Name(String),
    Parts {
        name: Option<String>,
        formula: Option<String>,
        #[serde(default)]
        params: BTreeMap<String, f64>,
    },
}

/// An activation from a JavaScript value, with the crate's own error (a formula's column).
pub(crate) fn activation_from(value: JsValue) -> Result<Activation, Error> {
    let given: Given = serde_wasm_bindgen::from_value(value).map_err(|_| {
        Error::Config(
            "an activation is a built-in's name or { name?, formula?, params? } (params: numbers by name)"
                .into(),
        )
    })?;
    match given {
        Given::Name(n) => n.parse(),
        Given::Parts {
            name,
            formula,
            params,
        } => Activation::from_parts(name, formula, params),
    }
}

#[derive(Serialize)]
struct Checked {
    ok: bool,
    name: Option<String>,
    formula: Option<String>,
    params: Option<BTreeMap<String, f64>>,
    /// The simplified derivative, as a formula.
    derivative: Option<String>,
    /// The built-in this is (default parameters), if any.
    builtin: Option<&'static str>,
    /// Where `f` or `f'` is not finite on the preview range, as a sentence.
    warning: Option<String>,
    /// A refused formula: the message, and the column (1-based) it points at.
    error: Option<String>,
    column: Option<usize>,
}

/// Checks an activation as the page's editor does on every keystroke, without throwing:
/// `{ ok, name, formula, params, derivative, builtin, warning }`, or `{ ok: false, error,
/// column }` (column only for a formula's own mistakes).
#[wasm_bindgen(js_name = checkActivation, unchecked_return_type = "ActivationCheck")]
pub fn check_activation(
    #[wasm_bindgen(unchecked_param_type = "Activation")] activation: JsValue,
) -> Result<JsValue, JsError> {
    let out = match activation_from(activation) {
        Ok(a) => Checked {
            ok: true,
            name: Some(a.name().to_owned()),
            formula: Some(a.formula().to_owned()),
            params: Some(a.params().iter().cloned().collect()),
            derivative: Some(a.derivative_formula()),
            builtin: a.as_builtin().map(Builtin::name),
            warning: a.warning(),
            error: None,
            column: None,
        },
        Err(e) => Checked {
            ok: false,
            name: None,
            formula: None,
            params: None,
            derivative: None,
            builtin: None,
            warning: None,
            column: match &e {
                Error::Formula(f) => Some(f.column),
                _ => None,
            },
            error: Some(e.to_string()),
        },
    };
    to_js(&out)
}

/// `f(x)` and `f'(x)` at every `x`, in f64 from the formula (the scalar evaluator): the
/// page's plots. Throws for an invalid activation.
#[wasm_bindgen(js_name = activationValues, unchecked_return_type = "{ f: Float64Array; df: Float64Array }")]
pub fn activation_values(
    #[wasm_bindgen(unchecked_param_type = "Activation")] activation: JsValue,
    xs: &[f64],
) -> Result<JsValue, JsError> {
    let a = activation_from(activation).map_err(js_err)?;
    if xs.len() > 1 << 16 {
        return Err(js_err(Error::Config(format!(
            "at most {} points, got {}",
            1 << 16,
            xs.len()
        ))));
    }
    let (f, df) = a.eval_all(xs);
    let out = js_sys::Object::new();
    let set = |k: &str, v: &[f64]| {
        js_sys::Reflect::set(&out, &k.into(), &js_sys::Float64Array::from(v).into())
    };
    set("f", &f)
        .and(set("df", &df))
        .map_err(|_| JsError::new("cannot build the result"))?;
    Ok(out.into())
}

#[derive(Serialize)]
struct BuiltinInfo {
    name: &'static str,
    formula: &'static str,
    params: BTreeMap<&'static str, f64>,
    about: &'static str,
}

/// The built-in activations in the table's order: `{ name, formula, params, about }`.
#[wasm_bindgen(js_name = builtinActivations, unchecked_return_type = "BuiltinActivation[]")]
pub fn builtin_activations() -> Result<JsValue, JsError> {
    let all: Vec<BuiltinInfo> = Builtin::ALL
        .iter()
        .map(|b| BuiltinInfo {
            name: b.name(),
            formula: b.formula(),
            params: b.params().iter().copied().collect(),
            about: b.about(),
        })
        .collect();
    to_js(&all)
}

/// The formula language in one sentence.
#[wasm_bindgen(js_name = activationGrammar)]
pub fn activation_grammar() -> String {
    grammar::GRAMMAR.to_owned()
}

#[wasm_bindgen(typescript_custom_section)]
const TS: &str = r#"
/** What `checkActivation` says of an activation. */
export interface ActivationCheck {
  ok: boolean;
  name: string | null;
  formula: string | null;
  params: Record<string, number> | null;
  derivative: string | null;
  builtin: Builtin | null;
  warning: string | null;
  error: string | null;
  column: number | null;
}
/** A row of the built-in table. */
export interface BuiltinActivation { name: Builtin; formula: string; params: Record<string, number>; about: string }
"#;
