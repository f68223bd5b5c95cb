//! Creating the device a run uses: the GPU through wgpu (WebGPU in the browser, Vulkan, Metal
//! or DX12 natively) or, natively, Burn's Flex CPU backend (pure Rust; Burn 0.22's replacement
//! for the deprecated ndarray backend).

use std::sync::Arc;

use burn::tensor::wgpu::{WgpuInitError, wgpu};
use burn::tensor::{Device, DeviceKind};

use crate::error::Error;

/// The native CPU device (Flex): deterministic, used by the tests.
#[cfg(not(target_arch = "wasm32"))]
pub fn cpu() -> Device {
    Device::flex()
}

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

// CubeCL's kernels (its reductions, and its matmul where `matmul::mm` falls back to it) read
// subgroup builtins, and in the browser its WGSL then says
// `enable subgroups;`, which WebGPU only accepts on a device created with the "subgroups"
// feature. wgpu 30's WebGPU backend has no name for that feature, so it never asks for it and
// every such kernel is rejected ("extension 'subgroups' is not allowed"), on real GPUs as on
// SwiftShader; autotune then benchmarks invalid pipelines. Until wgpu maps the feature, add it
// to the device request while (and only while) our device is created.
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
