//! The compiled step's checks, shared by the native test (`tests/jit.rs`) and the browser test
//! (`tests/wasm.rs`): the same data, models and comparisons on both.

use std::sync::Arc;

use actlab::activation::{Activation, Builtin};
use actlab::data::{Dataset, DeviceDataset, SIDE};
use actlab::jit::{self, Data, Program, StackState};
use actlab::mlp::MlpConfig;
use actlab::optim::Optimizer;
use actlab::prng::{self, Key};
use actlab::train::{self, TrainConfig, TrainState};
use burn::tensor::Device;

pub const STEPS: usize = 50;
pub const BATCH: usize = 32;

/// Images whose class shows in their pixels (so losses fall), from a key.
pub fn dataset(key: Key, n: usize) -> Dataset {
    let bits = prng::bits(key, n * SIDE * SIDE);
    let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
    let images = bits
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let row = i / (SIDE * SIDE);
            let px = i % (SIDE * SIDE);
            let lit = px / 78 == labels[row] as usize;
            (b % 128) as u8 + if lit { 127 } else { 0 }
        })
        .collect();
    Dataset { images, labels }
}

/// A small MLP (784-48-24-10) with the given activation and optimizer.
pub fn config(activation: impl Into<Activation>, optimizer: Optimizer) -> TrainConfig {
    TrainConfig {
        mlp: MlpConfig {
            input: SIDE * SIDE,
            hidden: vec![48, 24],
            output: 10,
        },
        activation: activation.into(),
        optimizer,
        ..TrainConfig::default()
    }
}

pub fn adam() -> Optimizer {
    Optimizer::Adam {
        learning_rate: 1e-3,
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
    }
}

/// The Burn path's losses: `TrainState::init` and `train::train_step` on batches gathered by
/// `DeviceDataset` (the same order as the compiled path's), on `dev`.
pub async fn burn_losses(
    dev: &Device,
    cfg: &TrainConfig,
    key: Key,
    data: &Dataset,
    order: Key,
    steps: usize,
) -> Vec<f32> {
    let on_device = DeviceDataset::upload(data, dev);
    let epoch = on_device.epoch_order(order, BATCH).unwrap();
    let mut state = TrainState::init(key, cfg.clone(), dev).unwrap();
    let mut metrics = Vec::new();
    for i in 0..steps {
        let batch = on_device.gather(epoch.batch_indices(i % epoch.batches()).unwrap());
        let (next, m) = train::train_step(&state, &batch).unwrap();
        state = next;
        metrics.push(m);
    }
    let values = train::read_metrics(metrics).await.unwrap();
    values.iter().map(|m| m.loss).collect()
}

/// The compiled stack's losses, `[step][model]`, and the final state.
pub async fn jit_losses(
    program: &Arc<Program>,
    keys: &[Key],
    data: &Data,
    order: Key,
    steps: usize,
) -> (Vec<Vec<f32>>, StackState) {
    let epoch = data.epoch(order, BATCH).unwrap();
    let mut state = StackState::init(program, keys).unwrap();
    let mut metrics = Vec::new();
    for i in 0..steps {
        let (next, m) = jit::train_step(state, &epoch.batch(i % epoch.batches()).unwrap()).unwrap();
        state = next;
        metrics.push(m);
    }
    let values = jit::read_metrics(&metrics).await.unwrap();
    let losses = values
        .iter()
        .map(|per_model| per_model.iter().map(|m| m.loss).collect())
        .collect();
    (losses, state)
}

pub fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let rel = (x - y).abs() / y.abs().max(1e-6);
        assert!(
            rel <= 1e-5,
            "{what}: step {i}: compiled {x} vs reference {y} (relative {rel:.2e})"
        );
    }
}

/// Activations in one stack against each trained alone on the Burn path, from the same key
/// and batches: losses equal to 1e-5 relative over `STEPS` steps, and falling.
pub async fn all_match_burn(gpu: &actlab::device::Gpu, optimizer: Optimizer, acts: &[Activation]) {
    let h = gpu.handles().unwrap();
    let data = dataset(prng::key(3), 8 * BATCH);
    let configs: Vec<TrainConfig> = acts.iter().map(|a| config(a.clone(), optimizer)).collect();
    let program = Program::compile(h, &configs, BATCH, None).unwrap();
    // gather, 3 layers forward and backward, loss, update; and on textures (software
    // adapters) each layer's parameters copied into its texture.
    let sync = if program.tiling().textures { 3 } else { 0 };
    assert_eq!(program.dispatches_per_step(), 9 + sync);
    let keys = vec![prng::key(42); acts.len()];
    let up = Data::upload(h, &data).unwrap();
    let (losses, _) = jit_losses(&program, &keys, &up, prng::key(7), STEPS).await;
    for (k, cfg) in configs.iter().enumerate() {
        let reference = burn_losses(&gpu.device, cfg, keys[k], &data, prng::key(7), STEPS).await;
        let compiled: Vec<f32> = losses.iter().map(|l| l[k]).collect();
        assert_close(
            &format!("{:?} {optimizer:?}", cfg.activation),
            &compiled,
            &reference,
        );
        assert!(
            compiled[STEPS - 1] < compiled[0],
            "{:?} learns: {} -> {}",
            cfg.activation,
            compiled[0],
            compiled[STEPS - 1]
        );
    }
}

