//! Bad input through every parser and entry point that takes outside bytes or values, natively:
//! IDX files (raw and gzip), checkpoint files, the Flax msgpack reader and configurations. Each
//! must come back as an error with a message, never a panic. Seeded: the seed is printed, and
//! `ACTLAB_FUZZ_SEED=N` replays it; `ACTLAB_FUZZ_CASES=N` sets the random cases per family.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use actlab::checkpoint::Checkpoint;
use actlab::data::{FashionMnist, gunzip_if_needed, parse_idx};
use actlab::init::{BiasInit, KernelInit};
use actlab::mlp::{MlpConfig, Params};
use actlab::optim::Optimizer;
use actlab::prng::key;
use actlab::train::{TrainConfig, TrainState};
use actlab::{device, flax};
use common::{block_on, tiny_state};

/// splitmix64: small, seedable, good enough to pick bytes and lengths.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    let seed = std::env::var("ACTLAB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("fuzz seed {seed} (replay: ACTLAB_FUZZ_SEED={seed} cargo test --test fuzz)");
    seed
}

fn cases() -> usize {
    std::env::var("ACTLAB_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// Runs `f` on `input`: it may succeed or fail with a message, but must not panic.
fn no_panic<T, E: std::fmt::Display>(
    what: &str,
    seed: u64,
    f: impl FnOnce() -> Result<T, E>,
) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "{what}: an error without a message (seed {seed})"
            );
            false
        }
        Err(_) => panic!("{what} panicked (seed {seed})"),
    }
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_files_never_panic() {
    let seed = seed();
    let mut rng = Rng(seed);
    let images = idx(0x803, &[2, 28, 28], &[7; 2 * 784]);
    let labels = idx(0x801, &[2], &[3, 9]);
    let mut tried = 0;
    let mut parse = |what: &str, bytes: &[u8]| {
        tried += 1;
        no_panic(what, seed, || parse_idx("f", bytes, 0x803, "images"))
    };
    // Headers that promise more than is there, sizes whose product overflows, every truncation.
    for dims in [
        [0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        [0x7fff_ffff, 28, 28],
        [2, 0, 28],
        [0, 0, 0],
    ] {
        assert!(!parse("huge header", &idx(0x803, &dims, &[1, 2, 3])) || dims.contains(&0));
    }
    for n in 0..images.len() {
        assert!(!parse("truncated", &images[..n]));
    }
    assert!(parse("valid", &images));
    assert!(!parse(
        "trailing bytes",
        &[images.as_slice(), &[0]].concat()
    ));
    for _ in 0..cases() {
        let mut b = images.clone();
        let at = rng.below(b.len());
        b[at] ^= 1 + rng.below(255) as u8;
        parse("flipped", &b);
        let n = rng.below(64);
        parse("random", &rng.bytes(n));
        parse("random gzip", &[&[0x1f, 0x8b][..], &rng.bytes(n)].concat());
        let cut = rng.below(images.len());
        parse(
            "truncated gzip",
            &gzip(&images)[..cut.min(gzip(&images).len())],
        );
    }
    // A gzip bomb: a small file that decompresses beyond the limit is refused before it is read.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; actlab::data::MAX_IDX_BYTES + 1])
        .unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let err = gunzip_if_needed("bomb.gz", &bomb).unwrap_err().to_string();
    assert!(err.contains("decompresses to more than"), "{err}");
    // Labels outside 0..9, counts that disagree, through the whole parser.
    let bad_labels = idx(0x801, &[2], &[3, 200]);
    let err = FashionMnist::from_bytes([&images, &bad_labels, &images, &labels])
        .unwrap_err()
        .to_string();
    assert!(err.contains("label"), "{err}");
    let three = idx(0x801, &[3], &[1, 2, 3]);
    assert!(FashionMnist::from_bytes([&images, &three, &images, &labels]).is_err());
    println!("idx: {tried} inputs");
}

#[test]
fn checkpoints_and_flax_files_never_panic() {
    let seed = seed();
    let mut rng = Rng(seed);
    let mut tried = 0;
    for optimizer in [
        Optimizer::default(),
        Optimizer::Adam {
            learning_rate: 1e-3,
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
        },
    ] {
        let state = tiny_state(optimizer, &device::cpu());
        let good = block_on(Checkpoint::of(&state, key(1), "meta".into()))
            .unwrap()
            .to_bytes();
        assert!(Checkpoint::from_bytes(&good).is_ok());
        // Every truncation and every byte flipped (the checksum or the structure catches each).
        for n in 0..good.len() {
            tried += 1;
            assert!(!no_panic("truncated checkpoint", seed, || {
                Checkpoint::from_bytes(&good[..n])
            }));
        }
        for at in 0..good.len() {
            let mut b = good.clone();
            b[at] ^= 0xff;
            tried += 1;
            assert!(!no_panic("flipped checkpoint", seed, || {
                Checkpoint::from_bytes(&b)
            }));
        }
        // Payloads that pass the checksum: random and mutated msgpack, with a valid header.
        let payload = &good[24..];
        for _ in 0..cases() {
            let mut p = payload.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(p.len());
                p[at] = rng.next() as u8;
            }
            let cut = rng.below(p.len() + 1);
            let n = rng.below(200);
            for body in [p.clone(), p[..cut].to_vec(), rng.bytes(n)] {
                tried += 1;
                no_panic("checksummed payload", seed, || {
                    Checkpoint::from_bytes(&with_header(&good, &body))
                });
            }
        }
        // Valid msgpack of the wrong shape: other types where maps, arrays and strings belong.
        for v in wrong_shapes() {
            let mut body = Vec::new();
            rmpv::encode::write_value(&mut body, &v).unwrap();
            tried += 1;
            assert!(!no_panic("wrong shape", seed, || Checkpoint::from_bytes(
                &with_header(&good, &body)
            )));
        }
    }
    // The Flax reader: a valid export, then every truncation, flips, random bytes, wrong shapes.
    let params = Params::init(
        key(0),
        &MlpConfig {
            input: 5,
            hidden: vec![4],
            output: 3,
        },
        KernelInit::TorchDefault,
        BiasInit::Zeros,
        &device::cpu(),
    )
    .unwrap();
    let export = flax::to_bytes(&block_on(params.to_host()).unwrap());
    assert!(flax::from_bytes(&export).is_ok());
    for n in 0..export.len() {
        tried += 1;
        assert!(!no_panic("truncated flax", seed, || flax::from_bytes(
            &export[..n]
        )));
    }
    for _ in 0..cases() {
        let mut b = export.clone();
        let at = rng.below(b.len());
        b[at] = rng.next() as u8;
        no_panic("flipped flax", seed, || flax::from_bytes(&b));
        let n = rng.below(100);
        let random = rng.bytes(n);
        no_panic("random flax", seed, || flax::from_bytes(&random));
        tried += 2;
    }
    for v in wrong_shapes() {
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &v).unwrap();
        tried += 1;
        assert!(!no_panic("wrong flax shape", seed, || flax::from_bytes(
            &body
        )));
    }
    println!("checkpoint and flax: {tried} inputs");
}

