//! The WGSL of the six activations and their derivatives, picked per model of a stack: shared
//! by the storage-buffer kernels (`kernels.rs`) and the texture ones (`textured.rs`).

use crate::mlp::Activation;

fn activation_code(a: Activation) -> u32 {
    match a {
        Activation::Sigmoid => 0,
        Activation::Tanh => 1,
        Activation::Relu => 2,
        Activation::LeakyRelu => 3,
        Activation::Elu => 4,
        Activation::Swish => 5,
    }
}

/// `act(model, x)` and its derivative `dact(model, z)` in terms of the pre-activation.
pub(super) fn activation_wgsl(acts: &[Activation]) -> String {
    let cases: String = acts
        .iter()
        .enumerate()
        .map(|(k, a)| format!("case {k}u: {{ return {}u; }}\n", activation_code(*a)))
        .collect();
    format!(
        "fn act_of(m: u32) -> u32 {{ switch m {{ {cases} default: {{ return 2u; }} }} }}\n\
         fn sigm(x: f32) -> f32 {{ return 1.0 / (1.0 + exp(-x)); }}\n\
         fn tanh_(x: f32) -> f32 {{ let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }}\n\
         fn act(m: u32, x: f32) -> f32 {{\n\
           switch act_of(m) {{\n\
             case 0u: {{ return sigm(x); }}\n\
             case 1u: {{ return tanh_(x); }}\n\
             case 2u: {{ return max(x, 0.0); }}\n\
             case 3u: {{ return select(0.01 * x, x, x >= 0.0); }}\n\
             case 4u: {{ return select(exp(x) - 1.0, x, x > 0.0); }}\n\
             default: {{ return x * sigm(x); }}\n\
           }}\n\
         }}\n\
         fn dact(m: u32, x: f32) -> f32 {{\n\
           switch act_of(m) {{\n\
             case 0u: {{ let s = sigm(x); return s * (1.0 - s); }}\n\
             case 1u: {{ let t = tanh_(x); return 1.0 - t * t; }}\n\
             case 2u: {{ return select(0.0, 1.0, x > 0.0); }}\n\
             case 3u: {{ return select(0.01, 1.0, x >= 0.0); }}\n\
             case 4u: {{ return select(exp(x), 1.0, x > 0.0); }}\n\
             default: {{ let s = sigm(x); return s + x * s * (1.0 - s); }}\n\
           }}\n\
         }}\n"
    )
}
