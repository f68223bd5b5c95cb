//! Training for JavaScript (the Burn path): configs, states, steps, metrics, predictions.

use burn::tensor::{Int, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use super::data::Batch;
use super::device::Dev;
use super::{Once, js_err, key_from, to_js};
use crate::error::Error;
use crate::train::{self, TrainConfig};

/// A plain config object (any part of a `TrainConfig`; `undefined` or `null` for all defaults).
fn config_from(config: JsValue) -> Result<TrainConfig, JsError> {
    if config.is_undefined() || config.is_null() {
        return Ok(TrainConfig::default());
    }
    parse_config(config)
}

/// Configuration objects (one, or an array of them) with serde's defaults filled in. An option
/// that no config has (`learningRate` for `learning_rate`) is refused: serde-wasm-bindgen reads
/// only the fields it knows, so it would otherwise be silently ignored.
pub(super) fn parse_config<T: DeserializeOwned + Serialize>(config: JsValue) -> Result<T, JsError> {
    let config_err = |e: &dyn std::fmt::Display| js_err(Error::Config(e.to_string()));
    let parsed: T = serde_wasm_bindgen::from_value(config.clone()).map_err(|e| config_err(&e))?;
    let given: serde_json::Value =
        serde_wasm_bindgen::from_value(config).map_err(|e| config_err(&e))?;
    let known = serde_json::to_value(&parsed).map_err(|e| config_err(&e))?;
    match unknown_option(&given, &known, "") {
        Some(path) => Err(config_err(&format!("unknown option `{path}`"))),
        None => Ok(parsed),
    }
}

/// The first key path of `given` that the parsed config (`known`, every field present) lacks.
fn unknown_option(
    given: &serde_json::Value,
    known: &serde_json::Value,
    path: &str,
) -> Option<String> {
    use serde_json::Value;
    match (given, known) {
        (Value::Object(g), Value::Object(k)) => g.iter().find_map(|(key, v)| {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match k.get(key) {
                None => Some(at),
                Some(kv) => unknown_option(v, kv, &at),
            }
        }),
        (Value::Array(g), Value::Array(k)) => g
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (v, kv))| unknown_option(v, kv, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// The tutorial's configuration with every field present: 784-512-256-256-128-10, ReLU,
/// PyTorch's default init, SGD(1e-2, momentum 0.9).
#[wasm_bindgen(js_name = defaultConfig, unchecked_return_type = "TrainConfig")]
pub fn default_config() -> Result<JsValue, JsError> {
    to_js(&TrainConfig::default())
}

/// `config` with every missing field filled in from the defaults, checked as `init` checks
/// it: the configuration a state made from `config` has. Throws what is wrong.
#[wasm_bindgen(js_name = fullConfig, unchecked_return_type = "TrainConfig")]
pub fn full_config(
    #[wasm_bindgen(unchecked_optional_param_type = "TrainConfig")] config: JsValue,
) -> Result<JsValue, JsError> {
    let config = config_from(config)?;
    config.validate().map_err(js_err)?;
    to_js(&config)
}

/// A training state. Immutable: `trainStep` returns a new one.
#[wasm_bindgen]
pub struct TrainState(pub(super) train::TrainState);

#[wasm_bindgen]
impl TrainState {
    /// Number of steps taken.
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> f64 {
        self.0.step as f64
    }

    /// The configuration, as a plain object with every field.
    #[wasm_bindgen(getter, unchecked_return_type = "TrainConfig")]
    pub fn config(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.config)
    }

    /// Number of scalar parameters.
    #[wasm_bindgen(getter, js_name = numParams)]
    pub fn num_params(&self) -> usize {
        self.0.params.num_params()
    }
}

/// `TrainState.create(params=init(key, config), tx)` on the device. `config` is a plain object
/// (every field optional; see `TrainConfig` in the TypeScript types).
#[wasm_bindgen]
pub fn init(
    device: &Dev,
    key: &[u32],
    #[wasm_bindgen(unchecked_optional_param_type = "TrainConfig")] config: JsValue,
) -> Result<TrainState, JsError> {
    let config = config_from(config)?;
    let state = train::TrainState::init(key_from(key)?, config, device.device()).map_err(js_err)?;
    Ok(TrainState(state))
}

/// Metrics of a step, still on the device; `read()` resolves to `{ loss, accuracy }`.
#[wasm_bindgen]
pub struct Metrics(Once<train::Metrics>);

const METRICS: &str = "this Metrics";

#[wasm_bindgen]
impl Metrics {
    /// Reads the metrics back asynchronously (once).
    #[wasm_bindgen(unchecked_return_type = "MetricValues")]
    pub async fn read(&mut self) -> Result<JsValue, JsError> {
        let m = self.0.take(METRICS)?;
        to_js(&m.read().await.map_err(js_err)?)
    }
}

/// Reads many `Metrics` with one readback; resolves to `[{ loss, accuracy }, …]` in order.
/// Takes the objects (like `read()`, each can be read once).
#[wasm_bindgen(js_name = readMetrics, unchecked_return_type = "MetricValues[]")]
pub async fn read_metrics(metrics: Vec<Metrics>) -> Result<JsValue, JsError> {
    let taken = metrics
        .into_iter()
        .map(|mut m| m.0.take(METRICS))
        .collect::<Result<Vec<_>, _>>()?;
    to_js(&train::read_metrics(taken).await.map_err(js_err)?)
}

/// The result of a train step: the new state and the batch's metrics.
#[wasm_bindgen]
pub struct StepOutput {
    state: Once<TrainState>,
    metrics: Once<Metrics>,
}

#[wasm_bindgen]
impl StepOutput {
    /// The new state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<TrainState, JsError> {
        self.state.take("StepOutput.state")
    }

    /// The metrics (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn metrics(&mut self) -> Result<Metrics, JsError> {
        self.metrics.take("StepOutput.metrics")
    }
}

/// One training step; `state` stays valid.
#[wasm_bindgen(js_name = trainStep)]
pub fn train_step(state: &TrainState, batch: &Batch) -> Result<StepOutput, JsError> {
    let (next, metrics) = train::train_step(&state.0, &batch.0).map_err(js_err)?;
    Ok(StepOutput {
        state: Once::new(TrainState(next)),
        metrics: Once::new(Metrics(Once::new(metrics))),
    })
}

/// Loss and accuracy on a batch; the state is not touched.
#[wasm_bindgen(js_name = evalStep)]
pub fn eval_step(state: &TrainState, batch: &Batch) -> Result<Metrics, JsError> {
    let metrics = train::eval_step(&state.0, &batch.0).map_err(js_err)?;
    Ok(Metrics(Once::new(metrics)))
}

/// Predicted classes, still on the device; `read()` resolves to a `Uint32Array`.
#[wasm_bindgen]
pub struct Classes(Once<Tensor<1, Int>>);

#[wasm_bindgen]
impl Classes {
    /// Reads the classes back asynchronously (once).
    pub async fn read(&mut self) -> Result<Vec<u32>, JsError> {
        let t = self.0.take("this Classes")?;
        train::read_classes(t).await.map_err(js_err)
    }
}

/// The predicted class of every example of `batch` (arg-max of the logits); the state is not
/// touched.
#[wasm_bindgen]
pub fn predict(state: &TrainState, batch: &Batch) -> Result<Classes, JsError> {
    let classes = train::predict(&state.0, &batch.0).map_err(js_err)?;
    Ok(Classes(Once::new(classes)))
}
