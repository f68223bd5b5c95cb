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
fn the_notebooks_legacy_prng_matches_in_wasm() {
    let (compared, worst_normal_ulps) = check_prng_vectors(PRNG_LEGACY_JSON);
    assert!(compared > 2000 && worst_normal_ulps <= 1);
}

#[wasm_bindgen_test]
fn flax_init_matches_in_wasm() {
    for case in flax_cases(FLAX_JSON)
        .iter()
        .chain(&flax_cases(TUTORIAL_JSON))
    {
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
    let mut acts = actlab::activation::Activation::tutorial();
    acts.push(actlab::activation::Activation::parse("x * tanh(softplus(x))", &[]).unwrap());
    common::jit::all_match_burn(&gpu, actlab::optim::Optimizer::default(), &acts).await;
    common::jit::all_match_burn(&gpu, common::jit::adam(), &acts).await;
}

#[wasm_bindgen_test]
async fn a_model_out_of_a_compiled_stack_and_back_trains_on_unchanged_in_the_browser() {
    common::jit::model_out_and_back(&jit_gpu(2).await).await;
}

#[wasm_bindgen_test]
async fn a_stacked_model_equals_the_model_alone_in_the_browser() {
    common::jit::stack_equals_models_alone(&jit_gpu(3).await).await;
}

/// The public activation spec, compiled in (the browser cannot read files; the native test
/// reads any file of its schema, and the package's e2e test sends it to the page).
const ACTIVATIONS_JSON: &str = include_str!("../../../shared/spec/jax_activations.json");

#[wasm_bindgen_test]
async fn activations_match_jax_on_webgpu_in_the_browser() {
    let s = common::activations::parse(ACTIVATIONS_JSON);
    let gpu = jit_gpu(4).await;
    let acts = s.activations();
    let xs: Vec<f32> = s.x.iter().map(|&x| x as f32).collect();
    let t = burn::tensor::Tensor::<1>::from_data(
        burn::tensor::TensorData::new(xs.clone(), [xs.len()]),
        &gpu.device,
    );
    let wide = |v: Vec<f32>| -> Vec<f64> { v.into_iter().map(f64::from).collect() };
    let list: Vec<_> = acts.iter().map(|a| a.1.clone()).collect();
    let compiled = actlab::jit::activation_values(gpu.handles().unwrap(), &list, &xs)
        .await
        .unwrap();
    let mut bad = Vec::new();
    for ((what, a, e), (cf, cdf)) in acts.iter().zip(compiled) {
        let (f, df) = a.values(&t);
        let (f, df) = (read_f32(f).await.unwrap(), read_f32(df).await.unwrap());
        bad.extend(s.compare(&format!("{what} Burn on WebGPU"), &wide(f), &wide(df), e));
        bad.extend(s.compare(&format!("{what} WGSL on WebGPU"), &wide(cf), &wide(cdf), e));
    }
    assert!(bad.is_empty(), "{}", bad[..bad.len().min(20)].join("\n"));
    assert!(s.check_invalid() > 0);
}
