//! ActLab's `jit`: the whole train step of a stack of models compiled once into a fixed list of
//! WGSL pipelines over buffers that live as long as the state, and replayed every step as one
//! compute pass and one queue submit, with nothing allocated or planned per step.
//!
//! A *stack* is K models of the same layer sizes and optimizer, each with its own activation
//! (JAX's `vmap` over models): parameters carry a leading model axis, every layer is one
//! dispatch for all K, and every model sees the same batch. Model k's initial parameters are
//! `TrainState::init` of that model alone with its key, and its losses are those of training it
//! alone (`tests/jit.rs` holds both paths to that).
//!
//! The API stays pure in JAX's sense of donated buffers: [`train_step`] consumes the state and
//! returns the next one (updated in place on the GPU, so the old one cannot be observed), and
//! [`eval_step`] / [`predict`] borrow it. Metrics stay on the GPU, in a ring of slots, until
//! [`read_metrics`] reads many steps' worth at once.
//!
//! Built on the wgpu device Burn itself uses ([`crate::device::Gpu`]): the Burn path
//! (`train::train_step`) remains the reference, and the analyses, checkpoints and the Flax
//! export reach a stack's models through [`HostModel`] (one host copy, e.g. once per epoch).

mod buffers;
mod curves;
mod data;
mod host;
pub mod kernels;
#[cfg(not(target_arch = "wasm32"))]
mod profile;
mod program;
mod readback;
mod state;
mod textured;
mod tiling;

use crate::device::Handles;
use crate::error::Error;
pub use curves::activation_values;
pub use data::{BatchRef, Data, Epoch};
pub use host::HostModel;
pub use program::Program;
use readback::read_bytes;
pub use readback::{StackMetrics, read_metrics};
pub use state::StackState;
pub use tiling::Tiling;

/// Bytes of one `Step` uniform slot: the largest `min_uniform_buffer_offset_alignment` allowed.
pub(crate) const STEP_SLOT: u64 = 256;
/// Steps one submit can hold (each gets its own uniform slot).
pub(crate) const STEPS_PER_SUBMIT: usize = 64;
/// Steps' metrics kept on the GPU until read; a loop reads a few times a second.
pub(crate) const METRIC_SLOTS: usize = 4096;
/// The most models in one stack (the tutorial needs 6).
pub const MAX_MODELS: usize = 128;

/// One train step of every model of the stack on `batch`: consumes the state (its buffers
/// are updated in place, as JAX's donated arguments) and returns the next one, with the
/// per-model loss and accuracy of the batch (before the update, as `train::train_step`).
pub fn train_step(
    state: StackState,
    batch: &BatchRef,
) -> Result<(StackState, StackMetrics), Error> {
    let (state, mut m) = train_steps(state, std::slice::from_ref(batch))?;
    Ok((state, m.remove(0)))
}

/// Many train steps, one submit per 64: the loop of an epoch without the host in between.
pub fn train_steps(
    mut state: StackState,
    batches: &[BatchRef],
) -> Result<(StackState, Vec<StackMetrics>), Error> {
    state.check_batches(batches)?;
    let mut out = Vec::with_capacity(batches.len());
    for chunk in batches.chunks(STEPS_PER_SUBMIT) {
        let prepared = state.prepare(chunk)?;
        out.extend(state.run(&prepared, true));
        state.step += chunk.len() as u64;
    }
    Ok((state, out))
}

/// Per-model loss and accuracy of the current parameters on `batch`; the state is unchanged.
pub fn eval_step(state: &StackState, batch: &BatchRef) -> Result<StackMetrics, Error> {
    Ok(eval_steps(state, std::slice::from_ref(batch))?.remove(0))
}

/// [`eval_step`] for many batches, one submit per 64 (e.g. `data.chunks(batch_size)`).
pub fn eval_steps(state: &StackState, batches: &[BatchRef]) -> Result<Vec<StackMetrics>, Error> {
    let mut out = Vec::with_capacity(batches.len());
    for chunk in batches.chunks(STEPS_PER_SUBMIT) {
        let prepared = state.prepare_ref(chunk)?;
        out.extend(state.run(&prepared, false));
    }
    Ok(out)
}

/// Every model's predicted class for each image of `batch` (`[model][row]`).
pub async fn predict(state: &StackState, batch: &BatchRef) -> Result<Vec<Vec<u32>>, Error> {
    eval_step(state, batch)?;
    let s = &state.program.shape;
    let bytes = read_bytes(&state.program.gpu, &state.bufs.classes).await?;
    let all: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(all
        .chunks_exact(s.batch)
        .map(|row| row[..batch.len()].to_vec())
        .collect())
}
