//! The JavaScript API (wasm only). Thin: it converts values at the boundary and calls the pure
//! functions behind it; errors become exceptions carrying the [`Error`](crate::Error) message.

use burn::tensor::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::analysis;
use crate::checkpoint::{Checkpoint, flax_params_bytes};
use crate::data::{self, Dataset, DeviceDataset, FashionMnist};
use crate::mlp::Activation;
use crate::prng;
use crate::train::{self, TrainConfig};

mod jit;

pub(crate) fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}

pub(crate) fn key_from(k: &[u32]) -> Result<prng::Key, JsError> {
    match k {
        [a, b] => Ok(prng::Key([*a, *b])),
        _ => Err(JsError::new(&format!(
            "a PRNG key is a Uint32Array of length 2, got length {}",
            k.len()
        ))),
    }
}

/// Runs when the module is instantiated: static constructors once (see `device`).
#[wasm_bindgen(start)]
fn start() {
    crate::device::run_constructors_once();
}

/// `jax.random.key(seed)`: the raw key data as a `Uint32Array` of length 2.
#[wasm_bindgen]
pub fn key(seed: f64) -> Result<Vec<u32>, JsError> {
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 2f64.powi(53)) {
        return Err(JsError::new(&format!(
            "seed must be a non-negative integer, got {seed}"
        )));
    }
    Ok(prng::key(seed as u64).0.to_vec())
}

/// `jax.random.split(key, n)`: `n` keys, flattened into a `Uint32Array` of length `2n`.
#[wasm_bindgen]
pub fn split(key: &[u32], n: usize) -> Result<Vec<u32>, JsError> {
    Ok(prng::split(key_from(key)?, n)
        .into_iter()
        .flat_map(|k| k.0)
        .collect())
}

/// `jax.random.fold_in(key, data)`.
#[wasm_bindgen(js_name = foldIn)]
pub fn fold_in(key: &[u32], data: u32) -> Result<Vec<u32>, JsError> {
    Ok(prng::fold_in(key_from(key)?, data).0.to_vec())
}

/// `jax.random.permutation(key, n)`.
#[wasm_bindgen]
pub fn permutation(key: &[u32], n: usize) -> Result<Vec<u32>, JsError> {
    Ok(prng::permutation(key_from(key)?, n))
}

/// The GPU device. Create it once with [`Gpu::create`] and pass it to `init`.
#[wasm_bindgen]
pub struct Gpu {
    device: Device,
    /// The wgpu handles behind `device`, for compiled steps (`jit`).
    handles: Option<crate::jit::Handles>,
    /// The browser's `GPUDevice` (undefined when this handle shares an earlier one's device).
    web: JsValue,
    generation: usize,
}

#[wasm_bindgen]
impl Gpu {
    /// Requests a WebGPU adapter and device (async, as the browser requires).
    pub async fn create() -> Result<Gpu, JsError> {
        Gpu::generation(0).await
    }

    async fn generation(generation: usize) -> Result<Gpu, JsError> {
        let (gpu, web) = crate::device::browser_gpu(generation)
            .await
            .map_err(js_err)?;
        Ok(Gpu {
            device: gpu.device,
            handles: gpu.wgpu,
            web,
            generation,
        })
    }

    /// A new device to continue on after this one was lost (states, batches and uploads made
    /// on the lost one cannot be used on it: restore them from a checkpoint).
    pub async fn recreate(&self) -> Result<Gpu, JsError> {
        Gpu::generation(self.generation + 1).await
    }

    /// Resolves with `{ reason, message }` if the device is lost (WebGPU's `device.lost`);
    /// never resolves while it works.
    #[wasm_bindgen(getter)]
    pub fn lost(&self) -> js_sys::Promise {
        crate::device::device_lost(&self.web)
    }

    /// Destroys the device (WebGPU's `device.destroy()`): `lost` then resolves with reason
    /// "destroyed". Frees the GPU memory at once; also how tests simulate a device loss.
    pub fn destroy(&self) -> Result<(), JsError> {
        crate::device::destroy_device(&self.web)
            .map_err(|e| JsError::new(&format!("cannot destroy the GPU device: {e:?}")))
    }
}

