//! Runs that survive, for JavaScript: checkpoint files and the Flax export.

use wasm_bindgen::prelude::*;

use super::device::Dev;
use super::train::TrainState;
use super::{Once, js_err, key_from, key_words};
use crate::checkpoint::Checkpoint;
use crate::flax;

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
        Ok(flax::to_bytes(&host))
    }
}

/// A checkpoint read back: the state (on the device), the run's key and the saved `meta` text.
#[wasm_bindgen]
pub struct Restored {
    state: Once<TrainState>,
    key: Vec<u32>,
    meta: String,
}

#[wasm_bindgen]
impl Restored {
    /// The restored state (can be taken once).
    #[wasm_bindgen(getter)]
    pub fn state(&mut self) -> Result<TrainState, JsError> {
        self.state.take("Restored.state")
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

/// Reads a checkpoint file onto `device`. A file that is not a checkpoint, is truncated or
/// corrupt, has another format version or arrays that do not fit its configuration throws an
/// error saying which.
#[wasm_bindgen(js_name = restoreCheckpoint)]
pub fn restore_checkpoint(device: &Dev, bytes: &[u8]) -> Result<Restored, JsError> {
    let ckpt = Checkpoint::from_bytes(bytes).map_err(js_err)?;
    Ok(Restored {
        state: Once::new(TrainState(ckpt.restore(device.device()))),
        key: key_words(ckpt.key),
        meta: ckpt.meta,
    })
}

/// The Python script that continues a model of `config` in JAX/Flax (`crate::jax`): the same
/// layers, activation formula, initializer and PRNG mode; it loads the parameters from
/// `paramsFile` (beside it; `exportFlax`'s bytes), evaluates on FashionMNIST's test set and
/// prints the accuracy. `options`: `{ legacy?: boolean, paramsFile?: string, testAccuracy?:
/// number }` (the accuracy ActLab measured, quoted in the script).
#[wasm_bindgen(js_name = jaxScript)]
pub fn jax_script(
    #[wasm_bindgen(unchecked_param_type = "TrainConfig")] config: JsValue,
    #[wasm_bindgen(
        unchecked_optional_param_type = "{ legacy?: boolean; paramsFile?: string; testAccuracy?: number }"
    )]
    options: JsValue,
) -> Result<String, JsError> {
    let config: crate::train::TrainConfig = super::train::parse_config(config)?;
    config.validate().map_err(js_err)?;
    let get = |k: &str| {
        if options.is_undefined() || options.is_null() {
            JsValue::UNDEFINED
        } else {
            js_sys::Reflect::get(&options, &k.into()).unwrap_or(JsValue::UNDEFINED)
        }
    };
    let mode = if get("legacy").as_bool() == Some(true) {
        crate::prng::Mode::Legacy
    } else {
        crate::prng::Mode::Partitionable
    };
    let file = get("paramsFile")
        .as_string()
        .unwrap_or_else(|| "params.msgpack".into());
    if file.is_empty() || file.len() > 200 || file.contains(['/', '\\']) {
        return Err(JsError::new(
            "paramsFile is a file name (no directories, at most 200 characters)",
        ));
    }
    let accuracy = get("testAccuracy").as_f64().filter(|a| a.is_finite());
    Ok(crate::jax::script(&config, mode, &file, accuracy))
}
