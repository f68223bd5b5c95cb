//! Memory that stays flat over a long run: the compiled stack trains the page's way (chunks of
//! 8 steps, one metrics readback each) on wgpu (lavapipe without a GPU), and the process's
//! resident memory is sampled. `ACTLAB_SOAK_STEPS=N` (default 2,000; `npm run soak`: 20,000).
#![cfg(target_os = "linux")]

mod common;

use actlab::activation::Builtin;
use actlab::device::shared_gpu;
use actlab::jit::{self, Data, Program, StackState};
use actlab::optim::Optimizer;
use actlab::prng::{fold_in, key};
use common::jit::{config, dataset};

/// Resident set size in bytes (`/proc/self/statm`, in pages of 4 KiB).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[test]
fn memory_stays_flat_over_a_long_run() {
    let steps: usize = std::env::var("ACTLAB_SOAK_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let gpu = pollster::block_on(shared_gpu()).expect("a wgpu adapter (lavapipe)");
    let h = gpu.handles().unwrap();
    let data = Data::upload(h, &dataset(key(3), 2048)).unwrap();
    let configs = [Builtin::Relu, Builtin::Tanh].map(|a| config(a, Optimizer::default()));
    let program = Program::compile(h, &configs, 64, None).unwrap();
    let mut state = StackState::init(&program, &[key(1), key(1)]).unwrap();
    let mut samples = vec![(0, rss())];
    let mut done = 0;
    for epoch in 1.. {
        let order = data.epoch(fold_in(key(2), epoch), 64).unwrap();
        for i in (0..order.batches()).step_by(8) {
            if done >= steps {
                break;
            }
            let batches: Vec<_> = (i..(i + 8).min(order.batches()))
                .map(|j| order.batch(j).unwrap())
                .collect();
            let (next, metrics) = jit::train_steps(state, &batches).unwrap();
            state = next;
            let values = pollster::block_on(jit::read_metrics(&metrics)).unwrap();
            assert!(
                values.iter().flatten().all(|m| m.loss.is_finite()),
                "a loss is not finite at step {done}"
            );
            done += batches.len();
            if done % 500 < 8 {
                samples.push((done, rss()));
            }
        }
        if done >= steps {
            break;
        }
    }
    samples.push((done, rss()));
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let warm = samples[2.min(samples.len() - 1)];
    let end = samples[samples.len() - 1];
    println!(
        "native soak: {done} steps; RSS {:.1} MiB at step {} -> {:.1} MiB at step {} ({} samples)",
        mib(warm.1),
        warm.0,
        mib(end.1),
        end.0,
        samples.len()
    );
    assert!(
        end.1 <= warm.1 + (32 << 20),
        "RSS grew from {:.1} to {:.1} MiB",
        mib(warm.1),
        mib(end.1)
    );
}
