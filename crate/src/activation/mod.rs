//! Activation functions as data: a formula in `x` with named parameters (the language is
//! [`grammar`]'s), parsed once into an expression graph ([`expr`]) from which everything else
//! is generated: the derivative by symbolic differentiation ([`derive`]), the numerically
//! stable primitive form every device computes ([`lower`]), and one lowering per target:
//! WGSL for the compiled stack ([`wgsl`]), Burn tensor ops for the Burn path ([`tensor`]), the
//! scalar evaluator in f64 and f32 ([`scalar`]) and text ([`print`]). The built-ins are named
//! formulas in one table ([`builtins`]). Nothing outside this module writes activation code.
//!
//! Invariants: `f'` is the symbolic derivative of `f` on every target (the Burn path's autodiff
//! sees `f'` itself, never the ops of `f`); a formula that parses has a finite-size graph
//! (length, nesting and node limits), so no input sizes an allocation or a shader unchecked.

pub mod builtins;
pub mod derive;
pub mod expr;
pub mod grammar;
pub mod lower;
pub mod print;
pub mod scalar;
pub mod serial;
pub mod tensor;
pub mod wgsl;

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::tensor::Tensor;

use crate::error::{Error, FormulaError};

pub use builtins::{Builtin, TUTORIAL};
use expr::{Graph, Id};
pub use print::Dialect;

/// The most parameters a formula may have.
pub const MAX_PARAMS: usize = 16;
/// The most nodes a formula, its derivative and their stable forms may have together.
pub const MAX_NODES: usize = 20_000;
/// The range the page previews a formula on; [`Activation::non_finite`] checks it.
pub const PREVIEW: (f64, f64) = (-5.0, 5.0);

/// A formula, its derivative and their lowered forms (shared by the clones of an activation).
struct Function {
    /// `f` and `f'` with symbolic parameters.
    graph: Graph,
    f: Id,
    df: Id,
    /// Both with the parameters bound, in primitives (`lower`).
    lowered: Graph,
    lf: Id,
    ldf: Id,
    /// The same for Burn's tensor ops (`lower::Target::Burn`).
    burn: Graph,
    bf: Id,
    bdf: Id,
}

/// An activation function: a name, a formula in `x` and the values of its parameters.
/// Cheap to clone; two are equal when their formulas and parameters are (the name is a label).
#[derive(Clone)]
pub struct Activation {
    name: String,
    formula: String,
    /// Sorted by name.
    params: Vec<(String, f64)>,
    func: Arc<Function>,
}

impl PartialEq for Activation {
    fn eq(&self, other: &Activation) -> bool {
        self.formula == other.formula
            && self.params.len() == other.params.len()
            && self
                .params
                .iter()
                .zip(&other.params)
                .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
    }
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Activation({self})")
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}", self.name, self.formula)?;
        for (i, (n, v)) in self.params.iter().enumerate() {
            write!(f, "{} {n} = {v}", if i == 0 { " with" } else { "," })?;
        }
        Ok(())
    }
}

/// The most characters a name has.
pub const MAX_NAME: usize = 64;

fn check_name(name: &str) -> Result<(), Error> {
    if name.chars().count() > MAX_NAME || name.trim().is_empty() {
        return Err(Error::Config(format!(
            "an activation's name must be 1 to {MAX_NAME} characters, got {name:?}"
        )));
    }
    Ok(())
}

/// A formula's own text as its name, shortened to fit.
fn default_name(formula: &str) -> String {
    let f = formula.trim();
    if f.is_empty() {
        return "formula".into();
    }
    if f.chars().count() <= MAX_NAME {
        return f.into();
    }
    f.chars().take(MAX_NAME - 1).chain(['…']).collect()
}

fn check_params(params: &[(String, f64)]) -> Result<(), Error> {
    if params.len() > MAX_PARAMS {
        return Err(Error::Config(format!(
            "an activation has at most {MAX_PARAMS} parameters, got {}",
            params.len()
        )));
    }
    for (i, (n, v)) in params.iter().enumerate() {
        if !grammar::is_identifier(n) || n.len() > 32 {
            return Err(Error::Config(format!(
                "activation parameter {n:?} is not a name (a letter or _, then letters, digits or _; at most 32)"
            )));
        }
        if grammar::reserved(n) {
            return Err(Error::Config(format!(
                "activation parameter {n:?} is a reserved name (x, pi, e and the functions)"
            )));
        }
        if !v.is_finite() {
            return Err(Error::Config(format!(
                "activation parameter {n} must be a finite number, got {v}"
            )));
        }
        if params[..i].iter().any(|(m, _)| m == n) {
            return Err(Error::Config(format!(
                "activation parameter {n} is given twice"
            )));
        }
    }
    Ok(())
}

