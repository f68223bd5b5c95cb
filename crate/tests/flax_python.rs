//! "Continue in JAX", checked with real JAX and Flax: a model with an activation of the user's
//! own (a formula with a parameter) trains a few steps, is saved as a checkpoint, and
//! `examples/flax/load_actlab.py` rebuilds the same function in JAX from the formula the
//! checkpoint records: its logits equal ActLab's to 1e-4 of the largest logit.
//!
//! Python comes from the venv that `scripts/setup.sh` makes (`$ACTLAB_VENV`, default
//! `~/.cache/actlab/venv`, with `jax` and `flax` from PyPI). Without it the test says so and
//! passes, except under `CI`, where it fails.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::PathBuf;
use std::process::Command;

use actlab::activation::Activation;
use actlab::checkpoint::Checkpoint;
use actlab::device;
use actlab::mlp::{MlpConfig, apply, read_f32};
use actlab::prng::key;
use actlab::train::{TrainConfig, TrainState, train_step};
use burn::tensor::{Tensor, TensorData};
use common::{block_on, toy_batch};

/// The venv's Python, if there is one.
fn venv_python() -> Option<PathBuf> {
    let dir = std::env::var("ACTLAB_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/actlab/venv")
        });
    let python = dir.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no Python venv with JAX at {} (scripts/setup.sh makes it)",
        dir.display()
    );
    println!(
        "skipped: no Python venv with JAX at {} (scripts/setup.sh makes it)",
        dir.display()
    );
    None
}

fn floats_to_file(path: &std::path::Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_custom_activation_continues_in_jax_with_the_same_logits() {
    let Some(python) = venv_python() else { return };
    let dev = device::cpu();
    let act = Activation::new(
        "mine",
        "x * tanh(softplus(a * x)) + 0.05 * where(x < -1, x^2, abs(x))",
        [("a".to_string(), 1.3)],
    )
    .unwrap();
    let config = TrainConfig {
        mlp: MlpConfig {
            input: 784,
            hidden: vec![48, 24],
            output: 10,
        },
        activation: act.clone(),
        ..TrainConfig::default()
    };
    let (x, _, batch) = toy_batch(21, 64, 784, 10, &dev);
    let mut state = TrainState::init(key(3), config, &dev).unwrap();
    for _ in 0..5 {
        state = train_step(&state, &batch).unwrap().0;
    }
    let dir = std::env::temp_dir().join(format!("actlab-flax-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mine.actlab");
    let ckpt = block_on(Checkpoint::of(&state, key(0), "{}".into())).unwrap();
    std::fs::write(&file, ckpt.to_bytes()).unwrap();
    let inputs = dir.join("x.f32");
    floats_to_file(&inputs, &x);
    let logits_file = dir.join("logits.f32");
    let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [64, 784]), &dev);
    let ours = block_on(read_f32(apply(&state.params, input, &act))).unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/flax/load_actlab.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(&file)
        .arg("--inputs")
        .arg(&inputs)
        .arg("--logits")
        .arg(&logits_file)
        .env("JAX_PLATFORMS", "cpu")
        .output()
        .expect("run python");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "load_actlab.py failed:\n{said}");
    println!("{said}");
    let theirs: Vec<f32> = std::fs::read(&logits_file)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(theirs.len(), ours.len());
    let largest = ours.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(&theirs)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("JAX vs ActLab logits: worst difference {worst:e}, largest logit {largest}");
    assert!(
        worst <= 1e-4 * largest,
        "worst {worst} vs largest {largest}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The generated script (`jax::script`) with the exported parameters, run with real JAX on the
/// real test set: the test accuracy ActLab measured, to 0.1 point.
#[test]
fn the_generated_jax_script_gets_actlabs_test_accuracy() {
    use actlab::data::{DeviceDataset, FashionMnist, train_val_split};
    use actlab::init::{BiasInit, KernelInit};
    use actlab::prng::key_legacy;
    let Some(python) = venv_python() else { return };
    let dir = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let data = FashionMnist::load_dir(dir.as_ref()).unwrap();
    let dev = device::cpu();
    let config = TrainConfig {
        mlp: MlpConfig {
            input: 784,
            hidden: vec![64, 32],
            output: 10,
        },
        activation: Activation::new(
            "soft_leaky",
            "where(x > 0, x, a * x) + 0.1 * tanh(x)",
            [("a".to_string(), 0.05)],
        )
        .unwrap(),
        kernel_init: KernelInit::Tutorial,
        bias_init: BiasInit::Tutorial,
        ..TrainConfig::default()
    };
    let root = key_legacy(42);
    let (train, _) = train_val_split(&data.train, key(0));
    let on_dev = DeviceDataset::upload(&train.first(8192), &dev);
    let order = on_dev
        .epoch_order(actlab::prng::split(root, 2)[1], 256)
        .unwrap();
    let mut state = TrainState::init(root, config.clone(), &dev).unwrap();
    for i in 0..order.batches() {
        state = train_step(&state, &on_dev.gather(order.batch_indices(i).unwrap()))
            .unwrap()
            .0;
    }
    let test = DeviceDataset::upload(&data.test, &dev);
    let mut hits = 0.0;
    for start in (0..test.len()).step_by(1000) {
        let m = actlab::train::eval_step(&state, &test.range(start, 1000).unwrap()).unwrap();
        hits += block_on(m.read()).unwrap().accuracy as f64 * 1000.0;
    }
    let ours = hits / test.len() as f64;
    let out_dir = std::env::temp_dir().join(format!("actlab-jax-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let host = block_on(state.params.to_host()).unwrap();
    std::fs::write(
        out_dir.join("params.msgpack"),
        actlab::flax::to_bytes(&host),
    )
    .unwrap();
    let script = actlab::jax::script(&config, root.1, "params.msgpack", Some(ours));
    std::fs::write(out_dir.join("continue.py"), &script).unwrap();
    let out = Command::new(&python)
        .arg(out_dir.join("continue.py"))
        .arg("--data")
        .arg(&dir)
        .env("JAX_PLATFORMS", "cpu")
        .output()
        .expect("run python");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the generated script failed:\n{said}\n{script}"
    );
    println!("{said}");
    let theirs: f64 = said
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {said}"));
    println!("ActLab {:.2}%, JAX {theirs:.2}%", 100.0 * ours);
    assert!(
        (100.0 * ours - theirs).abs() <= 0.1,
        "ActLab {ours} vs JAX {theirs}"
    );
    std::fs::remove_dir_all(&out_dir).ok();
}
