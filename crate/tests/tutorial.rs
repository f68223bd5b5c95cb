//! The tutorial command (`examples/tutorial.rs`) on real FashionMNIST, on the CPU: 2 epochs of
//! two activations (one progress line per epoch, one JSON object per activation with the fields
//! the docs name, ReLU above 84% test accuracy), the notebook's own dead-neuron counts of the
//! untrained ReLU networks, and seeds.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../examples/tutorial.rs"]
mod tutorial;

use actlab::data::FashionMnist;

fn data() -> FashionMnist {
    let dir = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    FashionMnist::load_dir(dir.as_ref()).expect("FashionMNIST (scripts/setup.sh installs it)")
}

fn opts(args: &str) -> tutorial::Options {
    tutorial::parse(args.split(' ').map(String::from)).unwrap()
}

#[test]
fn two_epochs_of_relu_and_tanh_print_the_table_and_relu_passes_84_percent() {
    let data = data();
    let o = opts(
        "--epochs 2 --activations relu,tanh --init lecun_uniform --prng default --seed 42 --json",
    );
    let mut lines = Vec::new();
    let rows = tutorial::run(&o, &data, |l| lines.push(l.to_string())).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("epoch  2") && lines[1].contains("relu loss"));
    let names: Vec<&str> = rows.iter().map(|r| r.activation.name()).collect();
    assert_eq!(names, ["relu", "tanh"]);
    for r in &rows {
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        for field in [
            "activation",
            "formula",
            "seed",
            "best_epoch",
            "val_accuracy",
            "test_accuracy",
            "published_jax",
            "published_torch",
        ] {
            assert!(v.get(field).is_some(), "{field} missing from {v}");
        }
        assert!((1..=2).contains(&r.best_epoch.unwrap()));
    }
    let relu = &rows[0];
    println!("{}", tutorial::table(&rows));
    assert!(
        relu.test_accuracy.unwrap() > 0.84,
        "ReLU after 2 epochs: {:?}",
        relu.test_accuracy
    );
    assert_eq!(tutorial::table(&rows).lines().count(), 4);
    assert!(tutorial::parse(["--device".into(), "tpu".into()]).is_err());
    assert!(tutorial::parse(["--activations".into(), "nope".into()]).is_err());
    assert!(tutorial::parse(["--seeds".into(), "17".into()]).is_err());
    assert!(tutorial::parse(["--formula".into(), "mine:x +".into()]).is_err());
}

/// The notebook printed these counts of its untrained ReLU networks; with its init and PRNG,
/// from `PRNGKey(42)`, over all 60,000 training images JAX gives them exactly.
#[test]
fn the_notebooks_dead_neuron_counts_at_initialisation() {
    let data = data();
    for (hidden, want) in [
        ("512,256,256,128", vec![0, 0, 3, 7]),
        (
            "256,256,256,256,256,128,128,128,128,128",
            vec![0, 0, 1, 19, 75, 53, 71, 57, 64, 69],
        ),
    ] {
        let o = opts(&format!(
            "--dead-neurons --hidden {hidden} --activations relu --init tutorial --prng legacy --seed 42 --epochs 0 --val-size 0 --json"
        ));
        let rows = tutorial::run(&o, &data, |_| ()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&rows[0].json()).unwrap();
        println!("{}", rows[0].json());
        assert_eq!(
            v["dead_neurons"],
            serde_json::json!(want),
            "hidden {hidden}"
        );
    }
}

/// Seeds: every activation over N seeds, with the mean, min, max and the seeds that escaped
/// random performance; the statistics at init and after training.
#[test]
fn seeds_and_statistics_per_layer() {
    let data = data();
    let o = opts(
        "--epochs 1 --activations sigmoid,relu --hidden 32 --seeds 2 --val-size 1000 --dead-neurons --gradients --activation-stats",
    );
    let rows = tutorial::run(&o, &data, |_| ()).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        [42, 43, 42, 43]
    );
    let v: serde_json::Value = serde_json::from_str(&rows[2].json()).unwrap();
    for f in [
        "dead_neurons",
        "dead_neurons_init",
        "gradients",
        "gradients_init",
        "activation_stats",
        "activation_stats_init",
    ] {
        assert!(v.get(f).is_some(), "{f} missing from {v}");
    }
    assert_eq!(v["gradients"].as_array().unwrap().len(), 2);
    let counts: u64 = v["activation_stats"][0]["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counts, 1024 * 32);
    let sums = tutorial::summaries(&rows);
    assert_eq!(sums.len(), 2);
    assert!(sums[1].mean > 0.6 && sums[1].min <= sums[1].max && sums[1].escaped == 2);
    assert!(tutorial::table(&rows).contains("escaped random"));
}

/// `--seeds` on the GPU path: 2 activations x 2 seeds in one compiled stack (lavapipe without a
/// GPU), the same kind of rows as on the CPU.
#[test]
fn seeds_train_in_one_compiled_stack_on_the_gpu() {
    let data = data();
    let o = opts(
        "--device wgpu --epochs 1 --activations tanh,relu --hidden 32 --seeds 2 --val-size 1000 --dead-neurons",
    );
    let rows = tutorial::run(&o, &data, |_| ()).unwrap();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert!(
            r.test_accuracy.unwrap() > 0.5,
            "{}/{}: {:?}",
            r.activation.name(),
            r.seed,
            r.test_accuracy
        );
        assert_eq!(
            r.trained
                .as_ref()
                .unwrap()
                .dead_neurons
                .as_ref()
                .unwrap()
                .len(),
            1
        );
    }
    assert_ne!(
        rows[0].test_accuracy, rows[1].test_accuracy,
        "two seeds, two runs"
    );
}
