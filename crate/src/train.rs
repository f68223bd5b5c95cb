//! `TrainState` and the pure `train_step` / `eval_step`.
//!
//! A step takes a state by reference and returns a new one: Burn tensors are immutable values,
//! so the old state stays valid and unchanged (its tensors are shared, never written).

use burn::tensor::{Device, Int, Tensor, activation};
use serde::{Deserialize, Serialize};

use crate::activation::{Activation, Builtin};
use crate::data::Batch;
use crate::error::Error;
use crate::init::{BiasInit, KernelInit};
use crate::mlp::{MlpConfig, Params, apply, read_f32};
use crate::optim::{OptState, Optimizer};
use crate::prng::Key;

/// Everything that defines a model and how it learns. Every field has a default (the
/// tutorial's), so JavaScript may pass any part of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct TrainConfig {
    pub mlp: MlpConfig,
    pub activation: Activation,
    pub kernel_init: KernelInit,
    pub bias_init: BiasInit,
    pub optimizer: Optimizer,
}

impl Default for TrainConfig {
    /// The tutorial: 784-512-256-256-128-10, ReLU, the notebook's init (kernels and biases
    /// U(±1/sqrt(fan_in))), SGD(1e-2, 0.9).
    fn default() -> Self {
        TrainConfig {
            mlp: MlpConfig::default(),
            activation: Activation::builtin(Builtin::Relu),
            kernel_init: KernelInit::Tutorial,
            bias_init: BiasInit::Tutorial,
            optimizer: Optimizer::default(),
        }
    }
}

impl TrainConfig {
    /// Positive layer sizes and hyper-parameters in range.
    pub fn validate(&self) -> Result<(), Error> {
        self.mlp.validate()?;
        self.kernel_init.validate()?;
        self.optimizer.validate()
    }
}

/// The whole training state, as plain data.
#[derive(Clone, Debug)]
pub struct TrainState {
    pub params: Params,
    pub opt_state: OptState,
    pub step: u64,
    pub config: TrainConfig,
}

/// Loss and accuracy of a batch, still on the device: reading them back is the caller's choice
/// (and async), so a train step never stalls the GPU queue.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub loss: Tensor<1>,
    pub accuracy: Tensor<1>,
}

/// Metrics read back to the host.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct MetricValues {
    pub loss: f32,
    pub accuracy: f32,
}

impl Metrics {
    pub async fn read(self) -> Result<MetricValues, Error> {
        let values = read_metrics(vec![self]).await?;
        Ok(values[0])
    }
}

/// Reads many steps' metrics with a single readback: each readback waits for the GPU, so a
/// training loop reads a batch of pending metrics a few times per second, never per step.
pub async fn read_metrics(metrics: Vec<Metrics>) -> Result<Vec<MetricValues>, Error> {
    if metrics.is_empty() {
        return Ok(Vec::new());
    }
    let parts = metrics
        .into_iter()
        .flat_map(|m| [m.loss, m.accuracy])
        .collect();
    let values = read_f32(Tensor::cat(parts, 0)).await?;
    Ok(values
        .chunks_exact(2)
        .map(|c| MetricValues {
            loss: c[0],
            accuracy: c[1],
        })
        .collect())
}

impl TrainState {
    /// `TrainState.create(apply_fn, params=init(key), tx)`.
    pub fn init(key: Key, config: TrainConfig, device: &Device) -> Result<TrainState, Error> {
        config.validate()?;
        let params = Params::init(
            key,
            &config.mlp,
            config.kernel_init,
            config.bias_init,
            device,
        )?;
        let opt_state = config.optimizer.init(&params);
        Ok(TrainState {
            params,
            opt_state,
            step: 0,
            config,
        })
    }
}

/// Softmax cross-entropy of raw logits against integer labels, averaged over the batch
/// (log-softmax inside, which subtracts the row maximum: stable for any logits).
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = labels.dims()[0];
    let log_p = activation::log_softmax(logits, 1);
    log_p.gather(1, labels.reshape([n, 1])).mean().neg()
}

