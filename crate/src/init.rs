//! Parameter initializers and Flax's parameter-key derivation, bit for bit.
//!
//! Initializers are pure functions `(key, shape) -> values` on the host, in float32, following
//! `jax.nn.initializers` operation by operation so that the bytes match Flax's.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::error::Error;
use crate::prng::{self, Key};

/// Which fan `variance_scaling` divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    FanIn,
    FanOut,
    FanAvg,
}

/// The distribution `variance_scaling` draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    Normal,
}

/// A kernel initializer, as named in `jax.nn.initializers`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelInit {
    /// `lecun_uniform()`: `variance_scaling(1, fan_in, uniform)`, Flax's recommended uniform.
    LecunUniform,
    /// `variance_scaling(1/3, fan_in, uniform)`: U(±1/sqrt(fan_in)), PyTorch's `nn.Linear`.
    TorchDefault,
    /// The tutorial notebook's own `init_func`: `jax.random.uniform(key, shape, minval=-b,
    /// maxval=b)` with `b = 1/sqrt(fan_in)` computed in float64 (the same bound as
    /// `TorchDefault`, drawn another way, so other bits). With `BiasInit::Tutorial` and the
    /// legacy PRNG, the notebook's initial parameters.
    Tutorial,
    /// Any other `variance_scaling(scale, mode, distribution)`.
    VarianceScaling {
        scale: f64,
        mode: FanMode,
        distribution: Distribution,
    },
}

/// A bias initializer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum BiasInit {
    /// Flax's default: zeros.
    Zeros,
    /// PyTorch's `nn.Linear` default: U(±1/sqrt(fan_in)) of the layer, drawn from the bias key.
    FanInUniform,
    /// The tutorial notebook's `init_func` for biases too (see `KernelInit::Tutorial`).
    Tutorial,
}

/// `jax.random.uniform(key, (len,), minval=-b, maxval=b)`, `b = 1/sqrt(fan_in)` in float64 and
/// then cast (the notebook's `init_func`).
pub fn tutorial_uniform(key: Key, fan_in: usize, len: usize) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    prng::uniform(key, len, -bound as f32, bound as f32)
}

impl KernelInit {
    /// A positive, finite scale (JAX would draw NaN or fail later).
    pub fn validate(self) -> Result<(), Error> {
        let (scale, _, _) = self.scaling();
        if scale.is_finite() && scale > 0.0 {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "variance_scaling's scale must be a positive number, got {scale}"
            )))
        }
    }

    fn scaling(self) -> (f64, FanMode, Distribution) {
        match self {
            KernelInit::LecunUniform => (1.0, FanMode::FanIn, Distribution::Uniform),
            KernelInit::TorchDefault | KernelInit::Tutorial => {
                (1.0 / 3.0, FanMode::FanIn, Distribution::Uniform)
            }
            KernelInit::VarianceScaling {
                scale,
                mode,
                distribution,
            } => (scale, mode, distribution),
        }
    }

    /// Initial values of a `[fan_in, fan_out]` kernel, row-major.
    pub fn sample(self, key: Key, fan_in: usize, fan_out: usize) -> Vec<f32> {
        if self == KernelInit::Tutorial {
            return tutorial_uniform(key, fan_in, fan_in * fan_out);
        }
        let (scale, mode, distribution) = self.scaling();
        variance_scaling(key, fan_in, fan_out, scale, mode, distribution)
    }
}

/// `jax.nn.initializers.variance_scaling(scale, mode, distribution)` for a 2-D `[in, out]` kernel.
///
/// JAX computes `variance = f32(scale / denominator)` in double precision, then in float32
/// `uniform(key, -1, 1) * sqrt(3 * variance)` or `normal(key) * sqrt(variance)`.
pub fn variance_scaling(
    key: Key,
    fan_in: usize,
    fan_out: usize,
    scale: f64,
    mode: FanMode,
    distribution: Distribution,
) -> Vec<f32> {
    let denominator = match mode {
        FanMode::FanIn => fan_in as f64,
        FanMode::FanOut => fan_out as f64,
        FanMode::FanAvg => (fan_in + fan_out) as f64 / 2.0,
    };
    let variance = (scale / denominator) as f32;
    let n = fan_in * fan_out;
    match distribution {
        Distribution::Uniform => {
            let bound = (3.0f32 * variance).sqrt();
            prng::uniform(key, n, -1.0, 1.0)
                .into_iter()
                .map(|u| u * bound)
                .collect()
        }
        Distribution::Normal => {
            let std = variance.sqrt();
            prng::normal(key, n).into_iter().map(|z| z * std).collect()
        }
    }
}

/// `lecun_uniform()` of a `[fan_in, fan_out]` kernel.
pub fn lecun_uniform(key: Key, fan_in: usize, fan_out: usize) -> Vec<f32> {
    KernelInit::LecunUniform.sample(key, fan_in, fan_out)
}

/// `zeros` of any length.
pub fn zeros(len: usize) -> Vec<f32> {
    vec![0.0; len]
}

impl BiasInit {
    /// Initial values of the bias of a layer with `fan_in` inputs and `fan_out` outputs.
    pub fn sample(self, key: Key, fan_in: usize, fan_out: usize) -> Vec<f32> {
        match self {
            BiasInit::Zeros => zeros(fan_out),
            BiasInit::FanInUniform => {
                // Same bound, computed the same way, as the TorchDefault kernel.
                let bound = (3.0f32 * ((1.0 / 3.0) / fan_in as f64) as f32).sqrt();
                prng::uniform(key, fan_out, -bound, bound)
            }
            BiasInit::Tutorial => tutorial_uniform(key, fan_in, fan_out),
        }
    }
}

/// One element of a Flax RNG path: a module name or a per-scope counter.
#[derive(Clone, Copy, Debug)]
pub enum PathPart<'a> {
    Name(&'a str),
    Count(u64),
}

/// Flax's `_fold_in_static`: SHA-1 over the path (names as UTF-8, counters as minimal big-endian
/// bytes), the first four digest bytes read big-endian, folded into the root key.
pub fn fold_in_path(root: Key, path: &[PathPart]) -> Key {
    if path.is_empty() {
        return root;
    }
    let mut sha = Sha1::new();
    for part in path {
        match part {
            PathPart::Name(s) => sha.update(s.as_bytes()),
            PathPart::Count(c) => {
                let len = (64 - c.leading_zeros() as usize).div_ceil(8);
                sha.update(&c.to_be_bytes()[8 - len..]);
            }
        }
    }
    let d = sha.finalize();
    prng::fold_in(root, u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
}

/// The key Flax gives `nn.Dense` number `layer` of a compact module for its `index`-th parameter
/// (kernel = 1, bias = 2): each `make_rng("params")` in a scope bumps that scope's counter.
pub fn dense_param_key(root: Key, layer: usize, index: u64) -> Key {
    let name = format!("Dense_{layer}");
    fold_in_path(root, &[PathPart::Name(&name), PathPart::Count(index)])
}