/// FashionMNIST parsed from its four IDX files (train split into 50k/10k train/val by a key).
#[wasm_bindgen]
pub struct FashionData {
    train: Dataset,
    val: Dataset,
    test: Dataset,
}

/// Which part of the data a batch comes from.
pub(crate) fn part<'a>(d: &'a FashionData, split: &str) -> Result<&'a Dataset, JsError> {
    match split {
        "train" => Ok(&d.train),
        "val" => Ok(&d.val),
        "test" => Ok(&d.test),
        other => Err(JsError::new(&format!(
            "unknown split {other:?}; expected \"train\", \"val\" or \"test\""
        ))),
    }
}

#[wasm_bindgen]
impl FashionData {
    /// Parses the four files (gzip or raw IDX bytes, in the official order: train images, train
    /// labels, test images, test labels) and splits train/val with `split_key`.
    pub fn parse(
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
        split_key: &[u32],
    ) -> Result<FashionData, JsError> {
        let all = FashionMnist::from_bytes([train_images, train_labels, test_images, test_labels])
            .map_err(|e| js_err(crate::Error::from(e)))?;
        let (train, val) = data::train_val_split(&all.train, key_from(split_key)?);
        Ok(FashionData {
            train,
            val,
            test: all.test,
        })
    }

    /// Number of examples in `"train"`, `"val"` or `"test"`.
    pub fn len(&self, split: &str) -> Result<usize, JsError> {
        Ok(part(self, split)?.len())
    }

    /// Keeps only the first `n` examples of each split (small browser runs and tests).
    pub fn truncate(&self, n: usize) -> FashionData {
        let first = |d: &Dataset| d.subset(&(0..n.min(d.len()) as u32).collect::<Vec<_>>());
        FashionData {
            train: first(&self.train),
            val: first(&self.val),
            test: first(&self.test),
        }
    }

    /// One epoch's training batches, in an order drawn from `key`: indices into `"train"`,
    /// flattened (`batches * batch_size`); the last incomplete batch is dropped.
    #[wasm_bindgen(js_name = epochOrder)]
    pub fn epoch_order(&self, key: &[u32], batch_size: usize) -> Result<Vec<u32>, JsError> {
        Ok(data::epoch_batches(key_from(key)?, self.train.len(), batch_size).concat())
    }

    /// A batch of the examples at `indices` of `split`, normalised, on the GPU.
    pub fn batch(&self, gpu: &Gpu, split: &str, indices: &[u32]) -> Result<Batch, JsError> {
        let d = part(self, split)?;
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= d.len()) {
            return Err(JsError::new(&format!(
                "index {bad} is out of range for {split} ({} examples)",
                d.len()
            )));
        }
        Ok(Batch(d.batch(indices, &gpu.device)))
    }

    /// Uploads `split` to the GPU once (pixels stay bytes): training from a [`GpuSplit`] gathers
    /// and normalises each batch on the GPU, with no per-step copy of images.
    pub fn upload(&self, gpu: &Gpu, split: &str) -> Result<GpuSplit, JsError> {
        Ok(GpuSplit(DeviceDataset::upload(
            part(self, split)?,
            &gpu.device,
        )))
    }

    /// Raw pixels (`u8`, 784 per image) of the examples at `indices` of `split`.
    pub fn pixels(&self, split: &str, indices: &[u32]) -> Result<Vec<u8>, JsError> {
        let d = part(self, split)?;
        Ok(d.subset(indices).images)
    }

    /// Labels of the examples at `indices` of `split`.
    pub fn labels(&self, split: &str, indices: &[u32]) -> Result<Vec<u8>, JsError> {
        let d = part(self, split)?;
        Ok(d.subset(indices).labels)
    }
}

/// A batch on the GPU.
#[wasm_bindgen]
pub struct Batch(train::Batch);

/// A split of the data on the GPU (see `FashionData.upload`).
#[wasm_bindgen]
pub struct GpuSplit(DeviceDataset);

