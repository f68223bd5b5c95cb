//! Activations against JAX: every entry of `../shared/spec/jax_activations.json` (or of the
//! file named by `ACTLAB_ACTIVATIONS_SPEC`, any file of that schema) parsed from its formula and
//! parameters, and built-ins also by name; `f` and `f'` on its grid from the scalar evaluator
//! (f64 and f32), the Burn path (Flex, and wgpu), and the compiled stack's WGSL (natively on
//! lavapipe without a GPU), each within the file's float32 tolerance; every invalid formula
//! refused with its column. Plus the table itself, the derivative's properties and limits.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::activation::{Activation, Builtin, Dialect, TUTORIAL, grammar};
use actlab::device;
use actlab::error::Error;
use burn::tensor::{Device, Tensor, TensorData};
use common::activations::{Spec, parse};

fn spec() -> Spec {
    let path = std::env::var("ACTLAB_ACTIVATIONS_SPEC").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spec/jax_activations.json"
        )
        .into()
    });
    println!("activations spec: {path}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse(&text)
}

fn fail_on(bad: Vec<String>) {
    assert!(
        bad.is_empty(),
        "{} values out of tolerance:\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_scalar_evaluator_matches_jax_in_f64_and_f32() {
    let s = spec();
    let mut bad = Vec::new();
    for (what, a, e) in s.activations() {
        let (f, df): (Vec<f64>, Vec<f64>) = s.x.iter().map(|&x| a.eval(x)).unzip();
        bad.extend(s.compare(&format!("{what} f64"), &f, &df, e));
        let (f, df): (Vec<f64>, Vec<f64>) =
            s.x.iter()
                .map(|&x| {
                    let (f, df) = a.eval_f32(x as f32);
                    (f as f64, df as f64)
                })
                .unzip();
        bad.extend(s.compare(&format!("{what} f32"), &f, &df, e));
    }
    fail_on(bad);
}

fn burn_values(s: &Spec, dev: &Device, label: &str) -> Vec<String> {
    let xs: Vec<f32> = s.x.iter().map(|&x| x as f32).collect();
    let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), dev);
    let read = |t: Tensor<1>| -> Vec<f64> {
        common::block_on(actlab::mlp::read_f32(t))
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let mut bad = Vec::new();
    for (what, a, e) in s.activations() {
        let (f, df) = a.values(&t);
        bad.extend(s.compare(&format!("{what} Burn on {label}"), &read(f), &read(df), e));
        // Training's gradient (autodiff through `apply`) is the same f'.
        let x = t.clone().autodiff().require_grad();
        let y = a.apply(x.clone());
        let grads = y.clone().sum().backward();
        let dy = x.grad(&grads).expect("a gradient");
        bad.extend(s.compare(
            &format!("{what} Burn autodiff on {label}"),
            &read(y.without_autodiff()),
            &read(dy),
            e,
        ));
    }
    bad
}

#[test]
fn the_burn_path_matches_jax_on_flex() {
    let s = spec();
    fail_on(burn_values(&s, &device::cpu(), "Flex"));
}

#[test]
fn the_burn_path_and_the_compiled_stack_match_jax_on_wgpu() {
    let s = spec();
    let gpu = common::block_on(device::shared_gpu()).expect("a wgpu adapter (lavapipe)");
    let mut bad = burn_values(&s, &gpu.device, "wgpu");
    let acts = s.activations();
    let xs: Vec<f32> = s.x.iter().map(|&x| x as f32).collect();
    let h = gpu.handles().unwrap();
    // At most a stack's worth of models per call.
    for chunk in acts.chunks(actlab::jit::MAX_MODELS) {
        let list: Vec<Activation> = chunk.iter().map(|c| c.1.clone()).collect();
        let values = common::block_on(actlab::jit::activation_values(h, &list, &xs)).unwrap();
        for ((what, _, e), (f, df)) in chunk.iter().zip(values) {
            let f: Vec<f64> = f.into_iter().map(f64::from).collect();
            let df: Vec<f64> = df.into_iter().map(f64::from).collect();
            bad.extend(s.compare(&format!("{what} WGSL"), &f, &df, e));
        }
    }
    fail_on(bad);
}

