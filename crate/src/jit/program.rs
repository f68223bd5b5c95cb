//! Compiling a stack's step: its pipelines, checked against the device's limits, and the buffer
//! helpers the state uses.

use std::sync::Arc;

use burn::tensor::wgpu::wgpu;
use wgpu::util::DeviceExt;

use super::kernels::{self, Kernel, Shape, Slot};
use super::textured;
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
    /// Each layer's parameters into its texture (`Tiling::textures`; empty otherwise).
    pub(super) sync: Vec<Pipeline>,
    /// Each layer's `Layer` uniform (`Tiling::textures`; empty otherwise).
    pub(super) layer_uniforms: Vec<Owned>,
    pub(super) table: Owned,
}

#[derive(Clone)]
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
        let mut shape = Shape {
            dims: first
                .mlp
                .layer_dims()
                .iter()
                .map(|d| d.0)
                .chain([first.mlp.output])
                .collect(),
            models: configs.len(),
            batch,
            activations: configs.iter().map(|c| c.activation.clone()).collect(),
            optimizer: first.optimizer,
            metric_slots: METRIC_SLOTS,
            tiling: tiling.unwrap_or(Tiling::GPU),
        };
        let limits = gpu.device.limits();
        if tiling.is_none() && gpu.is_software() {
            // Textures where the device's limits hold them (any WebGPU's do at batch 256).
            shape.tiling = Tiling::SOFTWARE;
            if check_textures(&limits, &shape).is_err() {
                shape.tiling = Tiling::SOFTWARE_BUFFERS;
            }
        }
        check_limits(&limits, &shape)?;
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
        // Kernels of the same source (the layers' passes on textures) share one pipeline.
        let built: std::cell::RefCell<Vec<(String, Pipeline)>> = Default::default();
        let build = |k: Kernel| {
            let mut built = built.borrow_mut();
            if let Some((_, p)) = built.iter().find(|(src, _)| *src == k.source) {
                return Pipeline {
                    name: k.name,
                    pipeline: p.pipeline.clone(),
                    layout: p.layout.clone(),
                    grid: k.grid,
                };
            }
            let src = k.source.clone();
            let p = build_pipeline(device, &step_layout, k);
            built.push((src, p.clone()));
            p
        };
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
            sync: if shape.tiling.textures {
                (0..layers)
                    .map(|l| build(textured::sync(&shape, l)))
                    .collect()
            } else {
                Vec::new()
            },
            layer_uniforms: if shape.tiling.textures {
                (0..layers)
                    .map(|l| {
                        let u = textured::layer_uniform(&shape, l);
                        Owned(
                            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                                label: Some("actlab layer"),
                                contents: &u32_bytes(&u),
                                usage: wgpu::BufferUsages::UNIFORM,
                            }),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            },
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
        2 * self.shape.layers() + 3 + self.sync.len()
    }

    pub fn tiling(&self) -> Tiling {
        self.shape.tiling
    }
}

pub(super) fn check_limits(limits: &wgpu::Limits, s: &Shape) -> Result<(), Error> {
    let t = s.tiling;
    if [t.x, t.y, t.rows, t.cols].contains(&0) {
        return Err(Error::Config(format!(
            "a tiling needs at least one invocation and one output each way; got {t:?}"
        )));
    }
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
    if s.tiling.textures {
        check_textures(limits, s)?;
    }
    Ok(())
}

/// Whether the device holds the textures of `Tiling::textures` (`textured.rs`).
fn check_textures(limits: &wgpu::Limits, s: &Shape) -> Result<(), Error> {
    let t = s.tiling;
    if !t.rows.is_multiple_of(4) || !t.cols.is_multiple_of(4) || t.split > 1 || t.spread {
        return Err(Error::Config(format!(
            "products on textures need rows and columns per invocation that are multiples of 4, unsplit and unspread; got {t:?}"
        )));
    }
    let sides = (0..s.layers()).flat_map(|l| {
        let (a, g, w) = (s.input_texture(l), s.grad_texture(l), s.weight_texture(l));
        [a.0, a.1, g.0, g.1, w.0, w.1]
    });
    let side = sides.max().unwrap_or(0) as u64;
    if side > limits.max_texture_dimension_2d as u64
        || s.models as u64 > limits.max_texture_array_layers as u64
        || limits.max_storage_textures_per_shader_stage < 1
        || limits.max_sampled_textures_per_shader_stage < 3
    {
        return Err(Error::Config(format!(
            "a stack of {} models at batch size {} needs textures {side} texels on a side; this device allows {}",
            s.models, s.batch, limits.max_texture_dimension_2d
        )));
    }
    Ok(())
}

pub(super) fn build_pipeline(
    device: &wgpu::Device,
    step: &wgpu::BindGroupLayout,
    k: Kernel,
) -> Pipeline {
    let buffer = |read_only| wgpu::BindingType::Buffer {
        ty: wgpu::BufferBindingType::Storage { read_only },
        has_dynamic_offset: false,
        min_binding_size: None,
    };
    let entries: Vec<wgpu::BindGroupLayoutEntry> = k
        .bindings
        .iter()
        .enumerate()
        .map(|(i, slot)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match slot {
                Slot::Uniform => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                Slot::Read => buffer(true),
                Slot::Write => buffer(false),
                Slot::Texture => wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                    multisampled: false,
                },
                Slot::Store => wgpu::BindingType::StorageTexture {
                    access: wgpu::StorageTextureAccess::WriteOnly,
                    format: wgpu::TextureFormat::Rgba32Float,
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                },
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

/// What a bind group slot holds: a whole buffer or a texture's view.
#[derive(Clone, Copy)]
pub(super) enum Res<'a> {
    Buf(&'a wgpu::Buffer),
    Tex(&'a wgpu::TextureView),
}

pub(super) fn bind(device: &wgpu::Device, p: &Pipeline, slots: &[Res]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = slots
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: match r {
                Res::Buf(b) => b.as_entire_binding(),
                Res::Tex(v) => wgpu::BindingResource::TextureView(v),
            },
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.layout,
        entries: &entries,
    })
}