#[wasm_bindgen]
impl GpuSplit {
    /// Number of examples.
    #[wasm_bindgen(getter, js_name = len)]
    pub fn size(&self) -> usize {
        self.0.len()
    }

    /// One epoch in an order drawn from `key` (uploaded once, cut into full batches of
    /// `batch_size`; the last incomplete batch is dropped).
    pub fn epoch(&self, key: &[u32], batch_size: usize) -> Result<Epoch, JsError> {
        if batch_size == 0 {
            return Err(JsError::new("batch size must be at least 1"));
        }
        let order = self.0.epoch_order(key_from(key)?, batch_size);
        Ok(Epoch {
            data: self.0.clone(),
            order,
        })
    }

    /// Examples `start .. start + n` as one batch (evaluation), gathered on the GPU.
    pub fn range(&self, start: usize, n: usize) -> Result<Batch, JsError> {
        Ok(Batch(self.0.range(start, n).map_err(js_err)?))
    }

    /// The examples at `indices`, gathered on the GPU.
    pub fn gather(&self, indices: &[u32]) -> Result<Batch, JsError> {
        Ok(Batch(
            self.0.gather(self.0.indices(indices).map_err(js_err)?),
        ))
    }
}

/// One epoch's batch order on the GPU (see `GpuSplit.epoch`).
#[wasm_bindgen]
pub struct Epoch {
    data: DeviceDataset,
    order: data::EpochOrder,
}

#[wasm_bindgen]
impl Epoch {
    /// Number of batches.
    #[wasm_bindgen(getter)]
    pub fn batches(&self) -> usize {
        self.order.batches()
    }

    /// Batch `i` of the epoch, gathered and normalised on the GPU.
    pub fn batch(&self, i: usize) -> Result<Batch, JsError> {
        let indices = self.order.batch_indices(i).map_err(js_err)?;
        Ok(Batch(self.data.gather(indices)))
    }
}

/// A training state. Immutable: `trainStep` returns a new one.
#[wasm_bindgen]
pub struct TrainState(pub(crate) train::TrainState);

#[wasm_bindgen]
impl TrainState {
    /// Number of steps taken.
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> f64 {
        self.0.step as f64
    }

    /// The configuration, as a plain object.
    #[wasm_bindgen(getter)]
    pub fn config(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.config)
    }

    /// Number of scalar parameters.
    #[wasm_bindgen(getter, js_name = numParams)]
    pub fn num_params(&self) -> usize {
        self.0.params.num_params()
    }
}

#[wasm_bindgen]
impl TrainState {
    /// The state as a checkpoint file's bytes (format: `checkpoint` module docs), with the
    /// run's PRNG `key` and free-form `meta` text (e.g. JSON of the run's progress).
    pub async fn checkpoint(&self, key: Vec<u32>, meta: String) -> Result<Vec<u8>, JsError> {
        let ckpt = Checkpoint::of(&self.0, key_from(&key)?, meta)
            .await
            .map_err(js_err)?;
        Ok(ckpt.to_bytes())
    }

    /// The params as `flax.serialization.to_bytes(variables)` writes them:
    /// `{"params": {"Dense_0": {"kernel", "bias"}, ...}}` (see the README for loading it in Flax).
    #[wasm_bindgen(js_name = exportFlax)]
    pub async fn export_flax(&self) -> Result<Vec<u8>, JsError> {
        let host = self.0.params.to_host().await.map_err(js_err)?;
        Ok(flax_params_bytes(&host))
    }
}

/// A checkpoint read back: the state (on the GPU), the run's key and the saved `meta` text.
#[wasm_bindgen]
pub struct Restored {
    state: Option<TrainState>,
    key: Vec<u32>,
    meta: String,
}

#[wasm_bindgen]
impl Restored {
    /// The restored state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<TrainState, JsError> {
        self.state
            .take()
            .ok_or_else(|| JsError::new("the state was already taken from this checkpoint"))
    }

    /// The PRNG key saved with the state.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> Vec<u32> {
        self.key.clone()
    }

    /// The text saved with the state.
    #[wasm_bindgen(getter)]
    pub fn meta(&self) -> String {
        self.meta.clone()
    }
}

