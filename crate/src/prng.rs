//! JAX's threefry2x32 PRNG, bit for bit, in both of its modes: today's default
//! (`jax_threefry_partitionable = True`, since JAX 0.5) and the one every JAX before 0.5 used
//! (`False`; the tutorial notebook's).
//!
//! A [`Key`] is two `u32` words, exactly `jax.random.key_data(key)`, and the mode it draws in,
//! as JAX's typed keys carry their implementation: every key split or folded from it keeps that
//! mode. Every function here is pure: the same key always gives the same numbers, and nothing
//! random in the crate comes from anywhere else. Values are generated on the host (they are
//! cheap next to a train step) and uploaded by the caller.

use serde::{Deserialize, Serialize};

/// Which of threefry's two counter layouts a key draws with. `key` and `fold_in` are the same in
/// both; `split`, `bits` (and so `uniform`, `normal`, `permutation`) differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `jax_threefry_partitionable = True`: element `i` counts `(hi(i), lo(i))`.
    #[default]
    Partitionable,
    /// JAX before 0.5: the counts `0..n` split in halves, `(i, n/2 + i)` (the notebook's).
    Legacy,
}

impl Mode {
    /// The name JavaScript and the command line use (`"default"` or `"legacy"`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Partitionable => "default",
            Mode::Legacy => "legacy",
        }
    }
}

/// A PRNG key: the raw `uint32[2]` data of a JAX threefry key and its mode. Small and `Copy`:
/// pass it around, split it, never mutate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key(pub [u32; 2], pub Mode);

impl Key {
    /// A key of `data` in the default mode.
    pub fn new(data: [u32; 2]) -> Key {
        Key(data, Mode::Partitionable)
    }

    /// The same data in `mode`.
    pub fn with_mode(self, mode: Mode) -> Key {
        Key(self.0, mode)
    }
}

/// `jax.random.key(seed)` with JAX's default 32-bit mode: a Python int seed is converted to
/// int64 and then canonicalised to int32, so only its low 32 bits survive, and the high key word
/// (`seed >> 32` on a 32-bit value) is always zero. Today's default mode.
pub fn key(seed: u64) -> Key {
    Key::new([0, seed as u32])
}

/// `jax.random.PRNGKey(seed)` on a JAX before 0.5 (the same data as [`key`], the legacy mode).
pub fn key_legacy(seed: u64) -> Key {
    key(seed).with_mode(Mode::Legacy)
}

/// `jax.random.split(key, n)`: partitionable, key `i` is `threefry(key, (0, i))` (a 64-bit iota
/// split into high and low words); legacy, the `2n` words of `threefry_2x32(key, iota(2n))`.
pub fn split(key: Key, n: usize) -> Vec<Key> {
    match key.1 {
        Mode::Partitionable => (0..n as u64)
            .map(|i| Key(threefry2x32(key.0, [(i >> 32) as u32, i as u32]), key.1))
            .collect(),
        Mode::Legacy => threefry_iota(key.0, 2 * n)
            .chunks_exact(2)
            .map(|w| Key([w[0], w[1]], key.1))
            .collect(),
    }
}

/// `jax.random.split(key)` into the usual `(key, subkey)` pair.
pub fn split2(key: Key) -> (Key, Key) {
    let k = split(key, 2);
    (k[0], k[1])
}

/// `jax.random.fold_in(key, data)`: `threefry(key, seed(data))` where `seed(data) = (0, data)`
/// (the same in both modes).
pub fn fold_in(key: Key, data: u32) -> Key {
    Key(threefry2x32(key.0, [0, data]), key.1)
}

/// `jax.random.bits(key, shape, uint32)`, flattened row-major. Partitionable: element `i` is the
/// XOR of the two output words of `threefry(key, (hi(i), lo(i)))`; legacy: `threefry_2x32(key,
/// iota(len))`.
pub fn bits(key: Key, len: usize) -> Vec<u32> {
    match key.1 {
        Mode::Partitionable => (0..len as u64)
            .map(|i| {
                let [a, b] = threefry2x32(key.0, [(i >> 32) as u32, i as u32]);
                a ^ b
            })
            .collect(),
        Mode::Legacy => threefry_iota(key.0, len),
    }
}

