//! ActLab: train MLPs with the discipline of JAX — pure functions over plain data, explicit
//! PRNG keys — on Burn, natively and in the browser, on WebGPU or the CPU.
//!
//! Modules, from the bottom up (each imports only from those before it; `tests/layers.rs`
//! checks): [`error`] (every error, as values), [`activation`] (activation functions as
//! formulas: parser, derivative, and their WGSL, Burn and scalar forms), [`prng`] (JAX's threefry, bit for bit),
//! [`init`] (Flax's initializers and key derivation), [`matmul`] (the layers' matrix product:
//! its GPU kernel and backward pass), [`mlp`] (params as data, pure `apply`), [`optim`]
//! (optax's SGD-momentum and Adam, their state on the host), [`data`] (FashionMNIST IDX files,
//! the `Batch` a step takes), [`train`] (`TrainState`, `train_step`, `eval_step`),
//! [`analysis`] (the tutorial's analyses), [`flax`] (Flax's msgpack encoding), [`jax`] (the Python script that continues a model in
//! JAX), [`checkpoint`]
//! (saved states), [`device`] (creating a GPU or CPU device), [`jit`] (compiled steps for a
//! stack of models; feature `gpu`) and, on wasm only, `bindings` (the JavaScript API). See
//! ARCHITECTURE.md.
//!
//! Features: `gpu` (wgpu; `jit`) and `cpu` (Burn's Flex backend), both by default; the browser's
//! two modules are built with one each (`cpu` with `simd`: gemm's SIMD128 kernels).

pub mod activation;
pub mod analysis;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod error;
pub mod flax;
pub mod init;
pub mod jax;
#[cfg(feature = "gpu")]
pub mod jit;
pub mod matmul;
pub mod mlp;
pub mod optim;
pub mod prng;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

pub use error::{CheckpointError, DataError, Error};
