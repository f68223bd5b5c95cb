//! Creating the device a run uses: the GPU through wgpu (WebGPU in the browser, Vulkan, Metal
//! or DX12 natively) or, natively, Burn's Flex CPU backend (pure Rust; Burn 0.22's replacement
//! for the deprecated ndarray backend).

use burn::tensor::wgpu::WgpuInitError;
use burn::tensor::{Device, DeviceKind};

use crate::Error;

/// The native CPU device (Flex): deterministic, used by the tests.
#[cfg(not(target_arch = "wasm32"))]
pub fn cpu() -> Device {
    Device::flex()
}

/// The default wgpu adapter's device. Async because the browser only hands out devices
/// asynchronously; natively it can be driven by any executor. Burn registers one runtime per
/// adapter for the whole process: a second call returns a handle to that same device.
pub async fn gpu() -> Result<Device, Error> {
    match Device::wgpu_options().init_async().await {
        Ok(device) => Ok(device),
        Err(WgpuInitError::Registration { .. }) => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
        Err(e) => Err(Error::Device(format!("cannot initialise WebGPU/wgpu: {e}"))),
    }
}
