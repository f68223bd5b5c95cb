//! Native-only tests on Burn's Flex CPU backend: init through the device, gradients, optimizers,
//! purity and determinism of steps.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::activation::{Activation, Builtin, TUTORIAL};
use actlab::analysis::{
    activation_curve, dead_fraction, hidden_activations, kernel_gradient_magnitudes, unit_max_abs,
};
use actlab::device;
use actlab::init::{BiasInit, KernelInit};
use actlab::mlp::{HostDense, MlpConfig, Params, apply};
use actlab::optim::Optimizer;
use actlab::prng::key;
use actlab::train::{
    TrainConfig, TrainState, eval_step, loss_and_grads, predict, read_classes, read_metrics,
    train_step,
};
use burn::tensor::{Tensor, TensorData};
use common::spec::*;
use common::{block_on, tiny_state, toy_batch};

#[test]
fn params_init_on_device_equals_flax() {
    let dev = device::cpu();
    let mut cases = flax_cases(&spec_file("flax_mlp_init.json"));
    cases.extend(flax_cases(&spec_file("tutorial_init.json")));
    for case in cases {
        let p = Params::init(
            key(case.seed).with_mode(case.mode),
            &mlp_of(&case),
            kernel_init_of(&case),
            bias_init_of(&case),
            &dev,
        )
        .unwrap();
        check_flax_case(&case, &block_on(p.to_host()).unwrap());
    }
}

/// The activation in float64 (its formula through the scalar evaluator, which
/// `tests/activations.rs` holds to JAX).
fn act_f64(a: &Activation, z: f64) -> f64 {
    a.eval(z).0
}

/// Every layer's output (activated, except the logits) by an independent float64 forward pass
/// with plain loops.
fn reference_layers(layers: &[HostDense], x: &[f32], a: &Activation) -> Vec<Vec<Vec<f64>>> {
    let mut h: Vec<Vec<f64>> = x
        .chunks(layers[0].kernel_shape[0])
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let mut out = Vec::new();
    for (li, l) in layers.iter().enumerate() {
        let [din, dout] = l.kernel_shape;
        h = h
            .iter()
            .map(|row| {
                (0..dout)
                    .map(|j| {
                        let z = l.bias[j] as f64
                            + (0..din)
                                .map(|i| row[i] * l.kernel[i * dout + j] as f64)
                                .sum::<f64>();
                        if li + 1 < layers.len() {
                            act_f64(a, z)
                        } else {
                            z
                        }
                    })
                    .collect()
            })
            .collect();
        out.push(h.clone());
    }
    out
}

/// The float64 reference loss (softmax cross-entropy of the reference logits).
fn reference_loss(layers: &[HostDense], x: &[f32], y: &[i32], a: &Activation) -> f64 {
    let n = y.len();
    let h = reference_layers(layers, x, a)
        .pop()
        .expect("at least one layer");
    h.iter()
        .zip(y)
        .map(|(logits, &c)| {
            let m = logits.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + logits.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse - logits[c as usize]
        })
        .sum::<f64>()
        / n as f64
}

