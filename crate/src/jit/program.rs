//! Compiling a stack's step: its pipelines, checked against the device's limits, and the buffer
//! helpers the state uses.

use std::sync::Arc;

use burn::tensor::wgpu::wgpu;
use wgpu::util::DeviceExt;

use super::kernels::{self, Kernel, Shape};
use super::{Handles, MAX_MODELS, METRIC_SLOTS, Tiling};
use crate::data::{SIDE, normalise};
use crate::error::Error;
use crate::train::TrainConfig;

/// A compiled train/eval program for one stack shape and batch size.
pub struct Program {
    pub(super) gpu: Handles,
    pub(super) shape: Shape,
    pub(super) configs: Vec<TrainConfig>,
    pub(super) step_layout: wgpu::BindGroupLayout,
    pub(super) gather: Pipeline,
    pub(super) forward: Vec<Pipeline>,
    pub(super) loss_train: Pipeline,
    pub(super) loss_eval: Pipeline,
    pub(super) backward: Vec<Pipeline>,
    pub(super) update: Pipeline,
    pub(super) table: Owned,
}

pub(super) struct Pipeline {
    /// For `StackState::profile` (native only).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(super) name: String,
    pub(super) pipeline: wgpu::ComputePipeline,
    pub(super) layout: wgpu::BindGroupLayout,
    pub(super) grid: (u32, u32, u32),
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("shape", &self.shape)
            .finish()
    }
}

impl Program {
    /// Compiles the step for `configs` (one per model: same layer sizes and optimizer; the
    /// activation and initializers may differ) at `batch` images per step. `tiling` picks the
    /// matrix products' workgroup shape; `None` chooses by adapter.
    pub fn compile(
        gpu: &Handles,
        configs: &[TrainConfig],
        batch: usize,
        tiling: Option<Tiling>,
    ) -> Result<Arc<Program>, Error> {
        let first = configs
            .first()
            .ok_or_else(|| Error::Config("a stack needs at least one model".into()))?;
        if configs.len() > MAX_MODELS {
            return Err(Error::Config(format!(
                "a stack holds at most {MAX_MODELS} models, got {}",
                configs.len()
            )));
        }
        for c in configs {
            c.validate()?;
            if c.mlp != first.mlp || c.optimizer != first.optimizer {
                return Err(Error::Config(format!(
                    "every model of a stack needs the same layer sizes and optimizer; got {:?} with {:?} and {:?} with {:?}",
                    first.mlp, first.optimizer, c.mlp, c.optimizer
                )));
            }
        }
        if first.mlp.input != SIDE * SIDE {
            return Err(Error::Config(format!(
                "a compiled step reads {SIDE}x{SIDE} images: the input size must be {}, got {}",
                SIDE * SIDE,
                first.mlp.input
            )));
        }
        let tiling = tiling.unwrap_or(if gpu.is_software() {
            Tiling::SOFTWARE
        } else {
            Tiling::GPU
        });
        let shape = Shape {
            dims: first
                .mlp
                .layer_dims()
                .iter()
                .map(|d| d.0)
                .chain([first.mlp.output])
                .collect(),
            models: configs.len(),
            batch,
            activations: configs.iter().map(|c| c.activation).collect(),
            optimizer: first.optimizer,
            metric_slots: METRIC_SLOTS,
            tiling,
        };
        check_limits(&gpu.device.limits(), &shape)?;
        let device = &gpu.device;
        let step_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("actlab step"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(32),
                },
                count: None,
            }],
        });
        let build = |k: Kernel| build_pipeline(device, &step_layout, k);
        let layers = shape.layers();
        let table: Vec<f32> = (0..=255u8).map(normalise).collect();
        Ok(Arc::new(Program {
            gather: build(kernels::gather(&shape)),
            forward: (0..layers)
                .map(|l| build(kernels::forward(&shape, l)))
                .collect(),
            loss_train: build(kernels::loss(&shape, true)),
            loss_eval: build(kernels::loss(&shape, false)),
            backward: (0..layers)
                .map(|l| build(kernels::backward(&shape, l)))
                .collect(),
            update: build(kernels::update(&shape)),
            table: Owned(storage_init(device, "actlab table", &f32_bytes(&table))),
            step_layout,
            configs: configs.to_vec(),
            shape,
            gpu: gpu.clone(),
        }))
    }

    pub fn models(&self) -> usize {
        self.shape.models
    }

    pub fn batch_size(&self) -> usize {
        self.shape.batch
    }

    pub fn configs(&self) -> &[TrainConfig] {
        &self.configs
    }

    /// Dispatches per train step (for the whole stack).
    pub fn dispatches_per_step(&self) -> usize {
        2 * self.shape.layers() + 3
    }

    pub fn tiling(&self) -> Tiling {
        self.shape.tiling
    }
}