/// Reads a checkpoint file onto `gpu`. A file that is not a checkpoint, is truncated or
/// corrupt, has another format version or arrays that do not fit its configuration throws an
/// error saying which.
#[wasm_bindgen(js_name = restoreCheckpoint)]
pub fn restore_checkpoint(gpu: &Gpu, bytes: &[u8]) -> Result<Restored, JsError> {
    let ckpt = Checkpoint::from_bytes(bytes).map_err(|e| js_err(crate::Error::from(e)))?;
    Ok(Restored {
        state: Some(TrainState(ckpt.restore(&gpu.device))),
        key: ckpt.key.0.to_vec(),
        meta: ckpt.meta,
    })
}

/// Float arrays still on the GPU (an analysis' result); `read()` resolves to one
/// `Float32Array` per array, with a single readback.
#[wasm_bindgen]
pub struct Arrays(Option<Vec<burn::tensor::Tensor<1>>>);

#[wasm_bindgen]
impl Arrays {
    /// Reads the arrays back asynchronously (once).
    pub async fn read(&mut self) -> Result<js_sys::Array, JsError> {
        let arrays = self
            .0
            .take()
            .ok_or_else(|| JsError::new("these arrays were already read"))?;
        let lens: Vec<usize> = arrays.iter().map(|a| a.dims()[0]).collect();
        let out = js_sys::Array::new();
        if arrays.is_empty() {
            return Ok(out);
        }
        let all = crate::mlp::read_f32(burn::tensor::Tensor::cat(arrays, 0))
            .await
            .map_err(js_err)?;
        let mut at = 0;
        for n in lens {
            out.push(&js_sys::Float32Array::from(&all[at..at + n]));
            at += n;
        }
        Ok(out)
    }
}

fn activation_of(name: &str) -> Result<Activation, JsError> {
    name.parse().map_err(js_err)
}

/// An activation function and its derivative (by autodiff) at `xs`: `read()` gives `[f, f']`.
#[wasm_bindgen(js_name = activationCurve)]
pub fn activation_curve(gpu: &Gpu, activation: &str, xs: &[f32]) -> Result<Arrays, JsError> {
    let xs = burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(xs.to_vec(), [xs.len()]),
        &gpu.device,
    );
    let (f, df) = analysis::activation_curve(activation_of(activation)?, xs);
    Ok(Arrays(Some(vec![f, df])))
}

/// Gradient flow: `|dLoss/dKernel|` of every layer (flattened `[in * out]`) for `batch`, under
/// the state's params and activation.
#[wasm_bindgen(js_name = gradientMagnitudes)]
pub fn gradient_magnitudes(state: &TrainState, batch: &Batch) -> Result<Arrays, JsError> {
    train::check_batch(&state.0.config, &batch.0).map_err(js_err)?;
    let s = &state.0;
    Ok(Arrays(Some(analysis::kernel_gradient_magnitudes(
        &s.params,
        &batch.0,
        s.config.activation,
    ))))
}

/// Every hidden layer's outputs (after the activation) on `batch`, flattened `[n * width]`.
#[wasm_bindgen(js_name = hiddenActivations)]
pub fn hidden_activations(state: &TrainState, batch: &Batch) -> Result<Arrays, JsError> {
    train::check_batch(&state.0.config, &batch.0).map_err(js_err)?;
    let s = &state.0;
    let layers =
        analysis::hidden_activations(&s.params, batch.0.images.clone(), s.config.activation);
    Ok(Arrays(Some(
        layers
            .into_iter()
            .map(|h| {
                let [n, w] = h.dims();
                h.reshape([n * w])
            })
            .collect(),
    )))
}

/// Dead neurons: per hidden layer, the fraction of units that output 0 on every example of
/// `split` (one array of one value per layer).
#[wasm_bindgen(js_name = deadFractions)]
pub fn dead_fractions(state: &TrainState, split: &GpuSplit) -> Result<Arrays, JsError> {
    let s = &state.0;
    let fractions = analysis::dead_fraction_on(&s.params, &split.0, s.config.activation, 1000)
        .map_err(js_err)?;
    Ok(Arrays(Some(fractions)))
}

