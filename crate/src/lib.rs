//! ActLab: train MLPs with the discipline of JAX — pure functions over plain data, explicit
//! PRNG keys — on Burn, natively and in the browser on WebGPU.
//!
//! Modules, from the bottom up: [`prng`] (JAX's threefry, bit for bit), [`init`] (Flax's
//! initializers and key derivation), [`matmul`] (the layers' matrix product: its GPU kernel and
//! backward pass), [`mlp`] (params as data, pure `apply`), [`optim`] (optax's SGD-momentum and
//! Adam), [`train`] (`TrainState`, `train_step`, `eval_step`), [`data`] (FashionMNIST IDX
//! files), [`analysis`] (the tutorial's analyses), [`checkpoint`] (saved states, Flax export),
//! [`device`] (creating a GPU or CPU device) and, on wasm only, `bindings` (the JavaScript API).
//! See ARCHITECTURE.md.

pub mod analysis;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod init;
pub mod jit;
pub mod matmul;
pub mod mlp;
pub mod optim;
pub mod prng;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

pub use checkpoint::CheckpointError;
pub use data::DataError;

/// Everything that can go wrong, as a value. In JavaScript it becomes an exception carrying
/// this message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid data: {0}")]
    Data(#[from] DataError),
    #[error("batch does not fit the model: {0}")]
    Shape(String),
    #[error("GPU device error: {0}")]
    Device(String),
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot read file: {0}")]
    Io(String),
}
