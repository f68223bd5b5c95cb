//! The tutorial command (`examples/tutorial.rs`) for 2 epochs on two activations, on real
//! FashionMNIST, on the CPU: one progress line per epoch, one JSON object per activation with
//! the fields the issue names, and ReLU above 84% test accuracy.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../examples/tutorial.rs"]
mod tutorial;

use actlab::data::FashionMnist;

#[test]
fn two_epochs_of_relu_and_tanh_print_the_table_and_relu_passes_84_percent() {
    let dir = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let data =
        FashionMnist::load_dir(dir.as_ref()).expect("FashionMNIST (scripts/setup.sh installs it)");
    let args = "--epochs 2 --activations relu,tanh --init lecun_uniform --seed 42 --json";
    let opts = tutorial::parse(args.split(' ').map(String::from)).unwrap();
    let mut lines = Vec::new();
    let rows = tutorial::run(&opts, &data, |l| lines.push(l.to_string())).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("epoch  2") && lines[1].contains("relu loss"));
    let names: Vec<&str> = rows.iter().map(|r| r.activation.name()).collect();
    assert_eq!(names, ["relu", "tanh"]);
    for r in &rows {
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        for field in [
            "activation",
            "best_epoch",
            "val_accuracy",
            "test_accuracy",
            "published_jax",
        ] {
            assert!(v.get(field).is_some(), "{field} missing from {v}");
        }
        assert!((1..=2).contains(&r.best_epoch));
    }
    let relu = &rows[0];
    println!("{}", tutorial::table(&rows));
    assert!(
        relu.test_accuracy > 0.84,
        "ReLU after 2 epochs: {}",
        relu.test_accuracy
    );
    assert_eq!(tutorial::table(&rows).lines().count(), 4);
    assert!(tutorial::parse(["--device".into(), "tpu".into()]).is_err());
    assert!(tutorial::parse(["--activations".into(), "nope".into()]).is_err());
}
