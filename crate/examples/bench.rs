//! Native benchmark: ms per train step (batch 256, the tutorial MLP, ReLU, SGD momentum) on
//! Burn's Flex CPU backend and on wgpu (Vulkan: lavapipe without a GPU, the real GPU with one),
//! measured in the same run, plus the first step (kernel compilation) and seconds per epoch.
//!
//! `cargo run -p actlab --example bench -- [steps] [flex|wgpu|all]`

use std::time::Instant;

use actlab::data::{FashionMnist, epoch_batches, train_val_split};
use actlab::device;
use actlab::prng::{key, split};
use actlab::train::{TrainConfig, TrainState, train_step};
use burn::tensor::Device;

fn bench(name: &str, dev: &Device, data: &actlab::data::Dataset, steps: usize) {
    let k = split(key(0), 2);
    let order = epoch_batches(k[1], data.len(), 256);
    let batches: Vec<_> = order
        .iter()
        .take(steps + 1)
        .map(|i| data.batch(i, dev))
        .collect();
    let mut state = TrainState::init(k[0], TrainConfig::default(), dev).expect("init");
    let t0 = Instant::now();
    let (next, m) = train_step(&state, &batches[0]).expect("step");
    pollster::block_on(m.read()).expect("read");
    let first = t0.elapsed().as_secs_f64() * 1e3;
    state = next;
    let t1 = Instant::now();
    let mut last = None;
    for b in &batches[1..] {
        let (next, m) = train_step(&state, b).expect("step");
        state = next;
        last = Some(m);
    }
    // One readback at the end waits for the whole queue: steps are not synchronised one by one.
    let loss = pollster::block_on(last.expect("steps > 0").read())
        .expect("read")
        .loss;
    let ms = t1.elapsed().as_secs_f64() * 1e3 / steps as f64;
    println!(
        "{name:<22} first step {first:>9.1} ms   {ms:>8.2} ms/step   {:>7.2} s/epoch (195 steps)   final loss {loss:.4}",
        ms * 195.0 / 1e3
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
    println!("MLP 784-512-256-256-128-10, ReLU, SGD momentum, batch 256, {steps} timed steps");
    if which == "flex" || which == "all" {
        bench("flex (CPU)", &device::cpu(), &train, steps);
    }
    if which == "wgpu" || which == "all" {
        match pollster::block_on(device::gpu()) {
            Ok(dev) => bench("wgpu (default adapter)", &dev, &train, steps),
            Err(e) => println!("wgpu: {e}"),
        }
    }
}
