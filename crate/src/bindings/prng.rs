//! `jax.random` for JavaScript: keys are `Uint32Array`s of length 2.

use wasm_bindgen::prelude::*;

use super::{index, key_from, whole};
use crate::prng;

/// The most keys one `split` makes, and the longest `permutation` (64 MiB of u32 each).
const MAX_KEYS: usize = 1 << 23;
const MAX_PERMUTATION: usize = 1 << 24;

/// `jax.random.key(seed)`: the raw key data as a `Uint32Array` of length 2.
#[wasm_bindgen]
pub fn key(seed: f64) -> Result<Vec<u32>, JsError> {
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 2f64.powi(53)) {
        return Err(JsError::new(&format!(
            "seed must be a non-negative integer, got {seed}"
        )));
    }
    Ok(prng::key(seed as u64).0.to_vec())
}

/// `jax.random.split(key, n)`: `n` keys, flattened into a `Uint32Array` of length `2n`.
#[wasm_bindgen]
pub fn split(key: &[u32], n: f64) -> Result<Vec<u32>, JsError> {
    let n = whole("split's n", n, MAX_KEYS)?;
    Ok(prng::split(key_from(key)?, n)
        .into_iter()
        .flat_map(|k| k.0)
        .collect())
}

/// `jax.random.fold_in(key, data)`.
#[wasm_bindgen(js_name = foldIn)]
pub fn fold_in(key: &[u32], data: f64) -> Result<Vec<u32>, JsError> {
    let data = index("foldIn's data", data)? as u32;
    Ok(prng::fold_in(key_from(key)?, data).0.to_vec())
}

/// `jax.random.permutation(key, n)`.
#[wasm_bindgen]
pub fn permutation(key: &[u32], n: f64) -> Result<Vec<u32>, JsError> {
    let n = whole("permutation's n", n, MAX_PERMUTATION)?;
    Ok(prng::permutation(key_from(key)?, n))
}
