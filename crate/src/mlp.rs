//! The MLP as data plus a pure `apply`.
//!
//! Parameters are plain tensors in Flax's layout (`Dense_i/kernel` is `[in, out]`, `Dense_i/bias`
//! is `[out]`); `apply` is a function of them and nothing else.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Error;
use crate::init::{BiasInit, KernelInit, dense_param_key};
use crate::prng::Key;

/// Layer sizes: `input -> hidden... -> output`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct MlpConfig {
    pub input: usize,
    pub hidden: Vec<usize>,
    pub output: usize,
}

/// The widest layer, the most hidden layers and parameters a network may have (the tutorial's
/// has 567,434 parameters): 64 MiB of f32 per copy of the parameters.
pub const MAX_WIDTH: usize = 1 << 16;
pub const MAX_HIDDEN_LAYERS: usize = 64;
pub const MAX_PARAMS: u64 = 1 << 24;

impl Default for MlpConfig {
    /// The tutorial's network: 784-512-256-256-128-10.
    fn default() -> Self {
        MlpConfig {
            input: 784,
            hidden: vec![512, 256, 256, 128],
            output: 10,
        }
    }
}

impl MlpConfig {
    /// `(fan_in, fan_out)` of each Dense layer in order.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let sizes: Vec<usize> = std::iter::once(self.input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.output))
            .collect();
        sizes.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Sizes a browser tab can hold: checked before anything is allocated, because an
    /// allocation that fails in wasm aborts the whole module instead of returning an error.
    pub fn validate(&self) -> Result<(), Error> {
        let sizes = || {
            std::iter::once(self.input)
                .chain(self.hidden.iter().copied())
                .chain([self.output])
        };
        if sizes().any(|d| d == 0 || d > MAX_WIDTH) {
            return Err(Error::Config(format!(
                "layer sizes must be from 1 to {MAX_WIDTH}, got input {}, hidden {:?}, output {}",
                self.input, self.hidden, self.output
            )));
        }
        if self.hidden.len() > MAX_HIDDEN_LAYERS {
            return Err(Error::Config(format!(
                "at most {MAX_HIDDEN_LAYERS} hidden layers, got {}",
                self.hidden.len()
            )));
        }
        let params: u64 = self
            .layer_dims()
            .iter()
            .map(|&(i, o)| (i as u64 + 1) * o as u64)
            .sum();
        if params > MAX_PARAMS {
            return Err(Error::Config(format!(
                "the network would have {params} parameters; the most is {MAX_PARAMS}"
            )));
        }
        Ok(())
    }
}

/// One `nn.Dense`: `y = x @ kernel + bias`.
#[derive(Clone, Debug)]
pub struct Dense {
    /// `[in, out]`
    pub kernel: Tensor<2>,
    /// `[out]`
    pub bias: Tensor<1>,
}

impl Dense {
    /// `x @ kernel + bias`, before the activation.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        crate::matmul::mm(x, self.kernel.clone()) + self.bias.clone().unsqueeze_dim::<2>(0)
    }
}

/// All parameters of the MLP, `Dense_0` first.
#[derive(Clone, Debug)]
pub struct Params {
    pub layers: Vec<Dense>,
}

/// Host-side parameter values, in Flax's naming and layout (for export, tests and JS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostDense {
    pub kernel_shape: [usize; 2],
    pub kernel: Vec<f32>,
    pub bias: Vec<f32>,
}

/// `MLP.init(key, ...)["params"]` on the host, as Flax computes it: layer `i`'s kernel comes
/// from the key Flax derives for `Dense_i` (counter 1) and its bias from counter 2.
pub fn init_host(
    key: Key,
    config: &MlpConfig,
    kernel_init: KernelInit,
    bias_init: BiasInit,
) -> Result<Vec<HostDense>, Error> {
    config.validate()?;
    Ok(config
        .layer_dims()
        .into_iter()
        .enumerate()
        .map(|(i, (fan_in, fan_out))| HostDense {
            kernel_shape: [fan_in, fan_out],
            kernel: kernel_init.sample(dense_param_key(key, i, 1), fan_in, fan_out),
            bias: bias_init.sample(dense_param_key(key, i, 2), fan_in, fan_out),
        })
        .collect())
}

