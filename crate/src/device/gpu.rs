//! The GPU: Burn's wgpu device and the wgpu handles behind it, created natively or in the
//! browser (where the adapter needs a few shims before Burn asks for a device).

use std::sync::Arc;

use burn::tensor::wgpu::{WgpuInitError, wgpu};
use burn::tensor::{Device, DeviceKind};

#[cfg(target_arch = "wasm32")]
use super::run_constructors_once;
use crate::error::Error;

/// The default wgpu adapter's device. Async because the browser only hands out devices
/// asynchronously; natively it can be driven by any executor. Burn registers one runtime per
/// adapter for the whole process: a second call returns a handle to that same device.
pub async fn gpu() -> Result<Device, Error> {
    Ok(gpu_of(DeviceKind::DefaultDevice).await?.0.device)
}

/// A GPU shared by the Burn path and compiled steps: Burn's device and the wgpu handles
/// behind it (`None` where Burn's runtime for that adapter was registered before, by an
/// earlier `gpu()`, and its handles can no longer be had).
#[derive(Clone, Debug)]
pub struct Gpu {
    pub device: Device,
    pub wgpu: Option<Handles>,
}

impl Gpu {
    /// The handles a compiled step needs, or an error saying why there are none.
    pub fn handles(&self) -> Result<&Handles, Error> {
        self.wgpu.as_ref().ok_or_else(|| {
            Error::Device(
                "this GPU was registered with Burn before ActLab could keep its wgpu handles: create the GPU once (device::shared_gpu natively, Gpu.create() in the browser) and share it".into(),
            )
        })
    }
}

/// The wgpu device and queue a compiled program runs on (Burn's own, see [`Gpu`]).
#[derive(Clone, Debug)]
pub struct Handles {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Whether the adapter is a CPU implementation (SwiftShader, lavapipe, llvmpipe): it picks
    /// the matrix products' tiling.
    software: bool,
    /// Identifies the device: data and stacks must share it.
    token: Arc<()>,
}

impl Handles {
    /// `software: None` reads it from the adapter's info (natively; in the browser that info
    /// is mostly empty, so `gpu_of` asks the browser's adapter instead).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, software: Option<bool>) -> Handles {
        let software = software.unwrap_or_else(|| {
            let info = device.adapter_info();
            info.device_type == wgpu::DeviceType::Cpu
                || format!("{} {}", info.name, info.driver)
                    .to_lowercase()
                    .contains("swiftshader")
        });
        Handles {
            device,
            queue,
            software,
            token: Arc::new(()),
        }
    }

    pub fn is_software(&self) -> bool {
        self.software
    }

    /// Whether `other` is a handle to the same device (buffers of one cannot be used on the
    /// other).
    pub fn same_device(&self, other: &Handles) -> bool {
        Arc::ptr_eq(&self.token, &other.token)
    }
}

/// The default adapter as a [`Gpu`]: create it once and clone it.
#[cfg(not(target_arch = "wasm32"))]
pub async fn shared_gpu() -> Result<Gpu, Error> {
    Ok(gpu_of(DeviceKind::DefaultDevice).await?.0)
}

/// In the browser: a new device, registered as generation `generation` (1, 2, ...), for when
/// an earlier one was lost (Burn keeps one runtime per device kind and index, and a lost
/// device's runtime cannot be revived). Also returns the browser's `GPUDevice`, whose `lost`
/// promise reports a loss.
#[cfg(target_arch = "wasm32")]
pub async fn browser_gpu(generation: usize) -> Result<(Gpu, wasm_bindgen::JsValue), Error> {
    let kind = match generation {
        0 => DeviceKind::DefaultDevice,
        // In the browser every kind but IntegratedGpu asks for the high-performance adapter.
        n => DeviceKind::VirtualGpu(n),
    };
    gpu_of(kind).await
}

#[cfg(not(target_arch = "wasm32"))]
async fn gpu_of(kind: DeviceKind) -> Result<(Gpu, ()), Error> {
    created(
        Device::wgpu_options()
            .device_kind(kind.clone())
            .init_with_setup_async()
            .await,
        kind,
        None,
    )
    .map(|d| (d, ()))
}

#[cfg(target_arch = "wasm32")]
async fn gpu_of(kind: DeviceKind) -> Result<(Gpu, wasm_bindgen::JsValue), Error> {
    use wasm_bindgen::JsCast;
    let (patch, software) = prepare_browser().await;
    let made = Device::wgpu_options()
        .device_kind(kind.clone())
        .init_with_setup_async()
        .await;
    let get = |name: &str| js_sys::Reflect::get(&patch, &name.into()).unwrap_or_default();
    if let Ok(restore) = get("restore").dyn_into::<js_sys::Function>() {
        let _ = restore.call0(&wasm_bindgen::JsValue::NULL);
    }
    Ok((created(made, kind, Some(software))?, get("device")))
}

fn created(
    made: Result<(Device, burn::tensor::wgpu::WgpuSetup), WgpuInitError>,
    kind: DeviceKind,
    software: Option<bool>,
) -> Result<Gpu, Error> {
    match made {
        Ok((device, setup)) => Ok(Gpu {
            device,
            wgpu: Some(Handles::new(setup.device, setup.queue, software)),
        }),
        Err(WgpuInitError::Registration { .. }) => Ok(Gpu {
            device: Device::wgpu(kind),
            wgpu: None,
        }),
        Err(e) => Err(Error::Device(format!("cannot initialise WebGPU/wgpu: {e}"))),
    }
}

