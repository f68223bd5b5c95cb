//! Checkpoints and the Flax export, natively on the CPU: Flax's own bytes (a fixture written by
//! `flax.serialization.to_bytes`), exact round trips, training that continues identically after
//! a restore, and a clear error for every kind of bad file.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::activation::{Activation, Builtin};
use actlab::checkpoint::{Checkpoint, VERSION};
use actlab::error::CheckpointError;
use actlab::init::{BiasInit, KernelInit};
use actlab::mlp::{MlpConfig, Params};
use actlab::optim::Optimizer;
use actlab::prng::key;
use actlab::train::{TrainConfig, TrainState, train_step};
use actlab::{device, flax};
use common::{block_on, toy_batch};

/// Written by `fixtures/gen_flax_msgpack.py` (jax 0.10.2, flax 0.12.8).
const FLAX_FIXTURE: &[u8] = include_bytes!("fixtures/flax_mlp_3-4-2_seed0.msgpack");

#[test]
fn flax_export_is_byte_identical_to_flax() {
    let config = MlpConfig {
        input: 3,
        hidden: vec![4],
        output: 2,
    };
    let params = Params::init(
        key(0),
        &config,
        KernelInit::TorchDefault,
        BiasInit::Zeros,
        &device::cpu(),
    )
    .unwrap();
    let host = block_on(params.to_host()).unwrap();
    assert_eq!(flax::to_bytes(&host), FLAX_FIXTURE);
    assert_eq!(flax::from_bytes(FLAX_FIXTURE).unwrap(), host);
}

fn config(optimizer: Optimizer) -> TrainConfig {
    TrainConfig {
        mlp: MlpConfig {
            input: 6,
            hidden: vec![5, 4],
            output: 3,
        },
        activation: Activation::builtin(Builtin::Tanh),
        kernel_init: KernelInit::TorchDefault,
        bias_init: BiasInit::FanInUniform,
        optimizer,
    }
}

const OPTIMIZERS: [Optimizer; 2] = [
    Optimizer::Sgd {
        learning_rate: 0.1,
        momentum: 0.9,
    },
    Optimizer::Adam {
        learning_rate: 0.01,
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
    },
];

/// A state after three steps (non-zero optimizer state), and the batch it trains on.
fn trained(optimizer: Optimizer) -> (TrainState, actlab::data::Batch) {
    let dev = device::cpu();
    let (_, _, batch) = toy_batch(3, 8, 6, 3, &dev);
    let mut state = TrainState::init(key(1), config(optimizer), &dev).unwrap();
    for _ in 0..3 {
        state = train_step(&state, &batch).unwrap().0;
    }
    (state, batch)
}