#[test]
fn invalid_formulas_are_refused_with_their_column() {
    let s = spec();
    assert!(s.check_invalid() > 0 || s.invalid.is_empty());
    // A few of our own, with the column each must name.
    for (src, column) in [
        ("", 1),
        ("x +", 4),
        ("(x", 3),
        ("x)", 2),
        ("foo(x)", 1),
        ("where(x, 1)", 8),
        ("where(x > 0, x)", 15),
        ("x ^^ 2", 4),
        ("alpha * x", 1),
        ("exp(x) exp(x)", 8),
        ("max(x)", 6),
        ("x > 0", 3),
        ("1..2 * x", 3),
        ("x $ 2", 3),
        ("2x", 2),
        ("exp x", 5),
        ("sqrt()", 6),
    ] {
        match Activation::parse(src, &[]) {
            Err(Error::Formula(f)) => assert_eq!(f.column, column, "{src:?}: {f}"),
            other => panic!("{src:?}: {other:?}"),
        }
    }
}

#[test]
fn the_table_holds_the_tutorials_six_and_every_builtin_parses() {
    let names: Vec<&str> = TUTORIAL.iter().map(|b| b.name()).collect();
    assert_eq!(
        names,
        ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish"]
    );
    for &b in Builtin::ALL {
        let a = Activation::builtin(b);
        assert_eq!(a.as_builtin(), Some(b));
        assert_eq!(Builtin::named(b.name()), Some(b));
        assert!(!b.about().is_empty());
        assert!(a.warning().is_none(), "{b:?}: {:?}", a.warning());
    }
    // The tutorial's LeakyReLU slope.
    let leaky = Activation::builtin(Builtin::LeakyRelu);
    assert_eq!(leaky.params(), [("alpha".to_string(), 0.1)]);
    assert_eq!(leaky.eval(-2.0), (-0.2, 0.1));
    // Parameters are the user's: a built-in with another slope is another function.
    let other = Activation::builtin_with(Builtin::LeakyRelu, &[("alpha", 0.2)]).unwrap();
    assert_eq!(other.eval(-2.0), (-0.4, 0.2));
    assert_ne!(other, leaky);
    assert_eq!(other.as_builtin(), None);
    assert!(Activation::builtin_with(Builtin::Relu, &[("alpha", 1.0)]).is_err());
}

#[test]
fn the_derivative_is_simplified_shared_and_reads_back() {
    let relu = Activation::builtin(Builtin::Relu);
    assert_eq!(relu.derivative_formula(), "where(x > 0, 1, 0)");
    let leaky = Activation::builtin(Builtin::LeakyRelu);
    assert_eq!(leaky.derivative_formula(), "where(x > 0, 1, alpha)");
    assert_eq!(
        Activation::parse("x^3", &[]).unwrap().derivative_formula(),
        "3 * x^2"
    );
    // Where differentiates the branch it selects; abs' is sign; a tie of max splits evenly.
    let a = Activation::parse("max(x, 1)", &[]).unwrap();
    assert_eq!(a.eval(2.0).1, 1.0);
    assert_eq!(a.eval(0.0).1, 0.0);
    assert_eq!(a.eval(1.0).1, 0.5);
    let a = Activation::parse("abs(x)", &[]).unwrap();
    assert_eq!(
        (a.eval(-3.0).1, a.eval(0.0).1, a.eval(3.0).1),
        (-1.0, 0.0, 1.0)
    );
    // Printing a formula and its derivative gives text that parses to the same function.
    for src in [
        "x * tanh(softplus(x))",
        "-x^2 + 2^-x - (x - 1) / (x + 3)",
        "where(x <= -1, exp(x) * sin(x), log1p(x^2) / sqrt(2 + cos(x)))",
        "min(x, 2 * x) - max(-x, x / 3) + erf(x) * pi - e",
    ] {
        let a = Activation::parse(src, &[]).unwrap();
        for (derivative, text) in [
            (false, a.code(false, Dialect::Formula)),
            (true, a.derivative_formula()),
        ] {
            let b = Activation::parse(&text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
            for x in [-2.7, -0.3, 0.6, 1.9] {
                let (f, df) = a.eval(x);
                let want = if derivative { df } else { f };
                let got = b.eval(x).0;
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{text} at {x}"
                );
            }
        }
        // Finite differences agree with the symbolic derivative.
        for x in [-2.7, -0.3, 0.6, 1.9] {
            let h = 1e-6;
            let fd = (a.eval(x + h).0 - a.eval(x - h).0) / (2.0 * h);
            assert!(
                (fd - a.eval(x).1).abs() < 1e-5 * fd.abs().max(1.0),
                "{src} at {x}"
            );
        }
    }
}

