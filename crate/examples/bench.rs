//! Native benchmark: ms per train step (batch 256, the tutorial MLP, ReLU, SGD momentum) on
//! Burn's Flex CPU backend and on wgpu (Vulkan: lavapipe without a GPU, the real GPU with one),
//! measured in the same run, plus the first step (kernel compilation) and seconds per epoch.
//! Each device runs twice: batches assembled on the host and uploaded every step (the old
//! path), and batches gathered on the device from a dataset uploaded once (the path we use).
//!
//! Then the compiled step (`jit`) on the same wgpu device: one model, and a stack of the six
//! activations (per *model*-step: a stack step counts six), one submit per step and 64 steps per
//! submit, with both matmul tilings. `host` is the calling thread's time inside the step calls
//! (encoding and submitting); the rest of `wall` is the GPU.
//!
//! `profile` prints each compiled kernel's GPU time alone (µs per dispatch, `steps` dispatches
//! each, at most 200), for one model and a stack of six, under several tilings.
//!
//! `cargo run --release -p actlab --example bench -- [steps] [flex|wgpu|jit|profile|all]`

use std::time::Instant;

use actlab::activation::{Activation, TUTORIAL};
use actlab::data::{Batch, Dataset, DeviceDataset, FashionMnist, epoch_batches, train_val_split};
use actlab::device;
use actlab::jit::{self, Program, StackState, Tiling};
use actlab::prng::{key, split};
use actlab::train::{TrainConfig, TrainState, train_step};
use burn::tensor::Device;

/// Times `steps` train steps after a first (compiling) one; `batch(i)` makes the i-th batch.
fn time_steps(name: &str, dev: &Device, steps: usize, batch: impl Fn(usize) -> Batch) {
    let k = split(key(0), 2);
    let mut state = TrainState::init(k[0], TrainConfig::default(), dev).expect("init");
    let t0 = Instant::now();
    let (next, m) = train_step(&state, &batch(0)).expect("step");
    pollster::block_on(m.read()).expect("read");
    let first = t0.elapsed().as_secs_f64() * 1e3;
    state = next;
    let t1 = Instant::now();
    let mut last = None;
    for i in 1..=steps {
        let (next, m) = train_step(&state, &batch(i)).expect("step");
        state = next;
        last = Some(m);
    }
    // One readback at the end waits for the whole queue: steps are not synchronised one by one.
    let loss = pollster::block_on(last.expect("steps > 0").read())
        .expect("read")
        .loss;
    let ms = t1.elapsed().as_secs_f64() * 1e3 / steps as f64;
    println!(
        "{name:<34} first step {first:>9.1} ms   {ms:>8.2} ms/step   {:>7.2} s/epoch (195 steps)   final loss {loss:.4}",
        ms * 195.0 / 1e3
    );
}

fn bench(name: &str, dev: &Device, data: &Dataset, steps: usize) {
    let order_key = split(key(0), 2)[1];
    let order = epoch_batches(order_key, data.len(), 256).expect("batch size");
    let host = |i: usize| data.batch(&order[i], dev).expect("batch");
    time_steps(&format!("{name}, host batches"), dev, steps, host);
    let on_device = DeviceDataset::upload(data, dev);
    let device_order = on_device.epoch_order(order_key, 256).expect("batch size");
    let gathered = |i: usize| on_device.gather(device_order.batch_indices(i).expect("batch"));
    time_steps(&format!("{name}, device batches"), dev, steps, gathered);
}

/// The compiled step: `models` copies of the tutorial MLP (the six activations in turn), `per`
/// steps per submit.
fn bench_jit(
    gpu: &device::Gpu,
    data: &Dataset,
    steps: usize,
    models: usize,
    tiling: Tiling,
    per: usize,
) {
    let h = match gpu.handles() {
        Ok(h) => h,
        Err(e) => return println!("jit: {e}"),
    };
    let configs: Vec<TrainConfig> = (0..models)
        .map(|i| TrainConfig {
            activation: Activation::builtin(TUTORIAL[i % 6]),
            ..TrainConfig::default()
        })
        .collect();
    let t0 = Instant::now();
    let program = Program::compile(h, &configs, 256, Some(tiling)).expect("compile");
    let up = jit::Data::upload(h, data).expect("upload");
    let epoch = up.epoch(split(key(0), 2)[1], 256).expect("epoch");
    let mut state = StackState::init(&program, &vec![split(key(0), 2)[0]; models]).expect("init");
    let (next, m) = jit::train_step(state, &epoch.batch(0).expect("batch")).expect("step");
    pollster::block_on(jit::read_metrics(&[m])).expect("read");
    let first = t0.elapsed().as_secs_f64() * 1e3;
    state = next;
    let batches: Vec<_> = (1..=steps)
        .map(|i| epoch.batch(i % epoch.batches()).expect("batch"))
        .collect();
    let t1 = Instant::now();
    let mut host = 0.0;
    let mut last = Vec::new();
    for chunk in batches.chunks(per) {
        let t = Instant::now();
        let (next, m) = jit::train_steps(state, chunk).expect("steps");
        host += t.elapsed().as_secs_f64();
        state = next;
        last = m;
    }
    let values = pollster::block_on(jit::read_metrics(&last[last.len() - 1..])).expect("read");
    let wall = t1.elapsed().as_secs_f64() * 1e3 / (steps * models) as f64;
    let host = host * 1e3 / (steps * models) as f64;
    let losses: Vec<String> = values[0].iter().map(|v| format!("{:.3}", v.loss)).collect();
    println!(
        "jit {models} model(s), {tiling:?}, {per}/submit: first step {first:>8.1} ms   {wall:>7.3} ms/model-step   host {host:>6.3} ms/model-step   {:.2} dispatches/model-step   {:.3} submits/model-step   losses {}",
        program.dispatches_per_step() as f64 / models as f64,
        1.0 / (per.min(steps) * models) as f64,
        losses.join(" ")
    );
}

