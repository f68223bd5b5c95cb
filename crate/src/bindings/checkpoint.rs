//! Runs that survive, for JavaScript: checkpoint files and the Flax export.

use wasm_bindgen::prelude::*;

use super::device::Dev;
use super::train::TrainState;
use super::{Once, js_err, key_from};
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
        key: ckpt.key.0.to_vec(),
        meta: ckpt.meta,
    })
}
