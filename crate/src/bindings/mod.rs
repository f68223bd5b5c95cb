//! The JavaScript API (wasm only), one file per part of the crate it binds: `activation`
//! (formulas: checks, values, the built-ins), `prng` (keys),
//! `device` (the GPU), `data` (FashionMNIST, batches), `train` (states, steps, metrics,
//! configs), `checkpoint` (files, Flax export), `analysis` and `jit` (compiled stacks).
//! Thin: it converts values at the boundary and calls the pure functions behind it, which do
//! every check; errors become exceptions carrying the [`Error`] message.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::prng::{Key, Mode};

mod activation;
mod analysis;
mod checkpoint;
mod data;
mod device;
#[cfg(feature = "gpu")]
mod jit;
mod prng;
mod train;

/// Runs when the module is instantiated: static constructors once (see `crate::device`).
#[wasm_bindgen(start)]
fn start() {
    crate::device::run_constructors_once();
}

/// Any error of the crate as a JavaScript exception with its message.
pub(crate) fn js_err(e: impl Into<Error>) -> JsError {
    JsError::new(&e.into().to_string())
}

/// A Rust value as a plain JavaScript object (numbers as numbers, maps as objects).
pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// A PRNG key from JavaScript: its raw data, a `Uint32Array` of length 2 (today's JAX), or
/// of length 3 whose third word is the mode (0 today's, 1 the notebook's, JAX before 0.5).
pub(crate) fn key_from(k: &[u32]) -> Result<Key, JsError> {
    match k {
        [a, b] | [a, b, 0] => Ok(Key([*a, *b], Mode::Partitionable)),
        [a, b, 1] => Ok(Key([*a, *b], Mode::Legacy)),
        [_, _, m] => Err(JsError::new(&format!(
            "a PRNG key's third word is its mode, 0 (today's JAX) or 1 (JAX before 0.5), got {m}"
        ))),
        _ => Err(JsError::new(&format!(
            "a PRNG key is a Uint32Array of length 2 (or 3 with its mode), got length {}",
            k.len()
        ))),
    }
}

/// A key as JavaScript holds it: 2 words in today's mode, 3 (`[data, 1]`) in the legacy one.
pub(crate) fn key_words(k: Key) -> Vec<u32> {
    match k.1 {
        Mode::Partitionable => k.0.to_vec(),
        Mode::Legacy => vec![k.0[0], k.0[1], 1],
    }
}

/// A count, size or index from JavaScript, whose numbers are floats: a whole number from 0 to
/// `max`. Taken as `f64` because wasm-bindgen would wrap -1 into a `usize` of 4294967295, which
/// then sizes an allocation that aborts the module instead of failing.
pub(crate) fn whole(what: &str, x: f64, max: usize) -> Result<usize, JsError> {
    if x.fract() == 0.0 && (0.0..=max as f64).contains(&x) {
        Ok(x as usize)
    } else {
        Err(JsError::new(&format!(
            "{what} must be a whole number from 0 to {max}, got {x}"
        )))
    }
}

/// `whole` for indices and counts that the crate checks against what exists.
pub(crate) fn index(what: &str, x: f64) -> Result<usize, JsError> {
    whole(what, x, u32::MAX as usize)
}

/// A value JavaScript can take once (a step's new state, metrics to read, a stack whose
/// buffers the next step reuses): afterwards it throws an error naming what was taken.
pub(crate) struct Once<T>(Option<T>);

impl<T> Once<T> {
    pub(crate) fn new(value: T) -> Once<T> {
        Once(Some(value))
    }

    /// The value, leaving nothing behind; `what` names it in the error.
    pub(crate) fn take(&mut self, what: &str) -> Result<T, JsError> {
        self.0.take().ok_or_else(|| taken(what))
    }

    /// The value, if it was not taken yet.
    #[cfg(feature = "gpu")]
    pub(crate) fn get(&self, what: &str) -> Result<&T, JsError> {
        self.0.as_ref().ok_or_else(|| taken(what))
    }
}

fn taken(what: &str) -> JsError {
    JsError::new(&format!(
        "{what} was already taken (each can be taken once)"
    ))
}