#[test]
fn stable_forms_hold_where_naive_ones_overflow_or_cancel() {
    for (src, x, want_f, want_df) in [
        ("softplus(x)", 100.0f32, 100.0f32, 1.0f32),
        ("softplus(x)", -100.0, 0.0, 0.0),
        ("sigmoid(x)", -100.0, 0.0, 0.0),
        ("sigmoid(x)", 100.0, 1.0, 0.0),
        ("tanh(x)", 100.0, 1.0, 0.0),
        ("tanh(x)", -100.0, -1.0, 0.0),
    ] {
        let (f, df) = Activation::parse(src, &[]).unwrap().eval_f32(x);
        assert!(
            (f - want_f).abs() < 1e-6 && (df - want_df).abs() < 1e-6,
            "{src} at {x}: {f} {df}"
        );
    }
    // Near zero: no cancellation (relative error, not just absolute).
    for (src, x) in [
        ("expm1(x)", 1e-6f64),
        ("log1p(x)", 1e-6),
        ("tanh(x)", 3e-7),
        ("expm1(x)", -0.05),
    ] {
        let a = Activation::parse(src, &[]).unwrap();
        let (got, want) = (a.eval_f32(x as f32).0 as f64, a.eval(x).0);
        assert!(
            ((got - want) / want).abs() < 1e-6,
            "{src} at {x}: {got} vs {want}"
        );
    }
    // Integer powers of negative numbers are products, not pow().
    let cube = Activation::parse("x^3", &[]).unwrap();
    assert_eq!(cube.eval_f32(-2.0), (-8.0, 12.0));
}

#[test]
fn limits_and_non_finite_formulas() {
    let long = "x + ".repeat(300) + "x";
    assert!(
        matches!(Activation::parse(&long, &[]), Err(Error::Formula(f)) if f.column == grammar::MAX_LEN + 1)
    );
    let deep = "(".repeat(60) + "x" + &")".repeat(60);
    assert!(
        matches!(Activation::parse(&deep, &[]), Err(Error::Formula(f)) if f.expected.contains("nesting"))
    );
    let minus = "-".repeat(100) + "x";
    assert!(matches!(
        Activation::parse(&minus, &[]),
        Err(Error::Formula(_))
    ));
    for src in ["log(x)", "1 / x", "sqrt(x)", "x^0.5"] {
        let w = Activation::parse(src, &[]).unwrap().warning();
        assert!(
            w.is_some(),
            "{src} is not finite everywhere on the preview range"
        );
    }
    assert!(
        Activation::parse("log(1 + x^2)", &[])
            .unwrap()
            .warning()
            .is_none()
    );
    // Parameters: names, values and reserved words are checked.
    assert!(Activation::parse("a * x", &[("a", f64::NAN)]).is_err());
    assert!(Activation::parse("x", &[("exp", 1.0)]).is_err());
    assert!(Activation::parse("x", &[("2a", 1.0)]).is_err());
    assert!(Activation::new("", "x", []).is_err());
}

#[test]
fn serde_takes_a_name_or_a_formula_and_writes_the_whole_record() {
    let parse = |s: &str| serde_json::from_str::<Activation>(s);
    assert_eq!(parse("\"elu\"").unwrap(), Activation::builtin(Builtin::Elu));
    let custom = parse(r#"{"name":"mine","formula":"a * x","params":{"a":2}}"#).unwrap();
    assert_eq!((custom.name(), custom.eval(3.0)), ("mine", (6.0, 2.0)));
    let slope = parse(r#"{"name":"leaky_relu","params":{"alpha":0.3}}"#).unwrap();
    assert_eq!(slope.eval(-1.0).0, -0.3);
    let back: Activation = serde_json::from_str(&serde_json::to_string(&custom).unwrap()).unwrap();
    assert_eq!(
        (back.name(), back.formula(), back.params()),
        (custom.name(), custom.formula(), custom.params())
    );
    for bad in [
        r#""nope""#,
        r#"{"formula":"x +"}"#,
        r#"{"formla":"x"}"#,
        r#"{"name":"relu","params":{"alpha":1}}"#,
        r#"{}"#,
        r#"3"#,
    ] {
        let e = parse(bad).unwrap_err().to_string();
        assert!(!e.is_empty(), "{bad}");
    }
    assert!(
        parse(r#"{"formula":"x +"}"#)
            .unwrap_err()
            .to_string()
            .contains("column 4")
    );
}
