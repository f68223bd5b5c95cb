//! The device for JavaScript: in the page's module the GPU (create it, learn when it is lost,
//! destroy it); in the CPU module (built without feature `gpu`) the CPU. [`Dev`] is the one
//! this build has: every function that puts data or models on a device takes it.

use burn::tensor::Device;
use wasm_bindgen::prelude::*;

#[cfg(feature = "gpu")]
use super::js_err;
use crate::device;
#[cfg(feature = "gpu")]
use crate::device::Handles;

/// This build's device: the GPU, or the CPU in a build without it.
#[cfg(feature = "gpu")]
pub(super) type Dev = Gpu;
#[cfg(not(feature = "gpu"))]
pub(super) type Dev = Cpu;

/// The CPU (Burn's Flex backend, single-threaded, SIMD128): the device of the CPU module.
#[cfg(not(feature = "gpu"))]
#[wasm_bindgen]
pub struct Cpu {
    device: Device,
}

#[cfg(not(feature = "gpu"))]
#[wasm_bindgen]
impl Cpu {
    /// The CPU device. Async like `Gpu.create()`, so code can await either.
    pub async fn create() -> Result<Cpu, JsError> {
        crate::device::run_constructors_once();
        Ok(Cpu {
            device: device::cpu(),
        })
    }
}

#[cfg(not(feature = "gpu"))]
impl Cpu {
    /// Burn's device.
    pub(super) fn device(&self) -> &Device {
        &self.device
    }
}

/// The GPU device. Create it once with [`Gpu::create`] and pass it to `init`.
#[cfg(feature = "gpu")]
#[wasm_bindgen]
pub struct Gpu {
    gpu: device::Gpu,
    /// The browser's `GPUDevice` (undefined when this handle shares an earlier one's device).
    web: JsValue,
    generation: usize,
}

#[cfg(feature = "gpu")]
#[wasm_bindgen]
impl Gpu {
    /// Requests a WebGPU adapter and device (async, as the browser requires).
    pub async fn create() -> Result<Gpu, JsError> {
        Gpu::generation(0).await
    }

    async fn generation(generation: usize) -> Result<Gpu, JsError> {
        let (gpu, web) = device::browser_gpu(generation).await.map_err(js_err)?;
        Ok(Gpu {
            gpu,
            web,
            generation,
        })
    }

    /// A new device to continue on after this one was lost (states, batches and uploads made
    /// on the lost one cannot be used on it: restore them from a checkpoint).
    pub async fn recreate(&self) -> Result<Gpu, JsError> {
        Gpu::generation(self.generation + 1).await
    }

    /// Whether the adapter is a CPU implementation (SwiftShader, lavapipe, a fallback adapter):
    /// there the CPU module trains faster than this "GPU".
    #[wasm_bindgen(getter)]
    pub fn software(&self) -> bool {
        self.gpu.wgpu.as_ref().is_some_and(Handles::is_software)
    }

    /// Resolves with `{ reason, message }` if the device is lost (WebGPU's `device.lost`);
    /// never resolves while it works.
    #[wasm_bindgen(getter)]
    pub fn lost(&self) -> js_sys::Promise {
        device::device_lost(&self.web)
    }

    /// Destroys the device (WebGPU's `device.destroy()`): `lost` then resolves with reason
    /// "destroyed". Frees the GPU memory at once; also how tests simulate a device loss.
    pub fn destroy(&self) -> Result<(), JsError> {
        device::destroy_device(&self.web)
            .map_err(|e| JsError::new(&format!("cannot destroy the GPU device: {e:?}")))
    }
}

#[cfg(feature = "gpu")]
impl Gpu {
    /// Burn's device (the Burn path).
    pub(super) fn device(&self) -> &Device {
        &self.gpu.device
    }

    /// The wgpu handles compiled steps need (`jit`), or an error saying why there are none.
    pub(super) fn handles(&self) -> Result<&Handles, JsError> {
        self.gpu.handles().map_err(js_err)
    }
}
