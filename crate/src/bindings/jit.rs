//! The compiled step (`crate::jit`) for JavaScript: compile a stack once, then each step is one
//! GPU submit. A state is consumed by the step that advances it (the returned state owns the
//! same GPU buffers); using a consumed state throws an error that says so.

use std::sync::Arc;

use wasm_bindgen::prelude::*;

use super::data::FashionData;
use super::device::Gpu;
use super::train::{TrainState, parse_config};
use super::{Once, index, js_err, key_from, to_js};
use crate::checkpoint::Checkpoint;
use crate::flax;
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
    #[wasm_bindgen(unchecked_return_type = "TrainConfig")]
    pub fn config(&self, k: f64) -> Result<JsValue, JsError> {
        let k = index("model index", k)?;
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
    #[wasm_bindgen(unchecked_param_type = "TrainConfig[]")] configs: JsValue,
    batch_size: f64,
) -> Result<StackProgram, JsError> {
    let batch_size = index("batch size", batch_size)?;
    let configs: Vec<TrainConfig> = parse_config(configs)?;
    Ok(StackProgram(
        jit::Program::compile(gpu.handles()?, &configs, batch_size, None).map_err(js_err)?,
    ))
}

/// The state of a compiled stack on the GPU. Consumed by `stackTrainStep` (use the state it
/// returns) and by `withModel`.
#[wasm_bindgen]
pub struct StackState(Once<jit::StackState>);

/// What a used StackState says when it is used again.
const STACK_STATE: &str =
    "this StackState (a train step or withModel consumes it; use the state that call returned)";

impl StackState {
    fn new(state: jit::StackState) -> StackState {
        StackState(Once::new(state))
    }

    fn get(&self) -> Result<&jit::StackState, JsError> {
        self.0.get(STACK_STATE)
    }

    fn take(&mut self) -> Result<jit::StackState, JsError> {
        self.0.take(STACK_STATE)
    }

    /// Model `k` read back to the host (checkpoints, exports, the Burn path).
    async fn model(&self, k: f64) -> Result<jit::HostModel, JsError> {
        let k = index("model index", k)?;
        self.get()?.model(k).await.map_err(js_err)
    }
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
        k: f64,
        key: Vec<u32>,
        meta: String,
    ) -> Result<Vec<u8>, JsError> {
        let model = self.model(k).await?;
        Ok(model.into_checkpoint(key_from(&key)?, meta).to_bytes())
    }

    /// Model k's params as `flax.serialization.to_bytes` writes them.
    #[wasm_bindgen(js_name = exportFlax)]
    pub async fn export_flax(&self, k: f64) -> Result<Vec<u8>, JsError> {
        let model = self.model(k).await?;
        Ok(flax::to_bytes(&model.params))
    }

    /// Model k as a `TrainState` of the Burn path on `gpu` (analyses, or training it alone).
    #[wasm_bindgen(js_name = trainState)]
    pub async fn train_state(&self, k: f64, gpu: &Gpu) -> Result<TrainState, JsError> {
        let model = self.model(k).await?;
        Ok(TrainState(model.restore(gpu.device())))
    }

    /// This stack with model k replaced by `state` (same config and step); consumes this one.
    #[wasm_bindgen(js_name = withModel)]
    pub async fn with_model(&mut self, k: f64, state: &TrainState) -> Result<StackState, JsError> {
        let k = index("model index", k)?;
        let model = jit::HostModel::of(&state.0).await.map_err(js_err)?;
        let stack = self.take()?;
        Ok(StackState::new(
            stack.with_model(k, &model).map_err(js_err)?,
        ))
    }
}

/// Every model's `TrainState::init`, model k from `keys[3k..3k+3]` (a flat `Uint32Array` of
/// each key's data and mode word: the SDK's `initStack` lays it out).
#[wasm_bindgen(js_name = initStack)]
pub fn init_stack(program: &StackProgram, keys: &[u32]) -> Result<StackState, JsError> {
    if !keys.len().is_multiple_of(3) {
        return Err(JsError::new(
            "initStack takes 3 words per key (its data and its mode)",
        ));
    }
    let keys = keys
        .chunks(3)
        .map(key_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StackState::new(
        jit::StackState::init(&program.0, &keys).map_err(js_err)?,
    ))
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
            Checkpoint::from_bytes(&f.to_vec())
                .map(jit::HostModel::from_checkpoint)
                .map_err(js_err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StackState::new(
        jit::StackState::from_host(&program.0, &models).map_err(js_err)?,
    ))
}

