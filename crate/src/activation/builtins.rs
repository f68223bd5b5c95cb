//! The built-in activations: named formulas, one line each, in one table. Adding a built-in is
//! adding its line (and its entry in `../shared/spec/jax_activations.json`, which the tests
//! read): its name, its Rust and TypeScript types, the page's list and the checks follow.

use serde::{Deserialize, Serialize};

macro_rules! builtins {
    ($($variant:ident $name:literal $formula:literal [$($p:ident = $v:expr),*] $about:literal;)*) => {
        /// A built-in activation, by the name JavaScript and the command line use.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
        pub enum Builtin {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Builtin {
            /// Every built-in, in the table's order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            /// The name (`"leaky_relu"`).
            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name,)* }
            }

            /// The formula, in the language of [`super::grammar`].
            pub fn formula(self) -> &'static str {
                match self { $(Builtin::$variant => $formula,)* }
            }

            /// The parameters and their default values.
            pub fn params(self) -> &'static [(&'static str, f64)] {
                match self { $(Builtin::$variant => &[$((stringify!($p), $v)),*],)* }
            }

            /// One sentence for a newcomer: where it comes from and how it behaves.
            pub fn about(self) -> &'static str {
                match self { $(Builtin::$variant => $about,)* }
            }
        }
    };
}

builtins! {
    Sigmoid "sigmoid" "sigmoid(x)" [] "The classic squashing function: outputs in (0, 1), gradient at most 0.25, so gradients shrink layer by layer.";
    Tanh "tanh" "tanh(x)" [] "Sigmoid's zero-centred sibling: outputs in (-1, 1), gradient at most 1, still saturating for large |x|.";
    Relu "relu" "where(x > 0, x, 0)" [] "Identity for positive inputs, zero otherwise: cheap and non-saturating, but a unit that only sees negative inputs stops learning (a dead neuron).";
    LeakyRelu "leaky_relu" "where(x > 0, x, alpha * x)" [alpha = 0.1] "ReLU with a small slope alpha for negative inputs (0.1 in the tutorial), so no unit's gradient is ever exactly zero.";
    Elu "elu" "where(x > 0, x, alpha * expm1(x))" [alpha = 1.0] "Exponential linear unit: smooth towards -alpha for negative inputs, identity for positive ones.";
    Swish "swish" "x * sigmoid(beta * x)" [beta = 1.0] "x times its own sigmoid (SiLU for beta = 1): smooth, non-monotonic near zero, found by a search over activation functions.";
    Gelu "gelu" "0.5 * x * (1 + erf(x / sqrt(2)))" [] "x weighted by the probability that a standard normal is below it (Transformers' default).";
    GeluTanh "gelu_tanh" "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))" [] "GELU's tanh approximation (jax.nn.gelu's default).";
    Mish "mish" "x * tanh(softplus(x))" [] "Like Swish, smooth and non-monotonic: x times tanh of softplus.";
    Selu "selu" "scale * where(x > 0, x, alpha * expm1(x))" [scale = 1.050_700_987_355_480_5, alpha = 1.673_263_242_354_377_2] "Scaled ELU whose constants keep activations near zero mean and unit variance through the layers.";
    Celu "celu" "where(x > 0, x, alpha * expm1(x / alpha))" [alpha = 1.0] "Continuously differentiable ELU for every alpha.";
    Softplus "softplus" "softplus(x)" [] "log(1 + exp(x)): a smooth ReLU whose gradient is the sigmoid.";
    Softsign "softsign" "x / (1 + abs(x))" [] "Like tanh, but approaching ±1 polynomially instead of exponentially.";
    Relu6 "relu6" "where(x < 0, 0, where(x > 6, 6, x))" [] "ReLU capped at 6 (mobile networks).";
    HardSwish "hard_swish" "x * where(x < -3, 0, where(x > 3, 6, x + 3)) / 6" [] "A piecewise-linear Swish: cheap to compute on phones.";
}

/// The tutorial's six, in its order.
pub const TUTORIAL: [Builtin; 6] = [
    Builtin::Sigmoid,
    Builtin::Tanh,
    Builtin::Relu,
    Builtin::LeakyRelu,
    Builtin::Elu,
    Builtin::Swish,
];

impl Builtin {
    /// The built-in called `name`.
    pub fn named(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.name() == name)
    }
}