impl HostDense {
    /// Zeros of the same shape (optimizer state).
    pub fn zeros_like(&self) -> HostDense {
        HostDense {
            kernel_shape: self.kernel_shape,
            kernel: vec![0.0; self.kernel.len()],
            bias: vec![0.0; self.bias.len()],
        }
    }
}

impl Params {
    /// `MLP.init(key, ...)["params"]` exactly as Flax computes it: layer `i`'s kernel comes from
    /// the key Flax derives for `Dense_i` (counter 1) and its bias from counter 2.
    pub fn init(
        key: Key,
        config: &MlpConfig,
        kernel_init: KernelInit,
        bias_init: BiasInit,
        device: &Device,
    ) -> Result<Params, Error> {
        let host = init_host(key, config, kernel_init, bias_init)?;
        Ok(Params::from_host(&host, device))
    }

    /// Uploads host values.
    pub fn from_host(layers: &[HostDense], device: &Device) -> Params {
        let layers = layers
            .iter()
            .map(|l| Dense {
                kernel: Tensor::from_data(
                    TensorData::new(l.kernel.clone(), l.kernel_shape),
                    device,
                ),
                bias: Tensor::from_data(TensorData::new(l.bias.clone(), [l.bias.len()]), device),
            })
            .collect();
        Params { layers }
    }

    /// Reads the values back (async: WebGPU cannot block).
    pub async fn to_host(&self) -> Result<Vec<HostDense>, Error> {
        let mut out = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let kernel = read_f32(l.kernel.clone()).await?;
            let bias = read_f32(l.bias.clone()).await?;
            out.push(HostDense {
                kernel_shape: l.kernel.dims(),
                kernel,
                bias,
            });
        }
        Ok(out)
    }

    /// Applies `f` to every `(kernel, bias)` pair together with the matching pairs of `others`
    /// (which must have the same structure): the tree-map the optimizers are written with.
    pub fn zip_map(
        &self,
        others: &[&Params],
        mut f2: impl FnMut(&[Tensor<2>]) -> Tensor<2>,
        mut f1: impl FnMut(&[Tensor<1>]) -> Tensor<1>,
    ) -> Params {
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let ks: Vec<Tensor<2>> = std::iter::once(l.kernel.clone())
                    .chain(others.iter().map(|o| o.layers[i].kernel.clone()))
                    .collect();
                let bs: Vec<Tensor<1>> = std::iter::once(l.bias.clone())
                    .chain(others.iter().map(|o| o.layers[i].bias.clone()))
                    .collect();
                Dense {
                    kernel: f2(&ks),
                    bias: f1(&bs),
                }
            })
            .collect();
        Params { layers }
    }

    /// Zeros of the same shapes (optimizer state).
    pub fn zeros_like(&self) -> Params {
        self.zip_map(&[], |t| t[0].zeros_like(), |t| t[0].zeros_like())
    }

    /// Number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.kernel.shape().num_elements() + l.bias.shape().num_elements())
            .sum()
    }
}

/// The forward pass: raw logits `[batch, output]` for inputs `[batch, input]`.
pub fn apply(params: &Params, x: Tensor<2>, activation: &Activation) -> Tensor<2> {
    let last = params.layers.len() - 1;
    params.layers.iter().enumerate().fold(x, |h, (i, l)| {
        let z = l.forward(h);
        if i == last { z } else { activation.apply(z) }
    })
}

/// Reads a float tensor back to the host without blocking.
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, Error> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::Device(format!("{e:?}")))?;
    data.try_into_vec::<f32>()
        .map_err(|e| Error::Device(format!("unexpected tensor data: {e:?}")))
}