/// Everything the browser needs before our device is created (see each function); returns
/// the scoped `requestDevice` patch (`restore()` undoes it; `device` is the device it made) and
/// whether the adapter is a CPU implementation (wgpu's adapter info in the browser does not
/// say).
#[cfg(target_arch = "wasm32")]
async fn prepare_browser() -> (js_sys::Object, bool) {
    run_constructors_once();
    log_to_console();
    let software = wasm_bindgen_futures::JsFuture::from(is_software_adapter())
        .await
        .map(|v| v.is_truthy())
        .unwrap_or(false);
    if software {
        cheap_autotune();
    }
    (request_subgroups(), software)
}

/// Routes the `log` crate to the browser console at warning level. On wasm, CubeCL can only
/// report a WGSL module the browser refuses (with its source) through `log`; without a logger
/// such failures are silent. Idempotent: the first call installs the logger.
#[cfg(target_arch = "wasm32")]
fn log_to_console() {
    // Err only means a logger is already installed, which is what we want.
    let _ = console_log::init_with_level(log::Level::Warn);
}

/// On a software adapter (SwiftShader, lavapipe, llvmpipe) every candidate kernel autotune tries
/// compiles for seconds and runs for hundreds of ms, so the first step took minutes (211 s for
/// the tutorial MLP in Chromium). There, tune coarser shape buckets and time each candidate
/// once or twice instead of 3 to 10 times; real GPUs keep CubeCL's defaults. Must run before
/// CubeCL first reads its configuration; if it already has, the defaults stay (no error).
#[cfg(target_arch = "wasm32")]
fn cheap_autotune() {
    use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig, autotune::AutotuneLevel};
    let mut config = CubeClRuntimeConfig::default();
    config.autotune.level = AutotuneLevel::Minimal;
    config.autotune.bench.min_samples = 1;
    config.autotune.bench.max_samples = 2;
    config.autotune.bench.short_circuit_samples = 1;
    if !CubeClRuntimeConfig::try_set(config) {
        log::warn!("actlab: CubeCL's configuration was already read; autotune keeps its defaults");
    }
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function isSoftwareAdapter() {
  const adapter = globalThis.navigator && navigator.gpu && await navigator.gpu.requestAdapter();
  if (!adapter) return false;
  const info = adapter.info || {};
  return !!info.isFallbackAdapter
    || /swiftshader|lavapipe|llvmpipe|software/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}
"#)]
extern "C" {
    /// Whether the browser's default WebGPU adapter is a CPU implementation.
    #[wasm_bindgen(js_name = isSoftwareAdapter)]
    fn is_software_adapter() -> js_sys::Promise;
}

// Subgroups in the browser. wgpu 30's WebGPU backend has no name for the "subgroups" feature:
// it never reports it, so CubeCL never enables its plane (subgroup) operations there
// (cubecl-wgpu's runtime sets `Plane::Ops` only from wgpu's SUBGROUP feature), on any adapter,
// and its autotune refuses every plane candidate of its reductions (`PlanesUnavailable`). The
// only CubeCL kernels that emit subgroup operations regardless are two matmul candidates (gemm's
// dot variant, gemv "unit perpendicular"), whose WGSL says `enable subgroups;`; our
// `matmul::mm` replaces Burn's matmul, so they do not run. Where the adapter has the feature we
// still request it, so such a kernel would compile; where it has not (Firefox, some Safari
// releases), nothing needs it. The e2e suite pins this: on an adapter without "subgroups",
// with a real GPU's autotune, no shader module asks for subgroups.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function requestSubgroups() {
  const patch = { restore: () => {}, device: undefined };
  const proto = globalThis.GPUAdapter && globalThis.GPUAdapter.prototype;
  if (!proto) return patch;
  const original = proto.requestDevice;
  proto.requestDevice = function (desc) {
    const d = Object.assign({}, desc);
    const features = Array.from(d.requiredFeatures || []);
    if (this.features.has('subgroups')) {
      if (!features.includes('subgroups')) features.push('subgroups');
    } else {
      console.warn('actlab: this WebGPU adapter has no "subgroups" feature: CubeCL picks kernels without subgroup operations on it, and the compiled step needs none');
    }
    d.requiredFeatures = features;
    return original.call(this, d).then((device) => {
      patch.device = device;
      if (!features.includes('subgroups')) return device;
      // Tint's uniformity analysis rejects subgroup calls in CubeCL's loops that naga and the
      // native drivers accept; relax that one diagnostic, on this device's modules only.
      const create = device.createShaderModule.bind(device);
      device.createShaderModule = (m) => create(m.code.includes('enable subgroups;')
        ? Object.assign({}, m, { code: m.code.replace('enable subgroups;', 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);') })
        : m);
      return device;
    });
  };
  patch.restore = () => { proto.requestDevice = original; };
  return patch;
}
"#)]
extern "C" {
    /// Makes `GPUAdapter.requestDevice` also request "subgroups" where the adapter has it;
    /// returns `{ restore, device }`: the function that undoes this, and the device it made.
    #[wasm_bindgen(js_name = requestSubgroups)]
    fn request_subgroups() -> js_sys::Object;
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function deviceLost(device) {
  if (!device || !device.lost) return new Promise(() => {});
  return device.lost.then((info) => ({ reason: info.reason, message: info.message }));
}
export function destroyDevice(device) {
  if (!device || typeof device.destroy !== 'function') throw new Error('this handle does not own a browser GPU device');
  device.destroy();
}
"#)]
extern "C" {
    /// `device.lost`, resolving to `{ reason, message }`; never resolves without a device.
    #[wasm_bindgen(js_name = deviceLost)]
    pub(crate) fn device_lost(device: &wasm_bindgen::JsValue) -> js_sys::Promise;
    /// `device.destroy()`.
    #[wasm_bindgen(js_name = destroyDevice, catch)]
    pub(crate) fn destroy_device(
        device: &wasm_bindgen::JsValue,
    ) -> Result<(), wasm_bindgen::JsValue>;
}
