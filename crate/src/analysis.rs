//! The tutorial's analyses as pure functions of params and data, on the device (the numbers
//! behind the activation/gradient plots, gradient flow, activation histograms and dead
//! neurons). Results stay on the device; read them with `mlp::read_f32`.

use burn::tensor::Tensor;

use crate::activation::Activation;
use crate::data::{Batch, DeviceDataset};
use crate::error::Error;
use crate::mlp::Params;
use crate::train::loss_and_grads;

/// `f(x)` and `f'(x)` at every `x` on the device, as training computes them (`f'` is the
/// activation's symbolic derivative, which the autodiff of a train step also uses).
pub fn activation_curve(activation: &Activation, xs: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
    activation.values(&xs)
}

/// Gradient flow: `|dLoss/dKernel|` of every layer, flattened, for one batch (the tutorial
/// plots their distribution per layer; vanishing gradients show as tiny first layers).
pub fn kernel_gradient_magnitudes(
    params: &Params,
    batch: &Batch,
    activation: &Activation,
) -> Vec<Tensor<1>> {
    let (_, grads, _) = loss_and_grads(params, batch, activation);
    grads
        .layers
        .into_iter()
        .map(|l| {
            let [i, o] = l.kernel.dims();
            l.kernel.abs().reshape([i * o])
        })
        .collect()
}

/// Every hidden layer's output (after the activation) for the rows of `x`: `[n, width]` each.
pub fn hidden_activations(
    params: &Params,
    x: Tensor<2>,
    activation: &Activation,
) -> Vec<Tensor<2>> {
    let hidden = params.layers.len().saturating_sub(1);
    let mut out = Vec::with_capacity(hidden);
    let mut h = x;
    for l in &params.layers[..hidden] {
        h = activation.apply(l.forward(h));
        out.push(h.clone());
    }
    out
}

/// Per hidden unit, the largest `|output|` over the rows of `x`: a unit is dead on a data set
/// when this is 0 on every batch of it (combine batches with `Tensor::max_pair`).
pub fn unit_max_abs(params: &Params, x: Tensor<2>, activation: &Activation) -> Vec<Tensor<1>> {
    hidden_activations(params, x, activation)
        .into_iter()
        .map(|h| {
            let [_, w] = h.dims();
            h.abs().max_dim(0).reshape([w])
        })
        .collect()
}

/// The fraction of units whose largest `|output|` is exactly 0 (dead neurons), per layer.
pub fn dead_fraction(unit_max: &[Tensor<1>]) -> Vec<Tensor<1>> {
    unit_max
        .iter()
        .map(|m| m.clone().equal_elem(0.0).float().mean())
        .collect()
}

/// The number of units whose largest `|output|` is exactly 0 (dead neurons), per layer.
pub fn dead_count(unit_max: &[Tensor<1>]) -> Vec<Tensor<1>> {
    unit_max
        .iter()
        .map(|m| m.clone().equal_elem(0.0).float().sum())
        .collect()
}

/// Dead neurons on whole data sets: per hidden layer, how many units output 0 for every
/// example of every one of `data` (the notebook counts over its 60,000 training images, which
/// ActLab holds as two splits).
pub fn dead_counts_on(
    params: &Params,
    data: &[&DeviceDataset],
    activation: &Activation,
    chunk: usize,
) -> Result<Vec<Tensor<1>>, Error> {
    let mut max: Option<Vec<Tensor<1>>> = None;
    for d in data {
        max = Some(max_pairs(max, unit_max_on(params, d, activation, chunk)?));
    }
    let max = max.ok_or_else(|| Error::Config("dead neurons need at least one data set".into()))?;
    Ok(dead_count(&max))
}

/// Layer by layer, the element-wise maximum of `prev` (if any) and `next`.
fn max_pairs(prev: Option<Vec<Tensor<1>>>, next: Vec<Tensor<1>>) -> Vec<Tensor<1>> {
    match prev {
        None => next,
        Some(prev) => prev
            .into_iter()
            .zip(next)
            .map(|(a, b)| a.max_pair(b))
            .collect(),
    }
}

/// Dead neurons on a whole data set: per hidden layer, the fraction of units that output 0 for
/// every example of `data` (read in chunks of `chunk` rows, combined on the device).
pub fn dead_fraction_on(
    params: &Params,
    data: &DeviceDataset,
    activation: &Activation,
    chunk: usize,
) -> Result<Vec<Tensor<1>>, Error> {
    Ok(dead_fraction(&unit_max_on(
        params, data, activation, chunk,
    )?))
}

/// Per hidden unit, the largest `|output|` over every example of `data`, read in chunks of
/// `chunk` rows and combined on the device.
pub fn unit_max_on(
    params: &Params,
    data: &DeviceDataset,
    activation: &Activation,
    chunk: usize,
) -> Result<Vec<Tensor<1>>, Error> {
    let chunk = chunk.max(1);
    let mut max: Option<Vec<Tensor<1>>> = None;
    for start in (0..data.len()).step_by(chunk) {
        let batch = data.range(start, chunk.min(data.len() - start))?;
        max = Some(max_pairs(
            max,
            unit_max_abs(params, batch.images, activation),
        ));
    }
    max.ok_or_else(|| Error::Config("dead neurons need at least one example".into()))
}
