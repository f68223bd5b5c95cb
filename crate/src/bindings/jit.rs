//! The compiled step (`crate::jit`) for JavaScript: compile a stack once, then each step is one
//! GPU submit. A state is consumed by the step that advances it (the returned state owns the
//! same GPU buffers); using a consumed state throws an error that says so.

use std::sync::Arc;

use wasm_bindgen::prelude::*;

use super::{FashionData, Gpu, TrainState, js_err, key_from, part, to_js};
use crate::checkpoint::flax_params_bytes;
use crate::jit;
use crate::train::TrainConfig;

/// A train/eval program compiled for a stack of models (same layer sizes and optimizer, each
/// with its own activation) at a fixed batch size.
#[wasm_bindgen]
pub struct StackProgram(Arc<jit::Program>);

#[wasm_bindgen]
impl StackProgram {
    #[wasm_bindgen(getter)]
    pub fn models(&self) -> usize {
        self.0.models()
    }

    #[wasm_bindgen(getter, js_name = batchSize)]
    pub fn batch_size(&self) -> usize {
        self.0.batch_size()
    }

    /// GPU dispatches of one train step of the whole stack.
    #[wasm_bindgen(getter, js_name = dispatchesPerStep)]
    pub fn dispatches_per_step(&self) -> usize {
        self.0.dispatches_per_step()
    }

    /// Model k's configuration, as a plain object.
    pub fn config(&self, k: usize) -> Result<JsValue, JsError> {
        let c =
            self.0.configs().get(k).ok_or_else(|| {
                JsError::new(&format!("model {k} of a stack of {}", self.0.models()))
            })?;
        to_js(c)
    }
}

/// Compiles the train step for `configs` (an array of plain config objects, one per model)
/// at `batchSize` images per step, on `gpu`.
#[wasm_bindgen(js_name = compileStack)]
pub fn compile_stack(
    gpu: &Gpu,
    configs: JsValue,
    batch_size: usize,
) -> Result<StackProgram, JsError> {
    let configs: Vec<TrainConfig> = serde_wasm_bindgen::from_value(configs)
        .map_err(|e| JsError::new(&format!("invalid configuration: {e}")))?;
    let handles = gpu.handles.as_ref().ok_or_else(|| {
        JsError::new("this Gpu has no wgpu handles for compiled steps; create it with Gpu.create()")
    })?;
    Ok(StackProgram(
        jit::Program::compile(handles, &configs, batch_size, None).map_err(js_err)?,
    ))
}

/// The state of a compiled stack on the GPU. Consumed by `stackTrainStep` (use the state it
/// returns) and by `withModel`.
#[wasm_bindgen]
pub struct StackState(Option<jit::StackState>);

impl StackState {
    fn get(&self) -> Result<&jit::StackState, JsError> {
        self.0.as_ref().ok_or_else(consumed)
    }

    fn take(&mut self) -> Result<jit::StackState, JsError> {
        self.0.take().ok_or_else(consumed)
    }
}

fn consumed() -> JsError {
    JsError::new(
        "this StackState was consumed by a train step (or withModel); use the state that call returned",
    )
}

#[wasm_bindgen]
impl StackState {
    /// Steps taken (every model of a stack is at the same step).
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> Result<f64, JsError> {
        Ok(self.get()?.step() as f64)
    }

    #[wasm_bindgen(getter)]
    pub fn models(&self) -> Result<usize, JsError> {
        Ok(self.get()?.models())
    }

    /// Model k as a checkpoint file (the same format as `TrainState.checkpoint`).
    pub async fn checkpoint(
        &self,
        k: usize,
        key: Vec<u32>,
        meta: String,
    ) -> Result<Vec<u8>, JsError> {
        let model = self.get()?.model(k).await.map_err(js_err)?;
        Ok(model.into_checkpoint(key_from(&key)?, meta).to_bytes())
    }

    /// Model k's params as `flax.serialization.to_bytes` writes them.
    #[wasm_bindgen(js_name = exportFlax)]
    pub async fn export_flax(&self, k: usize) -> Result<Vec<u8>, JsError> {
        let model = self.get()?.model(k).await.map_err(js_err)?;
        Ok(flax_params_bytes(&model.params))
    }

