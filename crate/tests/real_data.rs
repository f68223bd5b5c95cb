//! Accuracy on the real FashionMNIST (Debian's `dataset-fashion-mnist`, or `$FASHION_MNIST_DIR`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::data::{DeviceDataset, FashionMnist, train_val_split};
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
    // The images live on the device; batches are gathered there (the browser's path).
    let (train, test) = (
        DeviceDataset::upload(&train, &dev),
        DeviceDataset::upload(&data.test, &dev),
    );
    let start = std::time::Instant::now();
    let order = train.epoch_order(k[2], 256).unwrap();
    for i in 0..order.batches() {
        let batch = train.gather(order.batch_indices(i).unwrap());
        state = train_step(&state, &batch).unwrap().0;
    }
    let per_step = start.elapsed().as_secs_f64() * 1e3 / order.batches() as f64;
    let mut correct = 0.0;
    for start in (0..test.len()).step_by(1000) {
        let batch = test.range(start, 1000).unwrap();
        let m = block_on(eval_step(&state, &batch).unwrap().read()).unwrap();
        correct += m.accuracy as f64 * 1000.0;
    }
    let accuracy = correct / test.len() as f64;
    println!(
        "one epoch ({} steps, {per_step:.1} ms/step on Flex): test accuracy {:.2}%",
        order.batches(),
        100.0 * accuracy
    );
    assert!(
        accuracy >= 0.80,
        "test accuracy {accuracy} after one epoch is below 80%"
    );
}