impl Activation {
    /// `formula` with `params`, named `name`: parsed, differentiated and lowered once.
    pub fn new(
        name: impl Into<String>,
        formula: impl Into<String>,
        params: impl IntoIterator<Item = (String, f64)>,
    ) -> Result<Activation, Error> {
        let (name, formula) = (name.into(), formula.into());
        let mut params: Vec<(String, f64)> = params.into_iter().collect();
        check_params(&params)?;
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<String> = params.iter().map(|p| p.0.clone()).collect();
        let values: Vec<f64> = params.iter().map(|p| p.1).collect();
        let mut graph = Graph::new();
        let f = grammar::parse(&formula, &names, &mut graph)?;
        let df = derive::derivative(&mut graph, f);
        let (lowered, roots) = lower::lower(&graph, &[f, df], &values);
        let (burn, broots) = lower::lower_for(&graph, &[f, df], &values, lower::Target::Burn);
        if graph.len() + lowered.len() > MAX_NODES {
            return Err(FormulaError {
                column: 1,
                expected: format!(
                    "a formula of at most {MAX_NODES} operations with its derivative"
                ),
                found: format!("{}", graph.len() + lowered.len()),
            }
            .into());
        }
        check_name(&name)?;
        Ok(Activation {
            name,
            formula,
            params,
            func: Arc::new(Function {
                graph,
                f,
                df,
                lowered,
                lf: roots[0],
                ldf: roots[1],
                burn,
                bf: broots[0],
                bdf: broots[1],
            }),
        })
    }

    /// `formula` with `params`, named after itself (Rust's `Activation::parse`).
    pub fn parse(formula: &str, params: &[(&str, f64)]) -> Result<Activation, Error> {
        Activation::new(
            default_name(formula),
            formula,
            params.iter().map(|(n, v)| (n.to_string(), *v)),
        )
    }

    /// A built-in with its default parameters.
    pub fn builtin(b: Builtin) -> Activation {
        Activation::builtin_with(b, &[]).expect("the built-in table's formulas parse (tested)")
    }

    /// A built-in with some of its parameters set (`leaky_relu` with `alpha = 0.2`).
    pub fn builtin_with(b: Builtin, set: &[(&str, f64)]) -> Result<Activation, Error> {
        let mut params: Vec<(String, f64)> = b
            .params()
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        for (n, v) in set {
            match params.iter_mut().find(|p| p.0 == *n) {
                Some(p) => p.1 = *v,
                None => {
                    return Err(Error::Config(format!(
                        "{} has no parameter {n:?}; its parameters: {}",
                        b.name(),
                        names_or_none(b.params().iter().map(|p| p.0))
                    )));
                }
            }
        }
        Activation::new(b.name(), b.formula(), params)
    }

    /// What JavaScript and files give: without a formula, the built-in `name` with `params`
    /// over its defaults; with one, that formula (named `name`, or after itself) and `params`.
    pub fn from_parts(
        name: Option<String>,
        formula: Option<String>,
        params: BTreeMap<String, f64>,
    ) -> Result<Activation, Error> {
        match (formula, name) {
            (Some(formula), name) => {
                let name = name.unwrap_or_else(|| default_name(&formula));
                Activation::new(name, formula, params)
            }
            (None, Some(name)) => match Builtin::named(&name) {
                Some(b) => {
                    let set: Vec<(&str, f64)> =
                        params.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    Activation::builtin_with(b, &set)
                }
                None => Err(Error::Config(format!(
                    "{name:?} is not a built-in activation ({}); give its formula",
                    builtin_names()
                ))),
            },
            (None, None) => Err(Error::Config(
                "an activation needs a built-in's name or a formula".into(),
            )),
        }
    }