fn saved(state: &TrainState) -> Checkpoint {
    block_on(Checkpoint::of(state, key(99), r#"{"epoch":2}"#.to_owned())).unwrap()
}

#[test]
fn a_restored_state_trains_on_exactly_like_the_original() {
    for optimizer in OPTIMIZERS {
        let (state, batch) = trained(optimizer);
        let ckpt = saved(&state);
        let bytes = ckpt.to_bytes();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(back, ckpt);
        assert_eq!(
            (back.step, back.key, back.meta.as_str()),
            (3, key(99), r#"{"epoch":2}"#)
        );

        let restored = back.restore(&device::cpu());
        let mut a = state;
        let mut b = restored;
        for _ in 0..3 {
            let (na, ma) = train_step(&a, &batch).unwrap();
            let (nb, mb) = train_step(&b, &batch).unwrap();
            assert_eq!(block_on(ma.read()).unwrap(), block_on(mb.read()).unwrap());
            (a, b) = (na, nb);
        }
        assert_eq!(saved(&a), saved(&b), "{optimizer:?}");
        assert_eq!(b.step, 6);
    }
}

/// The header fields, rewritten (and the checksum recomputed) to make a file that is
/// well-formed except for what a test changes.
fn with_payload(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = bytes[..24].to_vec();
    out[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    out[20..24].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn bad_files_give_clear_errors() {
    let (state, _) = trained(OPTIMIZERS[0]);
    let good = saved(&state).to_bytes();
    let err = |b: &[u8]| Checkpoint::from_bytes(b).unwrap_err();

    assert_eq!(err(b""), CheckpointError::NotACheckpoint);
    assert_eq!(err(FLAX_FIXTURE), CheckpointError::NotACheckpoint);
    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(
        err(&v2),
        CheckpointError::UnsupportedVersion {
            found: VERSION + 1,
            supported: VERSION
        }
    );
    for cut in [10, 23, 24, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(err(&good[..cut]), CheckpointError::Truncated { actual, .. } if actual == cut as u64),
            "cut at {cut}: {:?}",
            err(&good[..cut])
        );
    }
    let mut flipped = good.clone();
    let mid = good.len() - 40; // inside the last array's float bytes
    flipped[mid] ^= 0x10;
    assert!(matches!(err(&flipped), CheckpointError::Corrupt { .. }));
    assert!(matches!(
        err(&with_payload(&good, b"\xc1")),
        CheckpointError::Malformed(_)
    ));

    // A state whose arrays do not fit its configuration, and one whose optimizer state belongs
    // to another optimizer.
    let mut other = saved(&state);
    other.config.mlp.hidden = vec![5, 5];
    assert!(matches!(
        err(&other.to_bytes()),
        CheckpointError::Incompatible(m) if m.contains("[(6, 5), (5, 4), (4, 3)]")
    ));
    let mut other = saved(&state);
    other.config.optimizer = OPTIMIZERS[1];
    let e = err(&other.to_bytes());
    assert!(matches!(e, CheckpointError::Incompatible(_)), "{e:?}");
    // Errors read well once they reach JavaScript.
    assert_eq!(
        actlab::Error::from(CheckpointError::NotACheckpoint).to_string(),
        "not an ActLab checkpoint (it does not start with \"ACTLABCK\")"
    );
}

#[test]
fn flax_reader_rejects_what_it_cannot_load() {
    assert!(matches!(
        flax::from_bytes(&FLAX_FIXTURE[..FLAX_FIXTURE.len() - 3]),
        Err(CheckpointError::Malformed(_))
    ));
    // float64 arrays: the dtype is named in the error.
    let f64_file = FLAX_FIXTURE
        .windows(7)
        .position(|w| w == b"float32")
        .map(|at| {
            let mut b = FLAX_FIXTURE.to_vec();
            b[at..at + 7].copy_from_slice(b"float64");
            b
        })
        .unwrap();
    let e = flax::from_bytes(&f64_file).unwrap_err();
    assert!(e.to_string().contains("float64"), "{e}");
}

/// `bytes` rewritten as format version `version` with the activation field of its config set to
/// `activation` (a JSON value), with a valid length and checksum.
fn rewritten(bytes: &[u8], version: u32, activation: serde_json::Value) -> Vec<u8> {
    let mut root = rmpv::decode::read_value(&mut &bytes[24..]).unwrap();
    let rmpv::Value::Map(entries) = &mut root else {
        panic!("a map")
    };
    for (k, v) in entries.iter_mut() {
        if k.as_str() == Some("config") {
            let mut c: serde_json::Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
            c["activation"] = activation.clone();
            *v = rmpv::Value::from(c.to_string());
        }
    }
    let mut payload = Vec::new();
    rmpv::encode::write_value(&mut payload, &root).unwrap();
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

#[test]
fn a_checkpoint_records_its_formula_and_loads_into_the_same_function() {
    let mut cfg = config(OPTIMIZERS[0]);
    cfg.activation = Activation::new(
        "mine",
        "where(x > 0, x, a * expm1(x))",
        [("a".to_string(), 0.7)],
    )
    .unwrap();
    let state = TrainState::init(key(1), cfg.clone(), &device::cpu()).unwrap();
    let bytes = saved(&state).to_bytes();
    let back = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(back.config, cfg);
    assert_eq!(back.config.activation.name(), "mine");
    assert_eq!(back.config.activation.eval(-1.0), cfg.activation.eval(-1.0));
    // The stored record is the whole definition.
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(r#""activation":{"name":"mine","formula":"where(x > 0, x, a * expm1(x))","params":{"a":0.7}}"#));
    // Version 1 named built-ins alone, with LeakyReLU's slope of its time, 0.01.
    let v1 = rewritten(&bytes, 1, serde_json::json!("leaky_relu"));
    let old = Checkpoint::from_bytes(&v1).unwrap();
    assert_eq!(
        old.config.activation.params(),
        [("alpha".to_string(), 0.01)]
    );
    assert_eq!(old.config.activation.eval(-1.0).0, -0.01);
    let v1 = rewritten(&bytes, 1, serde_json::json!("elu"));
    assert_eq!(
        Checkpoint::from_bytes(&v1).unwrap().config.activation,
        Activation::builtin(Builtin::Elu)
    );
    // Today's "leaky_relu" by name is the tutorial's 0.1.
    let v2 = rewritten(&bytes, 2, serde_json::json!("leaky_relu"));
    assert_eq!(
        Checkpoint::from_bytes(&v2)
            .unwrap()
            .config
            .activation
            .eval(-1.0)
            .0,
        -0.1
    );
    // A formula that no longer parses is a clear error, not a panic.
    let bad = rewritten(&bytes, 2, serde_json::json!({ "formula": "x +" }));
    assert!(
        Checkpoint::from_bytes(&bad)
            .unwrap_err()
            .to_string()
            .contains("column 4")
    );
}
