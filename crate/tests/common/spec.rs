//! Checks against `shared/spec/*.json`, the JAX/Flax reference vectors.

use actlab::prng::{self, Key, Mode};
use serde_json::Value;

// The browser's copies (wasm tests cannot read files); the native tests read the files at run
// time (`spec_file`), so they hold for any file of the same schema.
pub const PRNG_JSON: &str = include_str!("../../../../shared/spec/jax_prng_vectors.json");
pub const PRNG_LEGACY_JSON: &str =
    include_str!("../../../../shared/spec/jax_prng_vectors_legacy.json");
pub const FLAX_JSON: &str = include_str!("../../../../shared/spec/flax_mlp_init.json");
pub const TUTORIAL_JSON: &str = include_str!("../../../../shared/spec/tutorial_init.json");

/// A spec file's text: from `$ACTLAB_SPEC_DIR` when set, else `../shared/spec/` beside the
/// checkout.
#[cfg(not(target_arch = "wasm32"))]
pub fn spec_file(name: &str) -> String {
    let dir = std::env::var("ACTLAB_SPEC_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec").into());
    let path = format!("{dir}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A key's raw data.
fn key_of(v: &Value) -> [u32; 2] {
    let k = u32s(v);
    [k[0], k[1]]
}

fn shape_len(name: &str) -> usize {
    if name == "scalar" {
        1
    } else {
        name.split('x')
            .map(|d| d.parse::<usize>().unwrap())
            .product()
    }
}

/// Distance in units in the last place between two finite f32 of the same sign region.
pub fn ulps(a: f32, b: f32) -> u32 {
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 { i32::MIN - i } else { i }
    };
    key(a).abs_diff(key(b))
}

/// Checks every vector of the PRNG file; returns how many values were compared and the largest
/// ulp difference seen on `normal` (everything else must be exact).
pub fn check_prng_vectors(json: &str) -> (usize, u32) {
    let spec: Value = serde_json::from_str(json).unwrap();
    assert_eq!(spec["impl"], "threefry2x32");
    // The file says which of threefry's modes made it; the keys carry that mode.
    let mode = match spec["threefry_partitionable"].as_bool() {
        Some(true) => Mode::Partitionable,
        Some(false) => Mode::Legacy,
        None => panic!("threefry_partitionable is not a boolean"),
    };
    let mut compared = 0;
    let mut worst_normal = 0;
    for case in spec["cases"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap();
        let k = prng::key(seed).with_mode(mode);
        assert_eq!(k.0, key_of(&case["key"]), "key({seed})");
        for (n, keys) in case["split"].as_object().unwrap() {
            let got: Vec<Key> = prng::split(k, n.parse().unwrap());
            assert!(got.iter().all(|g| g.1 == mode), "split keeps the mode");
            let got: Vec<[u32; 2]> = got.into_iter().map(|g| g.0).collect();
            let want: Vec<[u32; 2]> = keys.as_array().unwrap().iter().map(key_of).collect();
            assert_eq!(got, want, "split(key({seed}), {n}) ({mode:?})");
            compared += want.len() * 2;
        }
        for (d, want) in case["fold_in"].as_object().unwrap() {
            assert_eq!(
                prng::fold_in(k, d.parse().unwrap()).0,
                key_of(want),
                "fold_in(key({seed}), {d})"
            );
            compared += 2;
        }
        for (shape, want) in case["bits32"].as_object().unwrap() {
            let want = u32s(want);
            assert_eq!(
                prng::bits(k, shape_len(shape)),
                want,
                "bits(key({seed}), {shape}) ({mode:?})"
            );
            compared += want.len();
        }
        for (field, lo, hi) in [
            ("uniform_f32", 0.0, 1.0),
            ("uniform_f32_minus1_1", -1.0, 1.0),
        ] {
            for (shape, want) in case[field].as_object().unwrap() {
                let want = f32s(want);
                let got = prng::uniform(k, shape_len(shape), lo, hi);
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{field}(key({seed}), {shape}): {got:?} != {want:?}");
                compared += want.len();
            }
        }
        for (shape, want) in case["normal_f32"].as_object().unwrap() {
            let want = f32s(want);
            let got = prng::normal(k, shape_len(shape));
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                let d = ulps(*a, *b);
                assert!(
                    d <= 1,
                    "normal(key({seed}), {shape}): {a} vs {b} ({d} ulps)"
                );
                worst_normal = worst_normal.max(d);
            }
            compared += want.len();
        }
        for (n, want) in case["permutation"].as_object().unwrap() {
            let want = u32s(want);
            assert_eq!(
                prng::permutation(k, n.parse().unwrap()),
                want,
                "permutation(key({seed}), {n}) ({mode:?})"
            );
            compared += want.len();
        }
    }
    (compared, worst_normal)
}

/// One parameter tensor of the Flax file.
pub struct FlaxTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub first8: Vec<f32>,
    pub last4: Vec<f32>,
    pub sum_f64: f64,
    pub sha256: String,
}

