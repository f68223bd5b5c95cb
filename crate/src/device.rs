//! Creating the device a run uses: the GPU through wgpu (WebGPU in the browser, Vulkan, Metal
//! or DX12 natively; feature `gpu`, in `device/gpu.rs`) or Burn's Flex CPU backend (pure Rust,
//! natively and in the browser's second module; feature `cpu`).

#[cfg(feature = "gpu")]
mod gpu;
#[cfg(feature = "gpu")]
pub use gpu::*;

/// The CPU device (Flex): deterministic; natively it runs the tests, in the browser it is the
/// second module's device, for where there is no usable GPU.
#[cfg(feature = "cpu")]
pub fn cpu() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// Synthesised by wasm-ld: runs every static constructor (CubeCL registers its IR dialects
    /// with `inventory`, which uses them).
    fn __wasm_call_ctors();
}

/// Runs the static constructors, once per instance (the bindings' start function calls this
/// at instantiation; `gpu()` too, for hosts that skip start functions). Calling
/// `__wasm_call_ctors` from our code also tells wasm-ld the module is not "command-style";
/// otherwise it re-runs every constructor at the start of every exported function, which was
/// 95% of the page's own time per train step (about 200 ms of re-registration per call).
#[cfg(target_arch = "wasm32")]
pub(crate) fn run_constructors_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: wasm-ld's constructor function takes no arguments; `Once` guarantees a single
    // call, as constructors expect.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}
