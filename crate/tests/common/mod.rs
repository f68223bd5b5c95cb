//! Shared by the native and the wasm test binaries: reference data and checks.
#![allow(dead_code)]

pub mod activations;
pub mod jit;
pub mod spec;

use actlab::data::Batch;
use actlab::prng::{self, key};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Runs a future to completion. Native tests use pollster; on wasm the test itself is async.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

/// A small random problem: `n` inputs of width `d_in`, labels in `0..classes`.
pub fn toy_batch(
    seed: u64,
    n: usize,
    d_in: usize,
    classes: usize,
    dev: &Device,
) -> (Vec<f32>, Vec<i32>, Batch) {
    let k = prng::split(key(seed), 2);
    let x = prng::normal(k[0], n * d_in);
    let y: Vec<i32> = prng::bits(k[1], n)
        .iter()
        .map(|b| (b % classes as u32) as i32)
        .collect();
    let batch = Batch {
        images: Tensor::from_data(TensorData::new(x.clone(), [n, d_in]), dev),
        labels: Tensor::<1, Int>::from_data(TensorData::new(y.clone(), [n]), dev),
    };
    (x, y, batch)
}

/// A 4-3-2 Tanh MLP with `optimizer`: small enough to check everything about it.
pub fn tiny_state(optimizer: actlab::optim::Optimizer, dev: &Device) -> actlab::train::TrainState {
    let config = actlab::train::TrainConfig {
        mlp: actlab::mlp::MlpConfig {
            input: 4,
            hidden: vec![3],
            output: 2,
        },
        activation: actlab::activation::Builtin::Tanh.into(),
        optimizer,
        ..actlab::train::TrainConfig::default()
    };
    actlab::train::TrainState::init(key(1), config, dev).unwrap()
}