/// JAX's original `threefry_2x32(key, lax.iota(uint32, len))`: the counts, padded with a 0 to
/// an even length, split in halves `x0 = counts[..h]`, `x1 = counts[h..]`; the cipher of each
/// pair `(x0[i], x1[i])` gives output `i` (first word) and `h + i` (second); the pad's output
/// is dropped.
fn threefry_iota(key: [u32; 2], len: usize) -> Vec<u32> {
    let h = len.div_ceil(2);
    let mut out = vec![0u32; 2 * h];
    for i in 0..h {
        let hi = if h + i < len { (h + i) as u32 } else { 0 };
        let [a, b] = threefry2x32(key, [i as u32, hi]);
        out[i] = a;
        out[h + i] = b;
    }
    out.truncate(len);
    out
}

/// `jax.random.uniform(key, shape, float32, minval, maxval)`, flattened row-major.
///
/// JAX puts the top 23 random bits in the mantissa of a float in [1, 2), subtracts 1, then
/// computes `max(minval, u * (maxval - minval) + minval)` in float32, the multiply-add fused;
/// we do the same, in the same order (the bounds are rounded to f32 first, as JAX converts them to the dtype).
pub fn uniform(key: Key, len: usize, minval: f32, maxval: f32) -> Vec<f32> {
    let span = maxval - minval;
    bits(key, len)
        .into_iter()
        .map(|b| {
            let u = f32::from_bits((b >> 9) | 0x3f80_0000) - 1.0;
            // XLA fuses `u * span + minval` into one multiply-add (the notebook's biases
            // differ in the last bit otherwise).
            u.mul_add(span, minval).max(minval)
        })
        .collect()
}

/// `jax.random.normal(key, shape, float32)`: `sqrt(2) * erf_inv(u)` with `u` uniform in
/// `(nextafter(-1, 0), 1)`. `erf_inv` is XLA's float32 polynomial (Giles) and `log1p` XLA CPU's
/// (Cephes), both with the fused multiply-adds XLA's compiler forms, ported below. Only for
/// `|u| > 0.64`, where XLA's `log1p` calls its own `log` approximation, can a value differ, by
/// an ulp or two.
pub fn normal(key: Key, len: usize) -> Vec<f32> {
    let lo = f32::from_bits((-1.0f32).to_bits() - 1); // nextafter(-1, 0)
    uniform(key, len, lo, 1.0)
        .into_iter()
        .map(|u| std::f32::consts::SQRT_2 * erf_inv_f32(u))
        .collect()
}

/// `jax.random.permutation(key, n)`: JAX shuffles by sorting `arange(n)` on random 32-bit keys,
/// `ceil(3 * ln(n) / ln(2^32 - 1))` times, each time with a fresh subkey from `split`. The sort is
/// stable, so ties keep their order exactly as in XLA.
pub fn permutation(key: Key, n: usize) -> Vec<u32> {
    let rounds = (3.0 * (n.max(1) as f64).ln() / (u32::MAX as f64).ln()).ceil() as usize;
    let mut x: Vec<u32> = (0..n as u32).collect();
    let mut key = key;
    for _ in 0..rounds {
        let (next, sub) = split2(key);
        key = next;
        let sort_keys = bits(sub, n);
        let mut pairs: Vec<(u32, u32)> = sort_keys.into_iter().zip(x).collect();
        pairs.sort_by_key(|&(k, _)| k);
        x = pairs.into_iter().map(|(_, v)| v).collect();
    }
    x
}

