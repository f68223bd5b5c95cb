//! Accuracy on the real FashionMNIST (Debian's `dataset-fashion-mnist`, or `$FASHION_MNIST_DIR`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::data::{FashionMnist, epoch_batches, train_val_split};
use actlab::device;
use actlab::init::{BiasInit, KernelInit};
use actlab::prng::{key, split};
use actlab::train::{TrainConfig, TrainState, eval_step, train_step};
use common::block_on;

fn data_dir() -> std::path::PathBuf {
    std::env::var_os("FASHION_MNIST_DIR")
        .map(Into::into)
        .unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into())
}

#[test]
fn relu_mlp_reaches_80_percent_test_accuracy_after_one_epoch() {
    let data = FashionMnist::load_dir(&data_dir()).unwrap_or_else(|e| {
        panic!("{e}\nFashionMNIST is needed: `apt-get install dataset-fashion-mnist` (scripts/setup.sh does it) or set FASHION_MNIST_DIR")
    });
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    let dev = device::cpu();
    let k = split(key(42), 3);
    let (train, val) = train_val_split(&data.train, k[1]);
    assert_eq!((train.len(), val.len()), (50_000, 10_000));
    // The tutorial's SGD (lr 1e-2, momentum 0.9, batch 256) with Flax's lecun_uniform and zero
    // biases. (PyTorch's default bound, 1/sqrt(fan_in), starts slower on this deep ReLU net: about
    // 73% after the first epoch, catching up over the following epochs.)
    let config = TrainConfig {
        kernel_init: KernelInit::LecunUniform,
        bias_init: BiasInit::Zeros,
        ..TrainConfig::default()
    };
    let mut state = TrainState::init(k[0], config, &dev).unwrap();
    let start = std::time::Instant::now();
    let order = epoch_batches(k[2], train.len(), 256);
    for idx in &order {
        state = train_step(&state, &train.batch(idx, &dev)).unwrap().0;
    }
    let per_step = start.elapsed().as_secs_f64() * 1e3 / order.len() as f64;
    let mut correct = 0.0;
    for idx in data.test.eval_batches(1000) {
        let m = block_on(
            eval_step(&state, &data.test.batch(&idx, &dev))
                .unwrap()
                .read(),
        )
        .unwrap();
        correct += m.accuracy as f64 * idx.len() as f64;
    }
    let accuracy = correct / data.test.len() as f64;
    println!(
        "one epoch ({} steps, {per_step:.1} ms/step on Flex): test accuracy {:.2}%",
        order.len(),
        100.0 * accuracy
    );
    assert!(
        accuracy >= 0.80,
        "test accuracy {accuracy} after one epoch is below 80%"
    );
}