/// A split on the GPU for compiled steps (pixels stay bytes).
#[wasm_bindgen]
pub struct StackData(jit::Data);

#[wasm_bindgen]
impl FashionData {
    /// Uploads `split` for compiled steps (see `StackData`).
    #[wasm_bindgen(js_name = uploadForStack)]
    pub fn upload_for_stack(&self, gpu: &Gpu, split: &str) -> Result<StackData, JsError> {
        Ok(StackData(
            jit::Data::upload(gpu.handles()?, self.part(split)?).map_err(js_err)?,
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
    pub fn epoch(&self, key: &[u32], batch_size: f64) -> Result<StackEpoch, JsError> {
        let batch_size = index("batch size", batch_size)?;
        Ok(StackEpoch(
            self.0.epoch(key_from(key)?, batch_size).map_err(js_err)?,
        ))
    }

    /// Examples `start .. start + n`.
    pub fn range(&self, start: f64, n: f64) -> Result<StackBatch, JsError> {
        let (start, n) = (index("range's start", start)?, index("range's n", n)?);
        Ok(StackBatch(self.0.range(start, n).map_err(js_err)?))
    }

    /// The whole split in batches of at most `n` (for `stackEvalSteps`).
    pub fn chunks(&self, n: f64) -> Result<Vec<StackBatch>, JsError> {
        Ok(self
            .0
            .chunks(index("chunk size", n)?)
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

    pub fn batch(&self, i: f64) -> Result<StackBatch, JsError> {
        Ok(StackBatch(
            self.0.batch(index("batch index", i)?).map_err(js_err)?,
        ))
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
    state: Once<StackState>,
    metrics: Once<Vec<StackMetrics>>,
}

#[wasm_bindgen]
impl StackStepOutput {
    /// The next state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<StackState, JsError> {
        self.state.take("StackStepOutput.state")
    }

    /// The metrics, one per step (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn metrics(&mut self) -> Result<Vec<StackMetrics>, JsError> {
        self.metrics.take("StackStepOutput.metrics")
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
        state: Once::new(StackState::new(next)),
        metrics: Once::new(metrics.into_iter().map(StackMetrics).collect()),
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
#[wasm_bindgen(js_name = stackPredict, unchecked_return_type = "Uint32Array[]")]
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
#[wasm_bindgen(js_name = readStackMetrics, unchecked_return_type = "MetricValues[][]")]
pub async fn read_stack_metrics(metrics: Vec<StackMetrics>) -> Result<JsValue, JsError> {
    let handles: Vec<jit::StackMetrics> = metrics.into_iter().map(|m| m.0).collect();
    to_js(&jit::read_metrics(&handles).await.map_err(js_err)?)
}

/// `f` and `f'` of each activation at every `x` by the compiled stack's own WGSL: an array of
/// `Float32Array`, `[f_0, f'_0, f_1, f'_1, ...]`.
#[wasm_bindgen(js_name = stackActivationCurves, unchecked_return_type = "Float32Array[]")]
pub async fn stack_activation_curves(
    gpu: &Gpu,
    #[wasm_bindgen(unchecked_param_type = "Activation[]")] activations: Vec<JsValue>,
    xs: &[f32],
) -> Result<js_sys::Array, JsError> {
    let acts = activations
        .into_iter()
        .map(super::activation::activation_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(js_err)?;
    let values = jit::activation_values(gpu.handles()?, &acts, xs)
        .await
        .map_err(js_err)?;
    Ok(values
        .iter()
        .flat_map(|(f, df)| {
            [
                js_sys::Float32Array::from(&f[..]),
                js_sys::Float32Array::from(&df[..]),
            ]
        })
        .collect())
}