pub(super) fn check_limits(limits: &wgpu::Limits, s: &Shape) -> Result<(), Error> {
    // In u64: on wasm32 a usize product of outside sizes could wrap and pass.
    let widest = s.dims.iter().copied().max().unwrap_or(0) as u64;
    let (models, batch) = (s.models as u64, s.batch as u64);
    let biggest = [
        s.num_params() as u64,
        models.saturating_mul(batch).saturating_mul(widest),
        s.metric_slots as u64 * models * 2,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let bytes = biggest.saturating_mul(4);
    let max_binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if s.batch == 0 || bytes > max_binding || biggest > u32::MAX as u64 / 2 {
        return Err(Error::Config(format!(
            "a stack of {} models at batch size {} needs buffers of {bytes} bytes; this device binds at most {max_binding} (batch must be at least 1)",
            s.models, s.batch
        )));
    }
    let grids = (0..s.layers())
        .flat_map(|l| [kernels::forward(s, l).grid, kernels::backward(s, l).grid])
        .chain([kernels::gather(s).grid, kernels::update(s).grid]);
    let max = limits.max_compute_workgroups_per_dimension;
    for (x, y, z) in grids {
        if x > max || y > max || z > max {
            return Err(Error::Config(format!(
                "a stack of {} models at batch size {} needs more workgroups ({x}x{y}x{z}) than this device allows ({max} per dimension)",
                s.models, s.batch
            )));
        }
    }
    if limits.max_storage_buffers_per_shader_stage < 6 {
        return Err(Error::Device(
            "the compiled step needs 6 storage buffers per shader".into(),
        ));
    }
    Ok(())
}

pub(super) fn build_pipeline(
    device: &wgpu::Device,
    step: &wgpu::BindGroupLayout,
    k: Kernel,
) -> Pipeline {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = k
        .bindings
        .iter()
        .enumerate()
        .map(|(i, &write)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: !write },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(&k.name),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(&k.name),
        bind_group_layouts: &[Some(step), Some(&layout)],
        immediate_size: 0,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(&k.name),
        source: wgpu::ShaderSource::Wgsl(k.source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&k.name),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    Pipeline {
        name: k.name,
        pipeline,
        layout,
        grid: k.grid,
    }
}

pub(super) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A buffer destroyed when dropped. On the web, dropping a wgpu `Buffer` leaves the GPUBuffer
/// to the JavaScript garbage collector, which does not see GPU memory: a long run would hold
/// every readback and epoch order until a collection happened to run (the soak test counts
/// live buffers). WebGPU frees it once the work already submitted with it is done.
#[derive(Debug)]
pub(crate) struct Owned(pub(crate) wgpu::Buffer);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.destroy();
    }
}

impl std::ops::Deref for Owned {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        &self.0
    }
}

pub(super) fn storage_init(device: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
    })
}

pub(super) fn storage(device: &wgpu::Device, label: &str, elements: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        // A zero-sized binding is invalid; one element keeps degenerate layers bindable.
        size: 4 * elements.max(1) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

pub(super) fn bind(
    device: &wgpu::Device,
    p: &Pipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.layout,
        entries: &entries,
    })
}
