//! In headless Chromium with WebGPU (SwiftShader in CI): the reference vectors in wasm, and
//! training on the WebGPU backend. One test binary, so the browser build links once.
#![cfg(target_arch = "wasm32")]

mod common;

use actlab::mlp::{MlpConfig, read_f32};
use actlab::prng::key;
use actlab::train::{TrainConfig, TrainState, train_step};
use common::spec::*;
use common::toy_batch;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn jax_prng_vectors_match_in_wasm() {
    let (compared, worst_normal_ulps) = check_prng_vectors(PRNG_JSON);
    assert!(compared > 2000 && worst_normal_ulps <= 1);
}

#[wasm_bindgen_test]
fn flax_init_matches_in_wasm() {
    for case in &flax_cases(FLAX_JSON) {
        check_flax_case(case, &host_init(case));
    }
}

#[wasm_bindgen_test]
async fn train_steps_lower_the_loss_on_webgpu() {
    let dev = actlab::device::gpu().await.expect("WebGPU device");
    // A small network and a fixed batch: SwiftShader is slow.
    let (_, _, batch) = toy_batch(3, 64, 784, 10, &dev);
    let config = TrainConfig {
        mlp: MlpConfig {
            hidden: vec![32],
            ..MlpConfig::default()
        },
        ..TrainConfig::default()
    };
    let mut state = TrainState::init(key(0), config, &dev).unwrap();
    let mut losses = Vec::new();
    for _ in 0..6 {
        let (next, m) = train_step(&state, &batch).unwrap();
        losses.push(m.read().await.unwrap().loss);
        state = next;
    }
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[5] < losses[0] * 0.9, "loss did not fall: {losses:?}");
    // The params really live on the GPU and read back asynchronously.
    let w = read_f32(state.params.layers[0].bias.clone()).await.unwrap();
    assert_eq!(w.len(), 32);
}

/// A device for one compiled-step test: generation `n` (not `gpu()`'s 0, nor another test's),
/// so Burn registers it afresh and hands back its wgpu handles.
async fn jit_gpu(n: usize) -> actlab::device::Gpu {
    actlab::device::browser_gpu(n)
        .await
        .expect("WebGPU device")
        .0
}

#[wasm_bindgen_test]
async fn compiled_stack_matches_the_burn_path_in_the_browser() {
    let gpu = jit_gpu(1).await;
    common::jit::all_six_match_burn(&gpu, actlab::optim::Optimizer::default()).await;
    common::jit::all_six_match_burn(&gpu, common::jit::adam()).await;
}

#[wasm_bindgen_test]
async fn a_model_out_of_a_compiled_stack_and_back_trains_on_unchanged_in_the_browser() {
    common::jit::model_out_and_back(&jit_gpu(2).await).await;
}

#[wasm_bindgen_test]
async fn a_stacked_model_equals_the_model_alone_in_the_browser() {
    common::jit::stack_equals_models_alone(&jit_gpu(3).await).await;
}