/// XLA's `ErfInv32`: M. Giles, "Approximating the erfinv function", with the same constants and
/// the same operation order as XLA's lowering.
fn erf_inv_f32(x: f32) -> f32 {
    // Written exactly as in XLA's source, so they can be compared digit for digit.
    #[allow(clippy::excessive_precision)]
    const LT5: [f32; 9] = [
        2.81022636e-08,
        3.43273939e-07,
        -3.5233877e-06,
        -4.39150654e-06,
        0.00021858087,
        -0.00125372503,
        -0.00417768164,
        0.246640727,
        1.50140941,
    ];
    #[allow(clippy::excessive_precision)]
    const GE5: [f32; 9] = [
        -0.000200214257,
        0.000100950558,
        0.00134934322,
        -0.00367342844,
        0.00573950773,
        -0.0076224613,
        0.00943887047,
        1.00167406,
        2.83297682,
    ];
    let w = -log1p_xla(x * -x);
    let (c, w) = if w < 5.0 {
        (&LT5, w - 2.5)
    } else {
        (&GE5, w.sqrt() - 3.0)
    };
    let mut p = c[0];
    for &ci in &c[1..] {
        p = p.mul_add(w, ci);
    }
    if x.abs() == 1.0 {
        x * f32::INFINITY
    } else {
        p * x
    }
}

/// XLA CPU's `log1p` (its elemental IR emitter): a Cephes rational approximation for
/// `|x| < sqrt(2) - 1`, else `log(1 + x)`; polynomials by Horner's rule with fused multiply-adds.
fn log1p_xla(x: f32) -> f32 {
    // XLA's coefficients, digit for digit.
    #[allow(clippy::excessive_precision)]
    const NUM: [f64; 7] = [
        4.5270000862445199635215e-5,
        4.9854102823193375972212e-1,
        6.5787325942061044846969e0,
        2.9911919328553073277375e1,
        6.0949667980987787057556e1,
        5.7112963590585538103336e1,
        2.0039553499201281259648e1,
    ];
    #[allow(clippy::excessive_precision)]
    const DEN: [f64; 7] = [
        1.0,
        1.5062909083469192043167e1,
        8.3047565967967209469434e1,
        2.2176239823732856465394e2,
        3.0909872225312059774938e2,
        2.1642788614495947685003e2,
        6.0118660497603843919306e1,
    ];
    let horner = |cs: &[f64; 7]| cs.iter().fold(0.0f32, |p, &c| p.mul_add(x, c as f32));
    if x.abs() < 0.414_213_56 {
        let x2 = x * x;
        let r = (x * x2) * (horner(&NUM) / horner(&DEN));
        x + (-0.5f32).mul_add(x2, r)
    } else {
        (x + 1.0).ln()
    }
}

/// The threefry2x32 block cipher (20 rounds), as `jax._src.prng.threefry2x32`.
pub fn threefry2x32(key: [u32; 2], count: [u32; 2]) -> [u32; 2] {
    const ROT: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
    let ks = [key[0], key[1], key[0] ^ key[1] ^ 0x1BD1_1BDA];
    let mut x = [count[0].wrapping_add(ks[0]), count[1].wrapping_add(ks[1])];
    for i in 0..5u32 {
        for &r in &ROT[(i % 2) as usize] {
            x[0] = x[0].wrapping_add(x[1]);
            x[1] = x[1].rotate_left(r) ^ x[0];
        }
        let j = i as usize;
        x[0] = x[0].wrapping_add(ks[(j + 1) % 3]);
        x[1] = x[1].wrapping_add(ks[(j + 2) % 3]).wrapping_add(i + 1);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threefry_known_answer() {
        // Random123's published known-answer vectors for threefry2x32_20.
        assert_eq!(threefry2x32([0, 0], [0, 0]), [0x6b200159, 0x99ba4efe]);
        assert_eq!(
            threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
            [0x1cb996fc, 0xbb002be7]
        );
        assert_eq!(
            threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3]),
            [0xc4923a9c, 0x483df7a0]
        );
    }

    #[test]
    fn permutation_is_a_permutation() {
        for n in [0, 1, 2, 17, 2000] {
            let mut p = permutation(key(3), n);
            p.sort_unstable();
            assert_eq!(p, (0..n as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn uniform_respects_bounds() {
        let u = uniform(key(9), 10_000, -0.25, 0.5);
        assert!(u.iter().all(|&v| (-0.25..0.5).contains(&v)));
    }
}