/// Model 1 of a stack out to a checkpoint file, through the Burn path and back in: training on
/// equals the uninterrupted run, bit for bit.
pub async fn model_out_and_back(gpu: &actlab::device::Gpu) {
    use actlab::checkpoint::Checkpoint;
    use actlab::jit::HostModel;
    let h = gpu.handles().unwrap();
    let data = Data::upload(h, &dataset(prng::key(11), 4 * BATCH)).unwrap();
    let configs: Vec<TrainConfig> = [Builtin::Sigmoid, Builtin::Elu]
        .iter()
        .map(|&a| config(a, Optimizer::default()))
        .collect();
    let program = Program::compile(h, &configs, BATCH, None).unwrap();
    let keys = [prng::key(4), prng::key(5)];
    let epoch = data.epoch(prng::key(12), BATCH).unwrap();
    let run = |state: StackState, from: usize, to: usize| {
        let batches: Vec<_> = (from..to).map(|i| epoch.batch(i % 4).unwrap()).collect();
        jit::train_steps(state, &batches).unwrap()
    };
    let (state, _) = run(StackState::init(&program, &keys).unwrap(), 0, 5);
    let (_, m) = run(state, 5, 10);
    let uninterrupted = jit::read_metrics(&m).await.unwrap();

    let (state, _) = run(StackState::init(&program, &keys).unwrap(), 0, 5);
    let out = state.model(1).await.unwrap();
    let bytes = out
        .clone()
        .into_checkpoint(prng::key(0), "{}".into())
        .to_bytes();
    let restored = Checkpoint::from_bytes(&bytes).unwrap();
    let burn_state = restored.restore(&gpu.device);
    let back = HostModel::of(&burn_state).await.unwrap();
    assert_eq!(back, out);
    let state = state.with_model(1, &back).unwrap();
    let (_, m) = run(state, 5, 10);
    assert_eq!(jit::read_metrics(&m).await.unwrap(), uninterrupted);
}

/// A stack's model k: initialised as `TrainState::init` of that model alone with its key, and
/// trained as a stack of one (the same losses, 1e-5; per-model metrics).
pub async fn stack_equals_models_alone(gpu: &actlab::device::Gpu) {
    use actlab::jit::HostModel;
    let h = gpu.handles().unwrap();
    let data = Data::upload(h, &dataset(prng::key(5), 4 * BATCH)).unwrap();
    let acts = [Builtin::Tanh, Builtin::Relu, Builtin::Swish];
    let keys = [prng::key(1), prng::key(2), prng::key(3)];
    let configs: Vec<TrainConfig> = acts.iter().map(|&a| config(a, adam())).collect();
    let stack = Program::compile(h, &configs, BATCH, None).unwrap();
    let (stacked, state) = jit_losses(&stack, &keys, &data, prng::key(9), 20).await;
    let fresh = StackState::init(&stack, &keys).unwrap();
    for (k, cfg) in configs.iter().enumerate() {
        let alone = TrainState::init(keys[k], cfg.clone(), &gpu.device).unwrap();
        let expect = HostModel::of(&alone).await.unwrap();
        assert_eq!(fresh.model(k).await.unwrap(), expect);
    }
    for (k, cfg) in configs.iter().enumerate() {
        let single = Program::compile(h, std::slice::from_ref(cfg), BATCH, None).unwrap();
        let (losses, _) = jit_losses(&single, &keys[k..=k], &data, prng::key(9), 20).await;
        let a: Vec<f32> = stacked.iter().map(|l| l[k]).collect();
        let b: Vec<f32> = losses.iter().map(|l| l[0]).collect();
        assert_close(&format!("{:?} in a stack vs alone", cfg.activation), &a, &b);
    }
    assert_eq!(state.step(), 20);
}