/// `body` as the payload of a checkpoint with `good`'s magic and version, and a right checksum.
fn with_header(good: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = good[..12].to_vec();
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn wrong_shapes() -> Vec<rmpv::Value> {
    use rmpv::Value;
    let ndarray = |shape: Vec<Value>, dtype: &str, bytes: Vec<u8>| {
        let mut data = Vec::new();
        rmpv::encode::write_value(
            &mut data,
            &Value::Array(vec![
                Value::Array(shape),
                dtype.into(),
                Value::Binary(bytes),
            ]),
        )
        .unwrap();
        Value::Ext(1, data)
    };
    let huge = vec![Value::from(u64::MAX), Value::from(u64::MAX)];
    let dense = |kernel: Value| {
        Value::Map(vec![(
            "Dense_0".into(),
            Value::Map(vec![
                ("kernel".into(), kernel.clone()),
                ("bias".into(), kernel),
            ]),
        )])
    };
    let config = serde_json::to_string(&TrainConfig::default()).unwrap();
    let ckpt = |params: Value| {
        Value::Map(vec![
            ("config".into(), config.as_str().into()),
            ("step".into(), 1.into()),
            ("key".into(), Value::Array(vec![0.into(), 1.into()])),
            ("params".into(), params.clone()),
            (
                "opt_state".into(),
                Value::Map(vec![
                    ("kind".into(), "sgd".into()),
                    ("trace".into(), params),
                ]),
            ),
            ("meta".into(), "".into()),
        ])
    };
    vec![
        Value::Nil,
        Value::from(42),
        Value::Array(vec![]),
        Value::Map(vec![]),
        Value::Map(vec![("params".into(), Value::Nil)]),
        Value::Map(vec![("params".into(), dense(Value::from("x")))]),
        Value::Map(vec![(
            "params".into(),
            dense(ndarray(huge.clone(), "float32", vec![0; 8])),
        )]),
        Value::Map(vec![(
            "params".into(),
            dense(ndarray(vec![Value::from(-1)], "float32", vec![0; 4])),
        )]),
        Value::Map(vec![(
            "params".into(),
            dense(ndarray(vec![2.into()], "float64", vec![0; 16])),
        )]),
        ckpt(dense(ndarray(huge, "float32", vec![0; 8]))),
        ckpt(dense(ndarray(
            vec![2.into(), 2.into()],
            "float32",
            vec![0; 16],
        ))),
        ckpt(Value::Nil),
        Value::Map(vec![(
            "config".into(),
            "{\"mlp\":{\"hidden\":[1000000000]}}".into(),
        )]),
    ]
}

#[test]
fn configurations_are_checked_before_anything_is_built() {
    let seed = seed();
    let mut rng = Rng(seed);
    let junk = [
        "0",
        "-1",
        "1e300",
        "-1e300",
        "null",
        "\"x\"",
        "[]",
        "{}",
        "true",
        "4294967296",
        "1.5",
        "18446744073709551616",
    ];
    let fields = [
        r#"{"mlp":{"input":V}}"#,
        r#"{"mlp":{"hidden":[V]}}"#,
        r#"{"mlp":{"hidden":[8,V]}}"#,
        r#"{"mlp":{"output":V}}"#,
        r#"{"activation":V}"#,
        r#"{"kernel_init":{"kind":"variance_scaling","scale":V,"mode":"fan_in","distribution":"uniform"}}"#,
        r#"{"kernel_init":V}"#,
        r#"{"bias_init":V}"#,
        r#"{"optimizer":{"kind":"sgd","learning_rate":V}}"#,
        r#"{"optimizer":{"kind":"sgd","learning_rate":0.1,"momentum":V}}"#,
        r#"{"optimizer":{"kind":"adam","learning_rate":0.1,"b1":V}}"#,
        r#"{"optimizer":{"kind":"adam","learning_rate":0.1,"eps":V}}"#,
        r#"{"optimizer":{"kind":V,"learning_rate":0.1}}"#,
    ];
    let mut tried = 0;
    let mut build = |json: &str| {
        tried += 1;
        no_panic(json, seed, || -> Result<(), String> {
            let config: TrainConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
            config.validate().map_err(|e| e.to_string())?;
            // What passes the checks must be buildable (and small enough to build here).
            TrainState::init(key(0), config, &device::cpu())
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    for f in fields {
        for v in junk {
            build(&f.replace('V', v));
        }
    }
    for _ in 0..cases() / 10 {
        let f = fields[rng.below(fields.len())];
        let v = junk[rng.below(junk.len())];
        let w = junk[rng.below(junk.len())];
        build(&f.replace('V', v).replace("8,", &format!("{w},")));
    }
    for json in [
        r#"{"mlp":{"hidden":[1000000000]}}"#,
        r#"{"mlp":{"hidden":[65536,65536]}}"#,
        r#"{"mlp":{"hidden":[0]}}"#,
    ] {
        assert!(!build(json), "{json} must be refused");
    }
    println!("configs: {tried} inputs");
}

/// A random formula of the language (valid), `depth` levels at most.
fn random_formula(rng: &mut Rng, depth: usize) -> String {
    let leaf = |rng: &mut Rng| match rng.below(6) {
        0 | 1 => "x".to_string(),
        2 => "a".to_string(),
        3 => ["pi", "e"][rng.below(2)].to_string(),
        _ => format!(
            "{}",
            (rng.below(2000) as f64 - 1000.0) / [1.0, 10.0, 1000.0][rng.below(3)]
        ),
    };
    if depth == 0 {
        return leaf(rng);
    }
    let sub = |rng: &mut Rng| random_formula(rng, depth - 1);
    match rng.below(9) {
        0 => leaf(rng),
        1 => format!(
            "{} {} {}",
            sub(rng),
            ["+", "-", "*", "/"][rng.below(4)],
            sub(rng)
        ),
        2 => format!("({})^{}", sub(rng), rng.below(5) as i32 - 1),
        3 => format!("-{}", sub(rng)),
        4 | 5 => {
            let f = actlab::activation::grammar::FUNCTIONS;
            format!("{}({})", f[rng.below(f.len())].0, sub(rng))
        }
        6 => format!(
            "{}({}, {})",
            ["min", "max"][rng.below(2)],
            sub(rng),
            sub(rng)
        ),
        7 => format!(
            "where({} {} {}, {}, {})",
            sub(rng),
            ["<", "<=", ">", ">="][rng.below(4)],
            sub(rng),
            sub(rng),
            sub(rng)
        ),
        _ => format!("({})", sub(rng)),
    }
}

/// Deletes, inserts, swaps or duplicates a few characters.
fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    let alphabet: Vec<char> = "x a e pi()+-*/^,<>=.0123456789exp where min $#\u{e9}\u{2028}\t"
        .chars()
        .collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(c.len() + 1);
        match rng.below(4) {
            0 if at < c.len() => {
                c.remove(at);
            }
            1 => c.insert(at.min(c.len()), alphabet[rng.below(alphabet.len())]),
            2 if c.len() > 1 => {
                let (a, b) = (at.min(c.len() - 1), rng.below(c.len()));
                c.swap(a, b);
            }
            _ => {
                let tail: Vec<char> = c[at.min(c.len())..].to_vec();
                c.extend(tail.into_iter().take(20));
            }
        }
    }
    c.into_iter().collect()
}

/// The formula parser, its derivative, lowerings and printer on random and mutated formulas
/// (10,000 at least): each parses or is refused with a column, none panics, and what parses
/// evaluates, prints back to the same function and generates WGSL.
#[test]
fn formulas_never_panic_and_every_refusal_names_its_column() {
    use actlab::activation::{Activation, Dialect, wgsl};
    use actlab::error::Error;
    let seed = seed();
    let mut rng = Rng(seed);
    let n = cases().max(300) * 34;
    let (mut parsed, mut refused) = (0, 0);
    let mut check = |src: &str| {
        let ok = no_panic(src, seed, || -> Result<(), String> {
            match Activation::parse(src, &[("a", 0.5)]) {
                Ok(act) => {
                    for x in [-3.5, -0.25, 0.0, 0.75, 20.0] {
                        let _ = act.eval(x);
                        let _ = act.eval_f32(x as f32);
                    }
                    let _ = act.warning();
                    assert!(wgsl::stack(std::slice::from_ref(&act)).contains("fn dact("));
                    let printed = act.code(false, Dialect::Formula);
                    let again = Activation::parse(&printed, &[("a", 0.5)])
                        .unwrap_or_else(|e| panic!("{src:?} printed as {printed:?}: {e}"));
                    for x in [-1.25, 0.5, 2.0] {
                        let (p, q) = (act.eval(x).0, again.eval(x).0);
                        // Re-simplifying may round differently; non-finite values may differ.
                        assert!(
                            !p.is_finite()
                                || !q.is_finite()
                                || (p - q).abs() <= 1e-6 * p.abs().max(q.abs()).max(1.0),
                            "{src:?} printed as {printed:?}: {p} vs {q} at {x}"
                        );
                    }
                    let _ = act.derivative_formula();
                    let _ = act.code(true, Dialect::Jax);
                    Ok(())
                }
                Err(Error::Formula(f)) => {
                    let len = src.chars().count();
                    assert!(
                        (1..=len.max(actlab::activation::grammar::MAX_LEN) + 1).contains(&f.column),
                        "{src:?}: column {}",
                        f.column
                    );
                    Err(Error::Formula(f).to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        });
        if ok {
            parsed += 1;
        } else {
            refused += 1;
        }
    };
    for i in 0..n {
        let valid = random_formula(&mut rng, 1 + i % 5);
        match i % 4 {
            0 => check(&valid),
            1 | 2 => check(&mutate(&mut rng, &valid)),
            _ => {
                let junk: String = (0..rng.below(40))
                    .map(|_| {
                        " x()+-*/^,<>=.019aepwhrmn$\u{2028}"
                            .chars()
                            .nth(rng.below(29))
                            .unwrap_or('x')
                    })
                    .collect();
                check(&junk)
            }
        }
    }
    // The limits: too long, too deep, too many operations after the derivative.
    check(&"x*".repeat(600));
    check(&("(".repeat(200) + "x" + &")".repeat(200)));
    check(&"-".repeat(5000));
    check(&"x^".repeat(40));
    check(&"exp(".repeat(47));
    check(&("sin(".repeat(40) + "x" + &")".repeat(40)));
    println!("formulas: {parsed} parsed, {refused} refused of {}", n + 6);
    assert!(n >= 10_000 && parsed > n / 10 && refused > n / 10);
}
