//! The JavaScript API (wasm only). Thin: it converts values at the boundary and calls the pure
//! functions behind it; errors become exceptions carrying the [`Error`](crate::Error) message.

use burn::tensor::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::data::{self, Dataset, DeviceDataset, FashionMnist};
use crate::prng;
use crate::train::{self, TrainConfig};

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}

fn key_from(k: &[u32]) -> Result<prng::Key, JsError> {
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
}

#[wasm_bindgen]
impl Gpu {
    /// Requests a WebGPU adapter and device (async, as the browser requires).
    pub async fn create() -> Result<Gpu, JsError> {
        let device = crate::device::gpu().await.map_err(js_err)?;
        Ok(Gpu { device })
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
fn part<'a>(d: &'a FashionData, split: &str) -> Result<&'a Dataset, JsError> {
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
pub struct TrainState(train::TrainState);

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
