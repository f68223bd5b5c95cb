//! Native benchmark: ms per train step (batch 256, the tutorial MLP, ReLU, SGD momentum) on
//! Burn's Flex CPU backend and on wgpu (Vulkan: lavapipe without a GPU, the real GPU with one),
//! measured in the same run, plus the first step (kernel compilation) and seconds per epoch.
//! Each device runs twice: batches assembled on the host and uploaded every step (the old
//! path), and batches gathered on the device from a dataset uploaded once (the path we use).
//!
//! `cargo run --release -p actlab --example bench -- [steps] [flex|wgpu|all]`

use std::time::Instant;

use actlab::data::{Dataset, DeviceDataset, FashionMnist, epoch_batches, train_val_split};
use actlab::device;
use actlab::prng::{key, split};
use actlab::train::{Batch, TrainConfig, TrainState, train_step};
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
    let order = epoch_batches(order_key, data.len(), 256);
    let host = |i: usize| data.batch(&order[i], dev);
    time_steps(&format!("{name}, host batches"), dev, steps, host);
    let on_device = DeviceDataset::upload(data, dev);
    let device_order = on_device.epoch_order(order_key, 256);
    let gathered = |i: usize| on_device.gather(device_order.batch_indices(i).expect("batch"));
    time_steps(&format!("{name}, device batches"), dev, steps, gathered);
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
    if which == "wgpu" || which == "all" {
        match pollster::block_on(device::gpu()) {
            Ok(dev) => bench("wgpu (default adapter)", &dev, &train, steps),
            Err(e) => println!("wgpu: {e}"),
        }
    }
}