#[test]
fn autodiff_gradients_and_gradient_flow_match_finite_differences_for_every_activation() {
    let dev = device::cpu();
    let config = MlpConfig {
        input: 6,
        hidden: vec![5, 4],
        output: 3,
    };
    let (x, y, batch) = toy_batch(11, 8, 6, 3, &dev);
    for b in TUTORIAL {
        let a = &Activation::builtin(b);
        let params = Params::init(
            key(5),
            &config,
            KernelInit::LecunUniform,
            BiasInit::FanInUniform,
            &dev,
        )
        .unwrap();
        let host = block_on(params.to_host()).unwrap();
        let (loss, grads, _) = loss_and_grads(&params, &batch, a);
        let loss = block_on(actlab::mlp::read_f32(loss)).unwrap()[0] as f64;
        let reference = reference_loss(&host, &x, &y, a);
        assert!(
            (loss - reference).abs() < 1e-5,
            "{a:?}: loss {loss} vs float64 reference {reference}"
        );
        let g = block_on(grads.to_host()).unwrap();
        // Gradient flow (analysis): |dLoss/dKernel| per layer, checked against the same
        // finite differences below.
        let flow: Vec<Vec<f32>> = kernel_gradient_magnitudes(&params, &batch, a)
            .into_iter()
            .map(read)
            .collect();
        assert_eq!(flow.len(), host.len());
        let h = 1e-5;
        let mut checked = 0;
        for li in 0..host.len() {
            for (is_kernel, len) in [(true, host[li].kernel.len()), (false, host[li].bias.len())] {
                for i in 0..len {
                    let nudge = |d: f64| {
                        let mut p = host.clone();
                        let v = if is_kernel {
                            &mut p[li].kernel[i]
                        } else {
                            &mut p[li].bias[i]
                        };
                        // Perturb in f64 through the f32 storage: use the exact perturbation applied.
                        let old = *v as f64;
                        *v = (old + d) as f32;
                        let applied = *v as f64 - old;
                        (reference_loss(&p, &x, &y, a), applied)
                    };
                    let ((lp, dp), (lm, dm)) = (nudge(h), nudge(-h));
                    let fd = (lp - lm) / (dp - dm);
                    let an = if is_kernel {
                        g[li].kernel[i]
                    } else {
                        g[li].bias[i]
                    } as f64;
                    assert!(
                        (fd - an).abs() <= 2e-3 * fd.abs().max(an.abs()) + 1e-5,
                        "{a:?} layer {li} {} [{i}]: autodiff {an} vs finite difference {fd}",
                        if is_kernel { "kernel" } else { "bias" }
                    );
                    if is_kernel {
                        let m = f64::from(
                            flow[li]
                                .get(i)
                                .copied()
                                .expect("a magnitude per kernel entry"),
                        );
                        assert!(
                            (m - fd.abs()).abs() <= 2e-3 * fd.abs().max(m) + 1e-5,
                            "{a:?} layer {li} [{i}]: gradient flow {m} vs |finite difference| {fd}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
    }
}

fn flat(p: &[HostDense]) -> Vec<f32> {
    p.iter()
        .flat_map(|l| l.kernel.iter().chain(&l.bias).copied())
        .collect()
}

#[test]
fn sgd_momentum_steps_equal_the_hand_computed_update() {
    let dev = device::cpu();
    let (lr, m) = (0.05f32, 0.9f32);
    let s0 = tiny_state(
        Optimizer::Sgd {
            learning_rate: lr as f64,
            momentum: m as f64,
        },
        &dev,
    );
    let (_, _, batch) = toy_batch(2, 5, 4, 2, &dev);
    let (s1, _) = train_step(&s0, &batch).unwrap();
    let (s2, _) = train_step(&s1, &batch).unwrap();
    let grad = |s: &TrainState| {
        flat(
            &block_on(
                loss_and_grads(&s.params, &batch, &s.config.activation)
                    .1
                    .to_host(),
            )
            .unwrap(),
        )
    };
    let (p0, g0, g1) = (
        flat(&block_on(s0.params.to_host()).unwrap()),
        grad(&s0),
        grad(&s1),
    );
    // optax: t1 = g0; p1 = p0 - lr t1; t2 = g1 + m t1; p2 = p1 - lr t2.
    let p1: Vec<f32> = p0.iter().zip(&g0).map(|(p, g)| p - lr * g).collect();
    let t2: Vec<f32> = g1.iter().zip(&g0).map(|(g, t)| g + m * t).collect();
    let p2: Vec<f32> = p1.iter().zip(&t2).map(|(p, t)| p - lr * t).collect();
    let got1 = flat(&block_on(s1.params.to_host()).unwrap());
    let got2 = flat(&block_on(s2.params.to_host()).unwrap());
    for (want, got) in [(&p1, &got1), (&p2, &got2)] {
        for (w, g) in want.iter().zip(got) {
            assert!((w - g).abs() <= 1e-6, "{w} vs {g}");
        }
    }
    assert_ne!(got1, p0, "the step changed nothing");
    assert_eq!((s1.step, s2.step), (1, 2));
}

#[test]
fn adam_step_equals_the_hand_computed_update() {
    let dev = device::cpu();
    let (lr, b1, b2, eps) = (1e-2f64, 0.9f64, 0.999f64, 1e-8f64);
    let s0 = tiny_state(
        Optimizer::Adam {
            learning_rate: lr,
            b1,
            b2,
            eps,
        },
        &dev,
    );
    let (_, _, batch) = toy_batch(3, 5, 4, 2, &dev);
    let (s1, _) = train_step(&s0, &batch).unwrap();
    let (s2, _) = train_step(&s1, &batch).unwrap();
    let grad = |s: &TrainState| {
        flat(
            &block_on(
                loss_and_grads(&s.params, &batch, &s.config.activation)
                    .1
                    .to_host(),
            )
            .unwrap(),
        )
    };
    let (p0, g0, g1) = (
        flat(&block_on(s0.params.to_host()).unwrap()),
        grad(&s0),
        grad(&s1),
    );
    let got2 = flat(&block_on(s2.params.to_host()).unwrap());
    for i in 0..p0.len() {
        let (g0, g1) = (g0[i] as f64, g1[i] as f64);
        let (m1, v1) = ((1.0 - b1) * g0, (1.0 - b2) * g0 * g0);
        let p1 = p0[i] as f64 - lr * (m1 / (1.0 - b1)) / ((v1 / (1.0 - b2)).sqrt() + eps);
        let (m2, v2) = (b1 * m1 + (1.0 - b1) * g1, b2 * v1 + (1.0 - b2) * g1 * g1);
        let p2 = p1 - lr * (m2 / (1.0 - b1 * b1)) / ((v2 / (1.0 - b2 * b2)).sqrt() + eps);
        assert!(
            (p2 - got2[i] as f64).abs() <= 1e-5,
            "param {i}: {p2} vs {}",
            got2[i]
        );
    }
}

#[test]
fn a_step_leaves_its_input_state_valid_and_unchanged() {
    let dev = device::cpu();
    let s0 = tiny_state(Optimizer::default(), &dev);
    let (_, _, batch) = toy_batch(4, 6, 4, 2, &dev);
    let before = block_on(s0.params.to_host()).unwrap();
    let (a, ma) = train_step(&s0, &batch).unwrap();
    let (b, mb) = train_step(&s0, &batch).unwrap();
    assert_eq!(
        block_on(s0.params.to_host()).unwrap(),
        before,
        "train_step mutated its input"
    );
    assert_eq!(s0.step, 0);
    assert_eq!(
        block_on(a.params.to_host()).unwrap(),
        block_on(b.params.to_host()).unwrap()
    );
    assert_eq!(block_on(ma.read()).unwrap(), block_on(mb.read()).unwrap());
    // eval_step on the old state gives the pre-update loss the step reported.
    let e = block_on(eval_step(&s0, &batch).unwrap().read()).unwrap();
    assert_eq!(
        e,
        block_on(train_step(&s0, &batch).unwrap().1.read()).unwrap()
    );
}

#[test]
fn same_key_gives_the_same_loss_trajectory_bit_for_bit() {
    let dev = device::cpu();
    let run = |seed: u64| -> Vec<u32> {
        let config = TrainConfig {
            mlp: MlpConfig {
                input: 16,
                hidden: vec![12, 8],
                output: 4,
            },
            ..TrainConfig::default()
        };
        let mut s = TrainState::init(key(seed), config, &dev).unwrap();
        let mut losses = Vec::new();
        for step in 0..10 {
            let (_, _, batch) = toy_batch(100 + step, 32, 16, 4, &dev);
            let (next, m) = train_step(&s, &batch).unwrap();
            losses.push(block_on(m.read()).unwrap().loss.to_bits());
            s = next;
        }
        losses
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8), "a different key must give a different run");
    assert!(
        f32::from_bits(a[9]) < f32::from_bits(a[0]),
        "loss did not go down"
    );
}

#[test]
fn wrong_batch_shape_is_an_error_not_a_panic() {
    let dev = device::cpu();
    let s = tiny_state(Optimizer::default(), &dev);
    let (_, _, batch) = toy_batch(4, 6, 5, 2, &dev);
    let err = train_step(&s, &batch).unwrap_err();
    assert!(err.to_string().contains("[n, 4]"), "{err}");
    assert!(eval_step(&s, &batch).is_err());
}

#[test]
fn apply_is_a_plain_mlp() {
    // One layer: logits = x @ W + b exactly.
    let dev = device::cpu();
    let host = vec![HostDense {
        kernel_shape: [2, 2],
        kernel: vec![1.0, 2.0, 3.0, 4.0],
        bias: vec![0.5, -0.5],
    }];
    let p = Params::from_host(&host, &dev);
    let x = Tensor::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &dev);
    let out = block_on(actlab::mlp::read_f32(apply(
        &p,
        x,
        &Activation::builtin(Builtin::Relu),
    )))
    .unwrap();
    assert_eq!(out, vec![4.5, 5.5]);
}

#[test]
fn predict_is_the_argmax_of_apply_and_agrees_with_accuracy() {
    let dev = device::cpu();
    let s = tiny_state(Optimizer::default(), &dev);
    let (_, labels, batch) = toy_batch(9, 40, 4, 2, &dev);
    let classes = block_on(read_classes(predict(&s, &batch).unwrap())).unwrap();
    let logits = block_on(actlab::mlp::read_f32(apply(
        &s.params,
        batch.images.clone(),
        &s.config.activation,
    )))
    .unwrap();
    let argmax: Vec<u32> = logits
        .chunks(2)
        .map(|r| if r[1] > r[0] { 1 } else { 0 })
        .collect();
    assert_eq!(classes, argmax);
    let hits = classes
        .iter()
        .zip(&labels)
        .filter(|&(&c, &y)| c as i32 == y)
        .count();
    let acc = block_on(eval_step(&s, &batch).unwrap().read())
        .unwrap()
        .accuracy;
    assert!(
        (acc - hits as f32 / 40.0).abs() < 1e-6,
        "{acc} vs {hits}/40"
    );
    // Both classes occur, so the test would notice a constant prediction.
    assert!(classes.contains(&0) && classes.contains(&1), "{classes:?}");
}

#[test]
fn metrics_read_together_equal_metrics_read_one_by_one() {
    let dev = device::cpu();
    let mut s = tiny_state(Optimizer::default(), &dev);
    let (_, _, batch) = toy_batch(5, 8, 4, 2, &dev);
    let mut pending = Vec::new();
    for _ in 0..3 {
        let (next, m) = train_step(&s, &batch).unwrap();
        pending.push(m);
        s = next;
    }
    let one_by_one: Vec<_> = pending
        .iter()
        .map(|m| block_on(m.clone().read()).unwrap())
        .collect();
    assert_eq!(block_on(read_metrics(pending)).unwrap(), one_by_one);
    assert_ne!(one_by_one[0].loss, one_by_one[2].loss);
    assert!(block_on(read_metrics(Vec::new())).unwrap().is_empty());
}

fn read(t: Tensor<1>) -> Vec<f32> {
    block_on(actlab::mlp::read_f32(t)).unwrap()
}

#[test]
fn activation_curve_matches_the_function_and_its_finite_difference() {
    let dev = device::cpu();
    // [-5, 5] in steps of 0.25, avoiding 0 where ReLU-like derivatives jump.
    let xs: Vec<f32> = (0..41).map(|i| -5.0 + 0.25 * i as f32 + 0.01).collect();
    for b in TUTORIAL {
        let a = &Activation::builtin(b);
        let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &dev);
        let (y, dy) = activation_curve(a, t);
        let (y, dy) = (read(y), read(dy));
        for (i, &x) in xs.iter().enumerate() {
            let x = x as f64;
            let h = 1e-6;
            let fd = (act_f64(a, x + h) - act_f64(a, x - h)) / (2.0 * h);
            assert!((y[i] as f64 - act_f64(a, x)).abs() < 1e-5, "{a:?} f({x})");
            assert!(
                (dy[i] as f64 - fd).abs() < 1e-4,
                "{a:?} f'({x}): autodiff {} vs finite difference {fd}",
                dy[i]
            );
        }
    }
}

#[test]
fn hidden_activations_and_dead_units_match_a_plain_loop() {
    let dev = device::cpu();
    let config = MlpConfig {
        input: 4,
        hidden: vec![6, 5],
        output: 2,
    };
    let (x, _, batch) = toy_batch(9, 10, 4, 2, &dev);
    let params = Params::init(
        key(2),
        &config,
        KernelInit::TorchDefault,
        BiasInit::FanInUniform,
        &dev,
    )
    .unwrap();
    // Kill unit 3 of the first hidden layer: a bias of -100 keeps its ReLU at 0 on this data.
    let mut host = block_on(params.to_host()).unwrap();
    host[0].bias[3] = -100.0;
    let params = Params::from_host(&host, &dev);
    let acts = hidden_activations(
        &params,
        batch.images.clone(),
        &Activation::builtin(Builtin::Relu),
    );
    let reference = reference_layers(&host, &x, &Activation::builtin(Builtin::Relu));
    for li in 0..2 {
        let (h, dout) = (&reference[li], host[li].kernel_shape[1]);
        let got = block_on(actlab::mlp::read_f32(acts[li].clone())).unwrap();
        let want: Vec<f64> = h.iter().flatten().copied().collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-5, "layer {li}: {g} vs {w}");
        }
        let dead = (0..dout).filter(|&j| h.iter().all(|r| r[j] == 0.0)).count();
        let fraction = read(
            dead_fraction(&unit_max_abs(
                &params,
                batch.images.clone(),
                &Activation::builtin(Builtin::Relu),
            ))[li]
                .clone(),
        )[0];
        assert!(
            (fraction as f64 - dead as f64 / dout as f64).abs() < 1e-6,
            "layer {li}: {fraction} vs {dead}/{dout}"
        );
        if li == 0 {
            assert!(dead >= 1, "the unit with bias -100 must be dead");
        }
    }
}
