//! Shared by the native and the wasm test binaries: reference data and checks.
#![allow(dead_code)]

pub mod spec;

/// Runs a future to completion. Native tests use pollster; on wasm the test itself is async.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}