    /// Model k as a `TrainState` of the Burn path on `gpu` (analyses, or training it alone).
    #[wasm_bindgen(js_name = trainState)]
    pub async fn train_state(&self, k: usize, gpu: &Gpu) -> Result<TrainState, JsError> {
        let model = self.get()?.model(k).await.map_err(js_err)?;
        Ok(TrainState(model.restore(&gpu.device)))
    }

    /// This stack with model k replaced by `state` (same config and step); consumes this one.
    #[wasm_bindgen(js_name = withModel)]
    pub async fn with_model(
        &mut self,
        k: usize,
        state: &TrainState,
    ) -> Result<StackState, JsError> {
        let model = jit::HostModel::of(&state.0).await.map_err(js_err)?;
        let stack = self.take()?;
        Ok(StackState(Some(
            stack.with_model(k, &model).map_err(js_err)?,
        )))
    }
}

/// Every model's `TrainState::init`, model k from `keys[2k..2k+2]` (a flat `Uint32Array`).
#[wasm_bindgen(js_name = initStack)]
pub fn init_stack(program: &StackProgram, keys: &[u32]) -> Result<StackState, JsError> {
    let keys = keys
        .chunks(2)
        .map(key_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StackState(Some(
        jit::StackState::init(&program.0, &keys).map_err(js_err)?,
    )))
}