    /// The tutorial's six, in its order.
    pub fn tutorial() -> Vec<Activation> {
        TUTORIAL.iter().map(|&b| Activation::builtin(b)).collect()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn formula(&self) -> &str {
        &self.formula
    }

    /// The parameters and their values, sorted by name.
    pub fn params(&self) -> &[(String, f64)] {
        &self.params
    }

    /// The same function under another name.
    pub fn renamed(mut self, name: impl Into<String>) -> Result<Activation, Error> {
        let name = name.into();
        check_name(&name)?;
        self.name = name;
        Ok(self)
    }

    /// The built-in this is, with its default parameters (for the tutorial's published table).
    pub fn as_builtin(&self) -> Option<Builtin> {
        Builtin::named(&self.name).filter(|&b| *self == Activation::builtin(b))
    }

    fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.0.clone()).collect()
    }

    fn param_values(&self) -> Vec<f64> {
        self.params.iter().map(|p| p.1).collect()
    }

    /// The derivative as a formula (simplified; parameters by name).
    pub fn derivative_formula(&self) -> String {
        print::print(
            &self.func.graph,
            self.func.df,
            &self.param_names(),
            Dialect::Formula,
        )
    }

    /// The function (`derivative` false) or its derivative as code in `dialect`, parameters by
    /// name (a caller defines them).
    pub fn code(&self, derivative: bool, dialect: Dialect) -> String {
        let root = if derivative {
            self.func.df
        } else {
            self.func.f
        };
        // In JAX code the parameters are `params["name"]` (the script defines the dict).
        let names: Vec<String> = match dialect {
            Dialect::Formula => self.param_names(),
            Dialect::Jax => self
                .param_names()
                .iter()
                .map(|n| format!("params[{}]", serde_json::Value::from(n.as_str())))
                .collect(),
        };
        print::print(&self.func.graph, root, &names, dialect)
    }

    /// `f(x)` and `f'(x)` in f64, from the formula itself (libm's special functions).
    pub fn eval(&self, x: f64) -> (f64, f64) {
        let v = scalar::eval(
            &self.func.graph,
            &[self.func.f, self.func.df],
            x,
            &self.param_values(),
        );
        (v[0], v[1])
    }

    /// `f(x)` and `f'(x)` in f32 from the stable forms every device computes.
    pub fn eval_f32(&self, x: f32) -> (f32, f32) {
        let v = scalar::eval(&self.func.lowered, &[self.func.lf, self.func.ldf], x, &[]);
        (v[0], v[1])
    }

    /// `f` and `f'` at every `x`, in f64 (the page's plots).
    pub fn eval_all(&self, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut v = scalar::eval_many(
            &self.func.graph,
            &[self.func.f, self.func.df],
            xs,
            &self.param_values(),
        );
        let df = v.pop().unwrap_or_default();
        (v.pop().unwrap_or_default(), df)
    }

    /// The first `x` of the preview range (in steps of 0.01, 0 included) where `f` or `f'` is
    /// not finite, and which: the sign of a formula that would train to NaN (`log(x)`, `1/x`).
    pub fn non_finite(&self) -> Option<(f64, &'static str)> {
        let (lo, hi) = PREVIEW;
        let steps = ((hi - lo) * 100.0).round() as i64;
        let xs: Vec<f64> = (0..=steps)
            .map(|i| (lo * 100.0 + i as f64) / 100.0)
            .collect();
        let x32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let (f, df) = self.eval_all(&xs);
        let low = scalar::eval_many(
            &self.func.lowered,
            &[self.func.lf, self.func.ldf],
            &x32,
            &[],
        );
        (0..xs.len()).find_map(|i| {
            if !f[i].is_finite() || !low[0][i].is_finite() {
                Some((xs[i], "f"))
            } else if !df[i].is_finite() || !low[1][i].is_finite() {
                Some((xs[i], "f'"))
            } else {
                None
            }
        })
    }

    /// [`Activation::non_finite`] as a sentence for the user, if there is one to say.
    pub fn warning(&self) -> Option<String> {
        self.non_finite().map(|(x, which)| {
            format!(
                "{which}(x) of {} is not finite at x = {x} (checked from {} to {}): a network with it would train to NaN",
                self.name, PREVIEW.0, PREVIEW.1
            )
        })
    }

    /// The activation applied elementwise (the Burn path). Where `x` records autodiff, its
    /// gradient is the symbolic `f'` (the autodiff sees `f(x₀) + (x - x₀) f'(x₀)` with `x₀`
    /// the detached input): the same derivative as the compiled stack's, and no gradient flows
    /// through a branch `where` did not take.
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let func = &self.func;
        if !x.is_autodiff() {
            return tensor::eval(&func.burn, &[func.bf], &x).remove(0);
        }
        let x0 = x.clone().without_autodiff();
        let mut v = tensor::eval(&func.burn, &[func.bf, func.bdf], &x0);
        let (f, df) = (v.remove(0), v.remove(0));
        (x - x0) * df + f
    }

    /// `f` and `f'` at every element (the Burn path's curves).
    pub fn values<const D: usize>(&self, x: &Tensor<D>) -> (Tensor<D>, Tensor<D>) {
        let func = &self.func;
        let mut v = tensor::eval(&func.burn, &[func.bf, func.bdf], x);
        let f = v.remove(0);
        (f, v.remove(0))
    }
}

impl From<Builtin> for Activation {
    fn from(b: Builtin) -> Activation {
        Activation::builtin(b)
    }
}

fn names_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

pub(crate) fn builtin_names() -> String {
    Builtin::ALL
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}
