//! The compiled step (`jit`) against the Burn path, natively on wgpu (lavapipe where there is
//! no GPU): same key, same batches, same losses to 1e-5 relative over 50 steps, for every
//! built-in activation and a custom formula with SGD and Adam; a stack's model k equals that model alone; one model taken
//! out of a stack through a checkpoint and put back trains on unchanged. The shared checks are
//! in `common/jit.rs` (the browser runs them too, `tests/wasm.rs`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::OnceLock;

use actlab::activation::{Activation, Builtin};
use actlab::data::DeviceDataset;
use actlab::device::{Gpu, shared_gpu};
use actlab::jit::{self, Data, Program, StackState};
use actlab::optim::Optimizer;
use actlab::prng;
use actlab::train::{self, TrainConfig, TrainState};
use common::jit::*;

/// One GPU per test process: Burn keeps one runtime per adapter.
fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| pollster::block_on(shared_gpu()).expect("a wgpu adapter (lavapipe)"))
}

/// Every built-in, and formulas of the user's own, in one stack.
fn every_activation() -> Vec<Activation> {
    let mut acts: Vec<Activation> = Builtin::ALL.iter().map(|&b| b.into()).collect();
    acts.push(Activation::parse("x * tanh(softplus(x)) - 0.1 * x^2 / (1 + x^2)", &[]).unwrap());
    acts.push(Activation::parse("where(x > a, x, a * min(x, 2))", &[("a", 0.2)]).unwrap());
    acts
}

#[test]
fn compiled_step_matches_burn_path_sgd() {
    pollster::block_on(all_match_burn(
        gpu(),
        Optimizer::default(),
        &every_activation(),
    ));
}

#[test]
fn compiled_step_matches_burn_path_adam() {
    pollster::block_on(all_match_burn(gpu(), adam(), &every_activation()));
}

#[test]
fn stacked_model_equals_the_model_alone() {
    pollster::block_on(stack_equals_models_alone(gpu()));
}

#[test]
fn a_model_taken_out_through_a_checkpoint_and_put_back_trains_on_unchanged() {
    pollster::block_on(model_out_and_back(gpu()));
}

#[test]
fn evaluation_and_predictions_match_the_burn_path() {
    let g = gpu();
    let h = g.handles().unwrap();
    let raw = dataset(prng::key(13), 100);
    let data = Data::upload(h, &raw).unwrap();
    let cfg = config(Builtin::LeakyRelu, Optimizer::default());
    let program = Program::compile(h, std::slice::from_ref(&cfg), BATCH, None).unwrap();
    let key = prng::key(8);
    let state = StackState::init(&program, &[key]).unwrap();
    let burn = TrainState::init(key, cfg.clone(), &g.device).unwrap();
    let on_device = DeviceDataset::upload(&raw, &g.device);
    // The last chunk is partial (100 = 3 x 32 + 4): rows past it must not count.
    let chunks = data.chunks(BATCH).unwrap();
    assert_eq!(chunks.len(), 4);
    let metrics = jit::eval_steps(&state, &chunks).unwrap();
    let values = pollster::block_on(jit::read_metrics(&metrics)).unwrap();
    for (i, v) in values.iter().enumerate() {
        let n = chunks[i].len();
        let batch = on_device.range(i * BATCH, n).unwrap();
        let m = pollster::block_on(train::eval_step(&burn, &batch).unwrap().read()).unwrap();
        assert_close(&format!("eval loss of chunk {i}"), &[v[0].loss], &[m.loss]);
        assert_eq!(v[0].accuracy, m.accuracy, "eval accuracy of chunk {i}");
        let classes = pollster::block_on(jit::predict(&state, &chunks[i])).unwrap();
        let expect =
            pollster::block_on(train::read_classes(train::predict(&burn, &batch).unwrap()))
                .unwrap();
        assert_eq!(classes[0], expect, "predictions of chunk {i}");
    }
}