/// Fraction of rows whose arg-max is the label.
pub fn accuracy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = labels.dims()[0];
    logits
        .argmax(1)
        .equal(labels.reshape([n, 1]))
        .float()
        .mean()
}

pub(crate) fn check_batch(config: &TrainConfig, batch: &Batch) -> Result<(), Error> {
    let [n, width] = batch.images.dims();
    let [m] = batch.labels.dims();
    if width != config.mlp.input || n != m || n == 0 {
        return Err(Error::Shape(format!(
            "images are [{n}, {width}] and labels [{m}]; the model needs [n, {}] and [n] with n > 0",
            config.mlp.input
        )));
    }
    Ok(())
}

/// The loss of `params` on `batch` and its gradient with respect to every parameter (autodiff),
/// plus the logits (without autodiff) for metrics.
pub fn loss_and_grads(
    params: &Params,
    batch: &Batch,
    activation: &Activation,
) -> (Tensor<1>, Params, Tensor<2>) {
    let tracked = params.zip_map(
        &[],
        |t| t[0].clone().autodiff().require_grad(),
        |t| t[0].clone().autodiff().require_grad(),
    );
    let logits = apply(&tracked, batch.images.clone(), activation);
    let loss = cross_entropy(logits.clone(), batch.labels.clone());
    let grads = loss.backward();
    let grad_params = tracked.zip_map(
        &[],
        |t| grad_or_zeros(&t[0], &grads),
        |t| grad_or_zeros(&t[0], &grads),
    );
    (
        loss.without_autodiff(),
        grad_params,
        logits.without_autodiff(),
    )
}

fn grad_or_zeros<const D: usize>(t: &Tensor<D>, grads: &burn::tensor::Gradients) -> Tensor<D> {
    // Every parameter is on the path to the loss, so a gradient is always present; zeros keep
    // this total rather than panicking.
    t.grad(grads)
        .unwrap_or_else(|| t.clone().without_autodiff().zeros_like())
}

/// One step of training: forward, backward, optimizer update. Returns the new state and the
/// batch's metrics (computed before the update, as in the tutorial).
pub fn train_step(state: &TrainState, batch: &Batch) -> Result<(TrainState, Metrics), Error> {
    check_batch(&state.config, batch)?;
    let (loss, grads, logits) = loss_and_grads(&state.params, batch, &state.config.activation);
    let (params, opt_state) =
        state
            .config
            .optimizer
            .update(&state.params, &grads, &state.opt_state)?;
    let metrics = Metrics {
        loss,
        accuracy: accuracy(logits, batch.labels.clone()),
    };
    let next = TrainState {
        params,
        opt_state,
        step: state.step + 1,
        config: state.config.clone(),
    };
    Ok((next, metrics))
}

/// Loss and accuracy of the current params on `batch`; the state is not touched.
pub fn eval_step(state: &TrainState, batch: &Batch) -> Result<Metrics, Error> {
    check_batch(&state.config, batch)?;
    let logits = apply(
        &state.params,
        batch.images.clone(),
        &state.config.activation,
    );
    Ok(Metrics {
        loss: cross_entropy(logits.clone(), batch.labels.clone()),
        accuracy: accuracy(logits, batch.labels.clone()),
    })
}

/// The predicted class of every row of `batch.images` (arg-max of the logits; the labels are
/// only used for the shape check). Stays on the device; read it with [`read_classes`].
pub fn predict(state: &TrainState, batch: &Batch) -> Result<Tensor<1, Int>, Error> {
    check_batch(&state.config, batch)?;
    let [n, _] = batch.images.dims();
    let logits = apply(
        &state.params,
        batch.images.clone(),
        &state.config.activation,
    );
    Ok(logits.argmax(1).reshape([n]))
}

/// Reads class indices back to the host (async: no blocking reads on wasm).
pub async fn read_classes(t: Tensor<1, Int>) -> Result<Vec<u32>, Error> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::Device(format!("{e:?}")))?;
    // Int tensors are i32 or i64 depending on the backend; classes are small and non-negative.
    Ok(data.iter::<i64>().map(|c| c as u32).collect())
}
