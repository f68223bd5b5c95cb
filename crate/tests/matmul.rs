//! The layers' matrix product (`actlab::matmul::mm`): its GPU kernel against a plain loop on
//! shapes that do not fill its 4x4 register blocks and on transposed (strided) operands, and
//! its backward pass against the analytic gradients, on the CPU backend and on wgpu (lavapipe
//! where there is no GPU: `scripts/setup.sh` installs it). The wasm tests cover WebGPU.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use actlab::device;
use actlab::matmul::mm;
use actlab::prng::{key, normal, split};
use burn::tensor::{Device, Tensor, TensorData};
use common::block_on;

/// `a [m, k] @ b [k, n]` in f64, row-major.
fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|q| a[i * k + q] as f64 * b[q * n + j] as f64)
                .sum();
        }
    }
    c
}

fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows)
        .map(|t| a[(t % rows) * cols + t / rows])
        .collect()
}

fn tensor(v: &[f32], shape: [usize; 2], dev: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), dev)
}

fn read(t: Tensor<2>) -> Vec<f32> {
    block_on(t.into_data_async())
        .expect("readback")
        .try_to_vec::<f32>()
        .expect("f32")
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{what}: element {i} is {g}, expected {w}"
        );
    }
}

/// Products of every layout the MLP uses (plain, transposed lhs, transposed rhs) on shapes
/// with edges in both directions: m and n not multiples of 4, n beyond one workgroup (64).
fn check_products(dev: &Device, name: &str) {
    for (seed, (m, k, n)) in [(1, 7, 3), (5, 7, 3), (9, 13, 66), (64, 33, 10), (2, 1, 129)]
        .into_iter()
        .enumerate()
    {
        let ks = split(key(seed as u64), 2);
        let a = normal(ks[0], m * k);
        let b = normal(ks[1], k * n);
        let want = reference(&a, &b, m, k, n);
        let what = format!("{name} [{m},{k}]@[{k},{n}]");
        let plain = mm(tensor(&a, [m, k], dev), tensor(&b, [k, n], dev));
        assert_eq!(plain.dims(), [m, n], "{what}: shape");
        assert_close(&read(plain), &want, &what);
        // Stored transposed and viewed back: the kernel reads the strides, not a copy.
        let at = tensor(&transpose(&a, m, k), [k, m], dev).transpose();
        let bt = tensor(&transpose(&b, k, n), [n, k], dev).transpose();
        assert_close(
            &read(mm(at.clone(), tensor(&b, [k, n], dev))),
            &want,
            &format!("{what}, lhs^T"),
        );
        assert_close(
            &read(mm(tensor(&a, [m, k], dev), bt)),
            &want,
            &format!("{what}, rhs^T"),
        );
    }
}

/// d/da and d/db of `sum(mm(a, b) * w)` are `w @ b^T` and `a^T @ w`.
fn check_gradients(dev: &Device, name: &str) {
    let (m, k, n) = (6, 9, 5);
    let ks = split(key(42), 3);
    let (a, b, w) = (
        normal(ks[0], m * k),
        normal(ks[1], k * n),
        normal(ks[2], m * n),
    );
    let at = tensor(&a, [m, k], dev).autodiff().require_grad();
    let bt = tensor(&b, [k, n], dev).autodiff().require_grad();
    let loss = (mm(at.clone(), bt.clone()) * tensor(&w, [m, n], dev).autodiff()).sum();
    let grads = loss.backward();
    let ga = read(at.grad(&grads).expect("grad of a"));
    let gb = read(bt.grad(&grads).expect("grad of b"));
    let want_a = reference(&w, &transpose(&b, k, n), m, n, k);
    let want_b = reference(&transpose(&a, m, k), &w, k, m, n);
    assert_close(&ga, &want_a, &format!("{name} d/da"));
    assert_close(&gb, &want_b, &format!("{name} d/db"));
}

#[test]
fn products_and_gradients_on_the_cpu_backend() {
    let dev = device::cpu();
    check_products(&dev, "flex");
    check_gradients(&dev, "flex");
}

#[test]
fn the_gpu_kernel_matches_a_plain_loop_and_its_gradients() {
    let dev = block_on(device::gpu()).expect("a wgpu adapter (lavapipe without a GPU)");
    check_products(&dev, "wgpu");
    check_gradients(&dev, "wgpu");
}