/// One `(seed, kernel_init)` case of the Flax file, or one `(seed, mode, net)` case of the
/// tutorial file (`kernel_init` "tutorial").
pub struct FlaxCase {
    pub seed: u64,
    pub kernel_init: String,
    pub mode: Mode,
    pub hidden: Vec<usize>,
    pub tensors: Vec<FlaxTensor>,
}

pub fn flax_cases(json: &str) -> Vec<FlaxCase> {
    let spec: Value = serde_json::from_str(json).unwrap();
    spec["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| FlaxCase {
            seed: c["seed"].as_u64().unwrap(),
            kernel_init: c["kernel_init"].as_str().unwrap_or("tutorial").to_string(),
            mode: match c["threefry_partitionable"].as_bool() {
                Some(false) => Mode::Legacy,
                _ => Mode::Partitionable,
            },
            hidden: c["hidden"]
                .as_array()
                .map(|h| h.iter().map(|d| d.as_u64().unwrap() as usize).collect())
                .unwrap_or_else(|| vec![512, 256, 256, 128]),
            tensors: c["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, t)| FlaxTensor {
                    name: name.clone(),
                    shape: t["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect(),
                    first8: f32s(&t["first8"]),
                    last4: f32s(&t["last4"]),
                    sum_f64: t["sum_f64"].as_f64().unwrap(),
                    sha256: t["sha256_f32le_rowmajor"].as_str().unwrap().to_string(),
                })
                .collect(),
        })
        .collect()
}

/// Checks host parameter values (Flax order: `Dense_0/kernel`, `Dense_0/bias`, ...) against a
/// case: shapes, first and last values, float64 sum, and SHA-256 of the float32 bytes.
pub fn check_flax_case(case: &FlaxCase, layers: &[actlab::mlp::HostDense]) {
    use sha2::{Digest, Sha256};
    assert_eq!(case.tensors.len(), 2 * layers.len());
    for t in &case.tensors {
        let (layer, what) = t.name.split_once('/').unwrap();
        let i: usize = layer.strip_prefix("Dense_").unwrap().parse().unwrap();
        let (shape, values) = match what {
            "kernel" => (layers[i].kernel_shape.to_vec(), &layers[i].kernel),
            _ => (vec![layers[i].bias.len()], &layers[i].bias),
        };
        let ctx = format!(
            "seed {} {} {:?} {:?} {}",
            case.seed, case.kernel_init, case.mode, case.hidden, t.name
        );
        assert_eq!(shape, t.shape, "{ctx}: shape");
        assert_eq!(&values[..8], &t.first8[..], "{ctx}: first values");
        assert_eq!(
            &values[values.len() - 4..],
            &t.last4[..],
            "{ctx}: last values"
        );
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        assert!(
            (sum - t.sum_f64).abs() <= 1e-9 * t.sum_f64.abs().max(1.0),
            "{ctx}: sum {sum} vs {}",
            t.sum_f64
        );
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, t.sha256, "{ctx}: SHA-256 of the float32 bytes");
    }
}

/// The kernel initializer a case names.
pub fn kernel_init_of(case: &FlaxCase) -> actlab::init::KernelInit {
    match case.kernel_init.as_str() {
        "lecun_uniform" => actlab::init::KernelInit::LecunUniform,
        "torch_default_uniform" => actlab::init::KernelInit::TorchDefault,
        "tutorial" => actlab::init::KernelInit::Tutorial,
        other => panic!("unknown kernel_init {other}"),
    }
}

/// The bias initializer that goes with a case's kernel initializer.
pub fn bias_init_of(case: &FlaxCase) -> actlab::init::BiasInit {
    if case.kernel_init == "tutorial" {
        actlab::init::BiasInit::Tutorial
    } else {
        actlab::init::BiasInit::Zeros
    }
}

/// The case's network: 784 inputs, its hidden sizes, 10 outputs.
pub fn mlp_of(case: &FlaxCase) -> actlab::mlp::MlpConfig {
    actlab::mlp::MlpConfig {
        input: 784,
        hidden: case.hidden.clone(),
        output: 10,
    }
}

/// Flax's init computed on the host, without a device: the same key derivation and samplers
/// `Params::init` uploads.
pub fn host_init(case: &FlaxCase) -> Vec<actlab::mlp::HostDense> {
    use actlab::init::{BiasInit, dense_param_key};
    let root = prng::key(case.seed).with_mode(case.mode);
    let _ = BiasInit::Zeros;
    mlp_of(case)
        .layer_dims()
        .into_iter()
        .enumerate()
        .map(|(i, (fan_in, fan_out))| actlab::mlp::HostDense {
            kernel_shape: [fan_in, fan_out],
            kernel: kernel_init_of(case).sample(dense_param_key(root, i, 1), fan_in, fan_out),
            bias: bias_init_of(case).sample(dense_param_key(root, i, 2), fan_in, fan_out),
        })
        .collect()
}
