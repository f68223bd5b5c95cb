//! Creating the device a run uses: the GPU through wgpu (WebGPU in the browser, Vulkan, Metal
//! or DX12 natively) or, natively, Burn's Flex CPU backend (pure Rust; Burn 0.22's replacement
//! for the deprecated ndarray backend).

use burn::tensor::Device;

use crate::Error;

/// The native CPU device (Flex): deterministic, used by the tests.
#[cfg(not(target_arch = "wasm32"))]
pub fn cpu() -> Device {
    Device::flex()
}

/// Initialises the default wgpu adapter. Async because the browser only hands out devices
/// asynchronously; natively it can be driven by any executor.
pub async fn gpu() -> Result<Device, Error> {
    burn::tensor::Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| Error::Device(format!("cannot initialise WebGPU/wgpu: {e}")))
}