/// Metrics of a step, still on the GPU; `read()` resolves to `{ loss, accuracy }`.
#[wasm_bindgen]
pub struct Metrics(Option<train::Metrics>);

#[wasm_bindgen]
impl Metrics {
    /// Reads the metrics back asynchronously (once).
    pub async fn read(&mut self) -> Result<JsValue, JsError> {
        let m = self
            .0
            .take()
            .ok_or_else(|| JsError::new("these metrics were already read"))?;
        to_js(&m.read().await.map_err(js_err)?)
    }
}

/// Reads many `Metrics` with one GPU readback; resolves to `[{ loss, accuracy }, …]` in order.
/// Takes the objects (like `read()`, each can be read once).
#[wasm_bindgen(js_name = readMetrics)]
pub async fn read_metrics(metrics: Vec<Metrics>) -> Result<JsValue, JsError> {
    let taken = metrics
        .into_iter()
        .map(|mut m| {
            m.0.take()
                .ok_or_else(|| JsError::new("these metrics were already read"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    to_js(&train::read_metrics(taken).await.map_err(js_err)?)
}

/// The result of a train step: the new state and the batch's metrics.
#[wasm_bindgen]
pub struct StepOutput {
    state: Option<TrainState>,
    metrics: Option<Metrics>,
}

#[wasm_bindgen]
impl StepOutput {
    /// The new state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<TrainState, JsError> {
        self.state
            .take()
            .ok_or_else(|| JsError::new("the state was already taken from this step output"))
    }

    /// The metrics (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn metrics(&mut self) -> Result<Metrics, JsError> {
        self.metrics
            .take()
            .ok_or_else(|| JsError::new("the metrics were already taken from this step output"))
    }
}

/// `TrainState.create(params=init(key, config), tx)` on the GPU. `config` is a plain object
/// (every field optional; see `TrainConfig` in the TypeScript types).
#[wasm_bindgen]
pub fn init(gpu: &Gpu, key: &[u32], config: JsValue) -> Result<TrainState, JsError> {
    let config: TrainConfig = if config.is_undefined() || config.is_null() {
        TrainConfig::default()
    } else {
        serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("invalid configuration: {e}")))?
    };
    let state = train::TrainState::init(key_from(key)?, config, &gpu.device).map_err(js_err)?;
    Ok(TrainState(state))
}

/// One training step; `state` stays valid.
#[wasm_bindgen(js_name = trainStep)]
pub fn train_step(state: &TrainState, batch: &Batch) -> Result<StepOutput, JsError> {
    let (next, metrics) = train::train_step(&state.0, &batch.0).map_err(js_err)?;
    Ok(StepOutput {
        state: Some(TrainState(next)),
        metrics: Some(Metrics(Some(metrics))),
    })
}

/// Loss and accuracy on a batch; the state is not touched.
#[wasm_bindgen(js_name = evalStep)]
pub fn eval_step(state: &TrainState, batch: &Batch) -> Result<Metrics, JsError> {
    let metrics = train::eval_step(&state.0, &batch.0).map_err(js_err)?;
    Ok(Metrics(Some(metrics)))
}

/// Predicted classes, still on the GPU; `read()` resolves to a `Uint32Array`.
#[wasm_bindgen]
pub struct Classes(Option<burn::tensor::Tensor<1, burn::tensor::Int>>);

#[wasm_bindgen]
impl Classes {
    /// Reads the classes back asynchronously (once).
    pub async fn read(&mut self) -> Result<Vec<u32>, JsError> {
        let t = self
            .0
            .take()
            .ok_or_else(|| JsError::new("these classes were already read"))?;
        train::read_classes(t).await.map_err(js_err)
    }
}

/// The predicted class of every example of `batch` (arg-max of the logits); the state is not
/// touched.
#[wasm_bindgen]
pub fn predict(state: &TrainState, batch: &Batch) -> Result<Classes, JsError> {
    let classes = train::predict(&state.0, &batch.0).map_err(js_err)?;
    Ok(Classes(Some(classes)))
}