#[test]
fn bad_stacks_and_batches_are_errors() {
    let g = gpu();
    let h = g.handles().unwrap();
    let relu = config(Builtin::Relu, Optimizer::default());
    let mut wider = relu.clone();
    wider.mlp.hidden = vec![64, 24];
    let err = |r: Result<std::sync::Arc<Program>, actlab::Error>| r.unwrap_err().to_string();
    assert!(err(Program::compile(h, &[], BATCH, None)).contains("at least one model"));
    assert!(
        err(Program::compile(h, &[relu.clone(), wider], BATCH, None)).contains("same layer sizes")
    );
    assert!(
        err(Program::compile(
            h,
            &[relu.clone(), config(Builtin::Relu, adam())],
            BATCH,
            None
        ))
        .contains("optimizer")
    );
    assert!(err(Program::compile(h, std::slice::from_ref(&relu), 0, None)).contains("batch"));
    let one = std::slice::from_ref(&relu);
    let no_rows = jit::Tiling {
        rows: 0,
        ..jit::Tiling::SOFTWARE_BUFFERS
    };
    assert!(err(Program::compile(h, one, BATCH, Some(no_rows))).contains("one output each way"));
    let odd_texels = jit::Tiling {
        rows: 6,
        ..jit::Tiling::SOFTWARE
    };
    assert!(err(Program::compile(h, one, BATCH, Some(odd_texels))).contains("multiples of 4"));
    assert!(
        err(Program::compile(
            h,
            std::slice::from_ref(&relu),
            1 << 28,
            None
        ))
        .contains("batch size")
    );
    let program = Program::compile(h, std::slice::from_ref(&relu), BATCH, None).unwrap();
    assert!(
        StackState::init(&program, &[])
            .unwrap_err()
            .to_string()
            .contains("keys")
    );
    let data = Data::upload(h, &dataset(prng::key(1), 2 * BATCH)).unwrap();
    assert!(data.range(0, 0).is_err() && data.range(60, 5).is_err());
    assert!(data.epoch(prng::key(1), 0).is_err());
    let epoch = data.epoch(prng::key(1), BATCH).unwrap();
    assert!(epoch.batch(2).unwrap_err().to_string().contains("batch 2"));
    let state = StackState::init(&program, &[prng::key(1)]).unwrap();
    let too_big = data.range(0, BATCH + 1).unwrap();
    assert!(
        jit::eval_step(&state, &too_big)
            .unwrap_err()
            .to_string()
            .contains("at most")
    );
    let model = pollster::block_on(state.model(0)).unwrap();
    let mut later = model.clone();
    later.step = 3;
    assert!(
        state
            .with_model(0, &later)
            .unwrap_err()
            .to_string()
            .contains("lockstep")
    );
}

#[test]
fn every_tiling_computes_the_same_step() {
    // Unrolling, spreading columns and reading operands from textures keep each output's sum
    // in order (same bits); splitting the inner loop across invocations (GPUs' tiling, which
    // lavapipe checks here) regroups it (1e-5).
    let h = gpu().handles().unwrap();
    let data = Data::upload(h, &dataset(prng::key(21), 4 * BATCH)).unwrap();
    let configs: Vec<TrainConfig> = [Builtin::Elu, Builtin::Sigmoid]
        .iter()
        .map(|&a| config(a, adam()))
        .collect();
    let keys = [prng::key(1), prng::key(2)];
    let run = |t: jit::Tiling| {
        let p = Program::compile(h, &configs, BATCH, Some(t)).unwrap();
        assert_eq!(p.tiling(), t);
        let (losses, state) = pollster::block_on(jit_losses(&p, &keys, &data, prng::key(3), 6));
        (losses, pollster::block_on(state.to_host()).unwrap())
    };
    let reference = run(jit::Tiling::SOFTWARE_BUFFERS);
    assert_eq!(run(jit::Tiling::SOFTWARE), reference);
    let small_texture_tiles = jit::Tiling {
        rows: 4,
        cols: 4,
        y: 2,
        ..jit::Tiling::SOFTWARE
    };
    assert_eq!(run(small_texture_tiles), reference);
    let unrolled = jit::Tiling {
        split: 1,
        unroll: 8,
        ..jit::Tiling::GPU
    };
    assert_eq!(run(unrolled), reference);
    let spread = jit::Tiling {
        spread: true,
        unroll: 1,
        ..jit::Tiling::SOFTWARE_BUFFERS
    };
    assert_eq!(run(spread), reference);
    let (losses, _) = run(jit::Tiling::GPU);
    for k in 0..2 {
        let a: Vec<f32> = losses.iter().map(|l| l[k]).collect();
        let b: Vec<f32> = reference.0.iter().map(|l| l[k]).collect();
        assert_close("split tiling", &a, &b);
    }
}