/// A stack from checkpoint files, one per model (each must be at the same step).
#[wasm_bindgen(js_name = stackFromCheckpoints)]
pub fn stack_from_checkpoints(
    program: &StackProgram,
    files: Vec<js_sys::Uint8Array>,
) -> Result<StackState, JsError> {
    let models = files
        .iter()
        .map(|f| {
            crate::checkpoint::Checkpoint::from_bytes(&f.to_vec())
                .map(jit::HostModel::from_checkpoint)
                .map_err(|e| js_err(crate::Error::from(e)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StackState(Some(
        jit::StackState::from_host(&program.0, &models).map_err(js_err)?,
    )))
}

/// A split on the GPU for compiled steps (pixels stay bytes).
#[wasm_bindgen]
pub struct StackData(jit::Data);

#[wasm_bindgen]
impl FashionData {
    /// Uploads `split` for compiled steps (see `StackData`).
    #[wasm_bindgen(js_name = uploadForStack)]
    pub fn upload_for_stack(&self, gpu: &Gpu, split: &str) -> Result<StackData, JsError> {
        let handles = gpu
            .handles
            .as_ref()
            .ok_or_else(|| JsError::new("this Gpu has no wgpu handles for compiled steps"))?;
        Ok(StackData(
            jit::Data::upload(handles, part(self, split)?).map_err(js_err)?,
        ))
    }
}

#[wasm_bindgen]
impl StackData {
    #[wasm_bindgen(getter, js_name = len)]
    pub fn size(&self) -> usize {
        self.0.len()
    }

    /// One epoch in an order drawn from `key` (the same order as `GpuSplit.epoch`).
    pub fn epoch(&self, key: &[u32], batch_size: usize) -> Result<StackEpoch, JsError> {
        Ok(StackEpoch(
            self.0.epoch(key_from(key)?, batch_size).map_err(js_err)?,
        ))
    }

    /// Examples `start .. start + n`.
    pub fn range(&self, start: usize, n: usize) -> Result<StackBatch, JsError> {
        Ok(StackBatch(self.0.range(start, n).map_err(js_err)?))
    }

    /// The whole split in batches of at most `n` (for `stackEvalSteps`).
    pub fn chunks(&self, n: usize) -> Result<Vec<StackBatch>, JsError> {
        Ok(self
            .0
            .chunks(n)
            .map_err(js_err)?
            .into_iter()
            .map(StackBatch)
            .collect())
    }
}

#[wasm_bindgen]
pub struct StackEpoch(jit::Epoch);

#[wasm_bindgen]
impl StackEpoch {
    #[wasm_bindgen(getter)]
    pub fn batches(&self) -> usize {
        self.0.batches()
    }

    pub fn batch(&self, i: usize) -> Result<StackBatch, JsError> {
        Ok(StackBatch(self.0.batch(i).map_err(js_err)?))
    }
}

/// A batch a compiled step gathers on the GPU when it runs.
#[wasm_bindgen]
pub struct StackBatch(jit::BatchRef);

#[wasm_bindgen]
impl StackBatch {
    #[wasm_bindgen(getter, js_name = len)]
    pub fn size(&self) -> usize {
        self.0.len()
    }
}

/// Per-model metrics of a step, still on the GPU (read many at once with `readStackMetrics`).
#[wasm_bindgen]
pub struct StackMetrics(jit::StackMetrics);

/// A compiled train step's result: the next state and the step's metrics.
#[wasm_bindgen]
pub struct StackStepOutput {
    state: Option<StackState>,
    metrics: Vec<StackMetrics>,
}

#[wasm_bindgen]
impl StackStepOutput {
    /// The next state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<StackState, JsError> {
        self.state
            .take()
            .ok_or_else(|| JsError::new("the state was already taken from this step output"))
    }

    /// The metrics, one per step (taken once).
    #[wasm_bindgen(getter)]
    pub fn metrics(&mut self) -> Vec<StackMetrics> {
        std::mem::take(&mut self.metrics)
    }
}

/// One train step of every model on `batch`; consumes `state`.
#[wasm_bindgen(js_name = stackTrainStep)]
pub fn stack_train_step(
    state: &mut StackState,
    batch: &StackBatch,
) -> Result<StackStepOutput, JsError> {
    stack_train_steps(state, vec![StackBatch(batch.0.clone())])
}

/// Many train steps in one GPU submit per 64; consumes `state`.
#[wasm_bindgen(js_name = stackTrainSteps)]
pub fn stack_train_steps(
    state: &mut StackState,
    batches: Vec<StackBatch>,
) -> Result<StackStepOutput, JsError> {
    let batches: Vec<jit::BatchRef> = batches.into_iter().map(|b| b.0).collect();
    // Checked before the state is taken, so a bad batch leaves it usable.
    state.get()?.check_batches(&batches).map_err(js_err)?;
    let (next, metrics) = jit::train_steps(state.take()?, &batches).map_err(js_err)?;
    Ok(StackStepOutput {
        state: Some(StackState(Some(next))),
        metrics: metrics.into_iter().map(StackMetrics).collect(),
    })
}

/// Per-model loss and accuracy on `batch`; the state is unchanged.
#[wasm_bindgen(js_name = stackEvalStep)]
pub fn stack_eval_step(state: &StackState, batch: &StackBatch) -> Result<StackMetrics, JsError> {
    Ok(StackMetrics(
        jit::eval_step(state.get()?, &batch.0).map_err(js_err)?,
    ))
}

/// `stackEvalStep` for many batches, one submit per 64.
#[wasm_bindgen(js_name = stackEvalSteps)]
pub fn stack_eval_steps(
    state: &StackState,
    batches: Vec<StackBatch>,
) -> Result<Vec<StackMetrics>, JsError> {
    let batches: Vec<jit::BatchRef> = batches.into_iter().map(|b| b.0).collect();
    Ok(jit::eval_steps(state.get()?, &batches)
        .map_err(js_err)?
        .into_iter()
        .map(StackMetrics)
        .collect())
}

/// Every model's predicted classes on `batch`: an array of `Uint32Array`, one per model.
#[wasm_bindgen(js_name = stackPredict)]
pub async fn stack_predict(
    state: &StackState,
    batch: &StackBatch,
) -> Result<js_sys::Array, JsError> {
    let classes = jit::predict(state.get()?, &batch.0).await.map_err(js_err)?;
    Ok(classes
        .iter()
        .map(|c| js_sys::Uint32Array::from(&c[..]))
        .collect())
}

/// Reads many steps' metrics with one readback: `[step][model]` of `{ loss, accuracy }`.
#[wasm_bindgen(js_name = readStackMetrics)]
pub async fn read_stack_metrics(metrics: Vec<StackMetrics>) -> Result<JsValue, JsError> {
    let handles: Vec<jit::StackMetrics> = metrics.into_iter().map(|m| m.0).collect();
    to_js(&jit::read_metrics(&handles).await.map_err(js_err)?)
}