/// Each kernel of the compiled step alone: where the GPU time goes.
fn profile_jit(gpu: &device::Gpu, data: &Dataset, models: usize, tiling: Tiling, reps: usize) {
    let Ok(h) = gpu.handles() else { return };
    let configs: Vec<TrainConfig> = (0..models)
        .map(|i| TrainConfig {
            activation: Activation::builtin(TUTORIAL[i % 6]),
            ..TrainConfig::default()
        })
        .collect();
    let t0 = Instant::now();
    let program = Program::compile(h, &configs, 256, Some(tiling)).expect("compile");
    let compile = t0.elapsed().as_secs_f64() * 1e3;
    let up = jit::Data::upload(h, data).expect("upload");
    let batch = up
        .epoch(key(0), 256)
        .expect("epoch")
        .batch(0)
        .expect("batch");
    let mut state = StackState::init(&program, &vec![key(0); models]).expect("init");
    let times = state.profile(&batch, reps).expect("profile");
    let total: f64 = times.iter().map(|t| t.1).sum();
    let each: Vec<String> = times.iter().map(|(n, us)| format!("{n} {us:.1}")).collect();
    println!(
        "profile, {models} model(s), {:?}: compiled in {compile:.0} ms, {total:.1} us/step in all; us per dispatch: {}",
        program.tiling(),
        each.join(", ")
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let which = args.next().unwrap_or_else(|| "all".into());
    let dir = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let data = FashionMnist::load_dir(dir.as_ref()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let (train, _) = train_val_split(&data.train, key(1));
    let steps = steps.clamp(1, train.len() / 256 - 1);
    println!("MLP 784-512-256-256-128-10, ReLU, SGD momentum, batch 256, {steps} timed steps");
    if which == "flex" || which == "all" {
        bench("flex (CPU)", &device::cpu(), &train, steps);
    }
    if ["wgpu", "jit", "profile", "all"].contains(&which.as_str()) {
        let gpu = match pollster::block_on(device::shared_gpu()) {
            Ok(gpu) => gpu,
            Err(e) => return println!("wgpu: {e}"),
        };
        if let Some(h) = &gpu.wgpu {
            let info = h.device.adapter_info();
            println!(
                "adapter: {} ({:?}, {})",
                info.name, info.backend, info.driver
            );
        }
        if which == "profile" {
            // On a software adapter (SwiftShader natively: VK_ICD_FILENAMES), the CPU-shaped
            // variants; on a GPU, the split and unrolled ones.
            let soft = gpu.handles().map(|h| h.is_software()).unwrap_or(false);
            let t = |unroll, split, spread| Tiling {
                unroll,
                split,
                spread,
                ..Tiling::GPU
            };
            let tilings = if soft {
                // Textures (8x8, 8x4 and 4x4 outputs an invocation) against storage buffers.
                let tile = |rows, cols| Tiling {
                    rows,
                    cols,
                    ..Tiling::SOFTWARE
                };
                vec![
                    Tiling::SOFTWARE,
                    tile(8, 4),
                    tile(4, 4),
                    Tiling::SOFTWARE_BUFFERS,
                ]
            } else {
                vec![Tiling::GPU, t(4, 4, true), t(8, 4, false), t(4, 2, false)]
            };
            for tiling in tilings {
                for models in [1, 6] {
                    profile_jit(&gpu, &train, models, tiling, steps.min(200));
                }
            }
            return;
        }
        if which != "jit" {
            bench("wgpu (default adapter)", &gpu.device, &train, steps);
        }
        for tiling in [Tiling::GPU, Tiling::SOFTWARE] {
            for models in [1, 6] {
                for per in [1, 64] {
                    bench_jit(&gpu, &train, steps, models, tiling, per);
                }
            }
        }
    }
}