#[test]
fn textures_pad_odd_layer_widths_and_batches() {
    // Layer widths and a batch that are not multiples of 4: the textures' padded texels and
    // rows and the bias column inside a texel must leave every sum as the buffers' (same bits).
    let h = gpu().handles().unwrap();
    let batch = 30;
    let data = Data::upload(h, &dataset(prng::key(23), 3 * batch)).unwrap();
    let mut cfg = config(Builtin::Swish, adam());
    cfg.mlp.hidden = vec![45, 22];
    let run = |t: jit::Tiling| {
        let p = Program::compile(h, &[cfg.clone(), cfg.clone()], batch, Some(t)).unwrap();
        let epoch = data.epoch(prng::key(4), batch).unwrap();
        let mut state = StackState::init(&p, &[prng::key(5), prng::key(6)]).unwrap();
        let mut metrics = Vec::new();
        for i in 0..5 {
            let b = epoch.batch(i % epoch.batches()).unwrap();
            let (next, m) = jit::train_step(state, &b).unwrap();
            state = next;
            metrics.push(m);
        }
        // A short last batch (fewer rows than the program's) through eval and predict too.
        let tail = data.range(3 * batch - 7, 7).unwrap();
        let eval = jit::eval_step(&state, &tail).unwrap();
        metrics.push(eval);
        let predicted = pollster::block_on(jit::predict(&state, &tail)).unwrap();
        let values = pollster::block_on(jit::read_metrics(&metrics)).unwrap();
        let host = pollster::block_on(state.to_host()).unwrap();
        (format!("{values:?}"), predicted, host)
    };
    let textures = run(jit::Tiling::SOFTWARE);
    assert_eq!(textures, run(jit::Tiling::SOFTWARE_BUFFERS));
    assert!(textures.0.contains("loss"));
}

/// Seeds in one stack (the tutorial command's `--seeds`): 2 activations x 3 seeds of the
/// notebook's PRNG, each model equal to its run alone (same keys, same batches).
#[test]
fn seeds_in_one_stack_equal_each_run_alone() {
    let g = gpu();
    let h = g.handles().unwrap();
    let data = Data::upload(h, &dataset(prng::key(6), 4 * BATCH)).unwrap();
    let seeds = [42u64, 43, 44];
    let mut configs = Vec::new();
    let mut keys = Vec::new();
    for a in [Builtin::Tanh, Builtin::Relu] {
        for &s in &seeds {
            configs.push(config(a, Optimizer::default()));
            keys.push(prng::key_legacy(s));
        }
    }
    let order = prng::key_legacy(7);
    let stack = Program::compile(h, &configs, BATCH, None).unwrap();
    let (stacked, _) = pollster::block_on(jit_losses(&stack, &keys, &data, order, 12));
    for (k, cfg) in configs.iter().enumerate() {
        let single = Program::compile(h, std::slice::from_ref(cfg), BATCH, None).unwrap();
        let (alone, _) = pollster::block_on(jit_losses(&single, &keys[k..=k], &data, order, 12));
        let a: Vec<f32> = stacked.iter().map(|l| l[k]).collect();
        let b: Vec<f32> = alone.iter().map(|l| l[0]).collect();
        assert_close(&format!("model {k} in a stack of seeds vs alone"), &a, &b);
    }
    // Different seeds, different starts.
    assert_ne!(stacked[0][0], stacked[0][1]);
}
