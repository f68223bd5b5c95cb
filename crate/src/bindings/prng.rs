//! `jax.random` for JavaScript: keys are `Uint32Array`s of length 2 (today's JAX), or 3 with
//! the mode as the third word (1: JAX before 0.5, the tutorial notebook's).

use wasm_bindgen::prelude::*;

use super::{index, key_from, key_words, whole};
use crate::prng;

/// The most keys one `split` makes, and the longest `permutation` (64 MiB of u32 each).
const MAX_KEYS: usize = 1 << 23;
const MAX_PERMUTATION: usize = 1 << 24;

/// `jax.random.key(seed)`: the raw key data as a `Uint32Array` of length 2; with `{ legacy:
/// true }`, `jax.random.PRNGKey(seed)` of a JAX before 0.5 (length 3: the data, then 1), whose
/// splits and draws are that JAX's.
#[wasm_bindgen]
pub fn key(
    seed: f64,
    #[wasm_bindgen(unchecked_optional_param_type = "{ legacy?: boolean }")] options: JsValue,
) -> Result<Vec<u32>, JsError> {
    let legacy = if options.is_undefined() || options.is_null() {
        false
    } else {
        let v = js_sys::Reflect::get(&options, &"legacy".into())
            .map_err(|_| JsError::new("key's options are { legacy?: boolean }"))?;
        if v.is_undefined() {
            false
        } else {
            v.as_bool()
                .ok_or_else(|| JsError::new("key's option legacy must be true or false"))?
        }
    };
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 2f64.powi(53)) {
        return Err(JsError::new(&format!(
            "seed must be a non-negative integer, got {seed}"
        )));
    }
    let k = prng::key(seed as u64);
    Ok(key_words(if legacy {
        k.with_mode(prng::Mode::Legacy)
    } else {
        k
    }))
}

/// `jax.random.split(key, n)`: `n` keys of `key`'s mode, flattened into a `Uint32Array` (of
/// length `2n`, or `3n` for legacy keys).
#[wasm_bindgen]
pub fn split(key: &[u32], n: f64) -> Result<Vec<u32>, JsError> {
    let n = whole("split's n", n, MAX_KEYS)?;
    Ok(prng::split(key_from(key)?, n)
        .into_iter()
        .flat_map(key_words)
        .collect())
}

/// `jax.random.fold_in(key, data)`.
#[wasm_bindgen(js_name = foldIn)]
pub fn fold_in(key: &[u32], data: f64) -> Result<Vec<u32>, JsError> {
    let data = index("foldIn's data", data)? as u32;
    Ok(key_words(prng::fold_in(key_from(key)?, data)))
}

/// `jax.random.permutation(key, n)`.
#[wasm_bindgen]
pub fn permutation(key: &[u32], n: f64) -> Result<Vec<u32>, JsError> {
    let n = whole("permutation's n", n, MAX_PERMUTATION)?;
    Ok(prng::permutation(key_from(key)?, n))
}
