//! ActLab's `jit`: the whole train step of a stack of models compiled once into a fixed list of
//! WGSL pipelines over buffers that live as long as the state, and replayed every step as one
//! compute pass and one queue submit, with nothing allocated or planned per step.
//!
//! A *stack* is K models of the same layer sizes and optimizer, each with its own activation
//! (JAX's `vmap` over models): parameters carry a leading model axis, every layer is one
//! dispatch for all K, and every model sees the same batch. Model k's initial parameters are
//! `TrainState::init` of that model alone with its key, and its losses are those of training it
//! alone (`tests/jit.rs` holds both paths to that).
//!
//! The API stays pure in JAX's sense of donated buffers: [`train_step`] consumes the state and
//! returns the next one (updated in place on the GPU, so the old one cannot be observed), and
//! [`eval_step`] / [`predict`] borrow it. Metrics stay on the GPU, in a ring of slots, until
//! [`read_metrics`] reads many steps' worth at once.
//!
//! Built on the wgpu device Burn itself uses ([`crate::device::Gpu`]): the Burn path
//! (`train::train_step`) remains the reference, and the analyses, checkpoints and the Flax
//! export reach a stack's models through [`HostModel`] (one host copy, e.g. once per epoch).

pub mod kernels;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;
use wgpu::util::DeviceExt;

use crate::Error;
use crate::checkpoint::{Checkpoint, HostOptState};
use crate::data::{Dataset, SIDE, epoch_batches, normalise};
use crate::mlp::HostDense;
use crate::optim::Optimizer;
use crate::prng::Key;
use crate::train::{MetricValues, TrainConfig, TrainState};
pub use kernels::Tiling;
use kernels::{Kernel, Shape};

/// The wgpu device and queue a compiled program runs on (Burn's own, see `device::Gpu`).
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
    /// is mostly empty, so `device.rs` asks the browser's adapter instead).
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
}

/// Bytes of one `Step` uniform slot: the largest `min_uniform_buffer_offset_alignment` allowed.
const STEP_SLOT: u64 = 256;
/// Steps one submit can hold (each gets its own uniform slot).
const STEPS_PER_SUBMIT: usize = 64;
/// Steps' metrics kept on the GPU until read; a loop reads a few times a second.
const METRIC_SLOTS: usize = 4096;

/// A compiled train/eval program for one stack shape and batch size.
pub struct Program {
    gpu: Handles,
    shape: Shape,
    configs: Vec<TrainConfig>,
    step_layout: wgpu::BindGroupLayout,
    gather: Pipeline,
    forward: Vec<Pipeline>,
    loss_train: Pipeline,
    loss_eval: Pipeline,
    backward: Vec<Pipeline>,
    update: Pipeline,
    table: wgpu::Buffer,
}

struct Pipeline {
    /// For `StackState::profile` (native only).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    name: String,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    grid: (u32, u32, u32),
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
        for c in configs {
            c.mlp.validate()?;
            c.optimizer.validate()?;
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
            table: storage_init(device, "actlab table", &f32_bytes(&table)),
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

fn check_limits(limits: &wgpu::Limits, s: &Shape) -> Result<(), Error> {
    let widest = s.dims.iter().copied().max().unwrap_or(0);
    let biggest = [
        s.num_params(),
        s.models * s.batch * widest,
        s.metric_slots * s.models * 2,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let bytes = (biggest as u64).saturating_mul(4);
    let max_binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if s.batch == 0 || bytes > max_binding || biggest > u32::MAX as usize / 2 {
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

fn build_pipeline(device: &wgpu::Device, step: &wgpu::BindGroupLayout, k: Kernel) -> Pipeline {
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

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn storage_init(device: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
    })
}

fn storage(device: &wgpu::Device, label: &str, elements: usize) -> wgpu::Buffer {
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

/// A split's images and labels on the GPU, for compiled steps: pixels stay bytes (4 per u32).
#[derive(Clone, Debug)]
pub struct Data(Arc<DataInner>);

#[derive(Debug)]
struct DataInner {
    pixels: wgpu::Buffer,
    labels: wgpu::Buffer,
    /// Bound as the order of `range` batches, which read rows in place.
    no_order: Arc<wgpu::Buffer>,
    len: usize,
    gpu: Handles,
}

impl Data {
    pub fn upload(gpu: &Handles, data: &Dataset) -> Result<Data, Error> {
        let len = data.len();
        if len == 0 || data.images.len() != len * SIDE * SIDE {
            return Err(Error::Shape(format!(
                "a split to upload needs at least one image and {} bytes per image",
                SIDE * SIDE
            )));
        }
        let d = &gpu.device;
        Ok(Data(Arc::new(DataInner {
            pixels: storage_init(d, "actlab pixels", &data.images),
            labels: storage_init(
                d,
                "actlab labels",
                &u32_bytes(&data.labels.iter().map(|&l| l as u32).collect::<Vec<_>>()),
            ),
            no_order: Arc::new(storage(d, "actlab no order", 1)),
            len,
            gpu: gpu.clone(),
        })))
    }

    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The epoch's batch order from `key` (the same permutation as `DeviceDataset::epoch_order`,
    /// so both paths see the same batches), uploaded once.
    pub fn epoch(&self, key: Key, batch_size: usize) -> Result<Epoch, Error> {
        if batch_size == 0 || batch_size > self.len() {
            return Err(Error::Shape(format!(
                "batch size {batch_size} does not fit a split of {} images",
                self.len()
            )));
        }
        let order: Vec<u32> = epoch_batches(key, self.len(), batch_size).concat();
        Ok(Epoch {
            data: self.0.clone(),
            order: Arc::new(storage_init(
                &self.0.gpu.device,
                "actlab order",
                &u32_bytes(&order),
            )),
            batch_size,
            batches: order.len() / batch_size,
        })
    }

    /// Images `start..start + n`, in order.
    pub fn range(&self, start: usize, n: usize) -> Result<BatchRef, Error> {
        let end = start.checked_add(n).filter(|&e| e <= self.len() && n > 0);
        if end.is_none() {
            return Err(Error::Shape(format!(
                "images {start}..{start}+{n} are outside a split of {}",
                self.len()
            )));
        }
        Ok(BatchRef {
            data: self.0.clone(),
            order: self.0.no_order.clone(),
            offset: start as u32,
            n: n as u32,
            mode: 1,
        })
    }

    /// The whole split in chunks of at most `chunk` images (for evaluation).
    pub fn chunks(&self, chunk: usize) -> Result<Vec<BatchRef>, Error> {
        let chunk = chunk.max(1);
        (0..self.len())
            .step_by(chunk)
            .map(|s| self.range(s, chunk.min(self.len() - s)))
            .collect()
    }
}

/// One epoch's batch order on the GPU.
#[derive(Clone, Debug)]
pub struct Epoch {
    data: Arc<DataInner>,
    order: Arc<wgpu::Buffer>,
    batch_size: usize,
    batches: usize,
}

impl Epoch {
    pub fn batches(&self) -> usize {
        self.batches
    }

    pub fn batch(&self, i: usize) -> Result<BatchRef, Error> {
        if i >= self.batches {
            return Err(Error::Data(crate::DataError::BatchOutOfRange {
                batch: i,
                batches: self.batches,
            }));
        }
        Ok(BatchRef {
            data: self.data.clone(),
            order: self.order.clone(),
            offset: (i * self.batch_size) as u32,
            n: self.batch_size as u32,
            mode: 0,
        })
    }
}

/// A batch a compiled step gathers on the GPU: nothing is copied until the step runs.
#[derive(Clone, Debug)]
pub struct BatchRef {
    data: Arc<DataInner>,
    order: Arc<wgpu::Buffer>,
    offset: u32,
    n: u32,
    mode: u32,
}

impl BatchRef {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// One model of a stack on the host: what a checkpoint holds, without the run's key.
#[derive(Clone, Debug, PartialEq)]
pub struct HostModel {
    pub config: TrainConfig,
    pub step: u64,
    pub params: Vec<HostDense>,
    pub opt_state: HostOptState,
}

impl HostModel {
    /// A Burn-path state read to the host (async: WebGPU cannot block).
    pub async fn of(state: &TrainState) -> Result<HostModel, Error> {
        Ok(HostModel::from_checkpoint(
            Checkpoint::of(state, crate::prng::key(0), String::new()).await?,
        ))
    }

    pub fn from_checkpoint(c: Checkpoint) -> HostModel {
        HostModel {
            config: c.config,
            step: c.step,
            params: c.params,
            opt_state: c.opt_state,
        }
    }

    pub fn into_checkpoint(self, key: Key, meta: String) -> Checkpoint {
        Checkpoint {
            config: self.config,
            step: self.step,
            key,
            params: self.params,
            opt_state: self.opt_state,
            meta,
        }
    }

    /// The Burn-path `TrainState` on `device` (for the analyses, or to go on without `jit`).
    pub fn restore(&self, device: &Device) -> TrainState {
        self.clone()
            .into_checkpoint(crate::prng::key(0), String::new())
            .restore(device)
    }
}

/// Metrics ring: `[slots, K, 2]` on the GPU plus how many slots were ever written.
#[derive(Debug)]
struct Ring {
    buffer: wgpu::Buffer,
    written: AtomicU64,
    models: usize,
    gpu: Handles,
}

/// One step's per-model metrics, still on the GPU.
#[derive(Clone, Debug)]
pub struct StackMetrics {
    ring: Arc<Ring>,
    seq: u64,
}

/// The state of a compiled stack: every model's parameters and optimizer moments, and the
/// buffers its step writes, on the GPU.
pub struct StackState {
    program: Arc<Program>,
    step: u64,
    bufs: Buffers,
    groups: Groups,
    ring: Arc<Ring>,
    /// Bind groups of the gather, per (split, order) seen last.
    gathers: Vec<(Arc<DataInner>, Arc<wgpu::Buffer>, wgpu::BindGroup)>,
}

struct Buffers {
    params: wgpu::Buffer,
    opt: Vec<wgpu::Buffer>,
    x0: wgpu::Buffer,
    ylab: wgpu::Buffer,
    classes: wgpu::Buffer,
    steps: wgpu::Buffer,
}

struct Groups {
    step: wgpu::BindGroup,
    forward: Vec<wgpu::BindGroup>,
    loss_train: wgpu::BindGroup,
    loss_eval: wgpu::BindGroup,
    backward: Vec<wgpu::BindGroup>,
    update: wgpu::BindGroup,
}

impl std::fmt::Debug for StackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackState")
            .field("models", &self.program.shape.models)
            .field("step", &self.step)
            .finish()
    }
}

fn bind(device: &wgpu::Device, p: &Pipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
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

impl StackState {
    /// `TrainState::init` of every model with its own key (`keys[k]` for model k).
    pub fn init(program: &Arc<Program>, keys: &[Key]) -> Result<StackState, Error> {
        if keys.len() != program.models() {
            return Err(Error::Config(format!(
                "{} keys for a stack of {} models",
                keys.len(),
                program.models()
            )));
        }
        let models = program
            .configs
            .iter()
            .zip(keys)
            .map(|(c, &key)| {
                let params = crate::mlp::init_host(key, &c.mlp, c.kernel_init, c.bias_init)?;
                let zeros: Vec<HostDense> = params.iter().map(HostDense::zeros_like).collect();
                let opt_state = match c.optimizer {
                    Optimizer::Sgd { .. } => HostOptState::Sgd { trace: zeros },
                    Optimizer::Adam { .. } => HostOptState::Adam {
                        count: 0,
                        mu: zeros.clone(),
                        nu: zeros,
                    },
                };
                Ok(HostModel {
                    config: c.clone(),
                    step: 0,
                    params,
                    opt_state,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        StackState::from_host(program, &models)
    }

    /// A stack holding `models` (model k's config must be the program's config k, and all
    /// models must be at the same step: they train in lockstep).
    pub fn from_host(program: &Arc<Program>, models: &[HostModel]) -> Result<StackState, Error> {
        let s = &program.shape;
        if models.len() != s.models {
            return Err(Error::Config(format!(
                "{} models for a stack of {}",
                models.len(),
                s.models
            )));
        }
        let step = models[0].step;
        let mut flat = vec![vec![0f32; s.num_params()]; 1 + opt_buffers(s.optimizer)];
        for (k, m) in models.iter().enumerate() {
            check_model(program, k, m, step)?;
            for (b, layers) in host_layers(m).into_iter().enumerate() {
                pack(s, k, layers, &mut flat[b]);
            }
        }
        let device = &program.gpu.device;
        let params = storage_init(device, "actlab params", &f32_bytes(&flat[0]));
        let opt = flat[1..]
            .iter()
            .map(|v| storage_init(device, "actlab optimizer", &f32_bytes(v)))
            .collect();
        Ok(StackState::with_buffers(program, params, opt, step))
    }

    fn with_buffers(
        program: &Arc<Program>,
        params: wgpu::Buffer,
        opt: Vec<wgpu::Buffer>,
        step: u64,
    ) -> StackState {
        let s = &program.shape;
        let device = &program.gpu.device;
        let (k, b, l) = (s.models, s.batch, s.layers());
        let grads = storage(device, "actlab grads", s.num_params());
        let x0 = storage(device, "actlab x0", b * s.dims[0]);
        let ylab = storage(device, "actlab labels batch", b);
        let classes = storage(device, "actlab classes", k * b);
        // z[i], a[i], dz[i]: layer i's output (i = 1..=L; index i - 1).
        let per_layer = |name: &str| -> Vec<wgpu::Buffer> {
            (1..=l)
                .map(|i| storage(device, name, k * b * s.dims[i]))
                .collect()
        };
        let (z, a, dz) = (
            per_layer("actlab z"),
            per_layer("actlab a"),
            per_layer("actlab dz"),
        );
        let metrics = storage(device, "actlab metrics", s.metric_slots * k * 2);
        let steps = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("actlab steps"),
            size: STEP_SLOT * STEPS_PER_SUBMIT as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let p = program;
        let input = |i: usize| if i == 0 { &x0 } else { &a[i - 1] };
        let forward = (0..l)
            .map(|i| {
                let mut bs = vec![input(i), &params, &z[i]];
                if i + 1 < l {
                    bs.push(&a[i]);
                }
                bind(device, &p.forward[i], &bs)
            })
            .collect();
        let backward = (0..l)
            .map(|i| {
                let mut bs = vec![input(i), &dz[i], &params, &grads];
                if i > 0 {
                    bs.extend([&dz[i - 1], &z[i - 1]]);
                }
                bind(device, &p.backward[i], &bs)
            })
            .collect();
        let mut upd = vec![&params, &grads];
        upd.extend(opt.iter());
        let groups = Groups {
            step: device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("actlab step"),
                layout: &p.step_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &steps,
                        offset: 0,
                        size: wgpu::BufferSize::new(32),
                    }),
                }],
            }),
            forward,
            loss_train: bind(
                device,
                &p.loss_train,
                &[&z[l - 1], &ylab, &metrics, &classes, &dz[l - 1]],
            ),
            loss_eval: bind(
                device,
                &p.loss_eval,
                &[&z[l - 1], &ylab, &metrics, &classes],
            ),
            backward,
            update: bind(device, &p.update, &upd),
        };
        StackState {
            program: program.clone(),
            step,
            groups,
            ring: Arc::new(Ring {
                buffer: metrics,
                written: AtomicU64::new(0),
                models: k,
                gpu: program.gpu.clone(),
            }),
            bufs: Buffers {
                params,
                opt,
                x0,
                ylab,
                classes,
                steps,
            },
            gathers: Vec::new(),
        }
    }

    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn models(&self) -> usize {
        self.program.shape.models
    }

    /// Every model on the host (one readback of the parameters and optimizer moments).
    pub async fn to_host(&self) -> Result<Vec<HostModel>, Error> {
        let s = &self.program.shape;
        let gpu = &self.program.gpu;
        let mut flat = vec![read_f32(gpu, &self.bufs.params).await?];
        for b in &self.bufs.opt {
            flat.push(read_f32(gpu, b).await?);
        }
        let unpack = |b: usize, k: usize| -> Vec<HostDense> {
            (0..s.layers())
                .map(|l| {
                    let (din, dout) = (s.dims[l], s.dims[l + 1]);
                    let at = s.layer_offset(l) + k * s.block(l);
                    let block = &flat[b][at..at + s.block(l)];
                    HostDense {
                        kernel_shape: [din, dout],
                        kernel: block[..din * dout].to_vec(),
                        bias: block[din * dout..].to_vec(),
                    }
                })
                .collect()
        };
        Ok((0..s.models)
            .map(|k| HostModel {
                config: self.program.configs[k].clone(),
                step: self.step,
                params: unpack(0, k),
                opt_state: match s.optimizer {
                    Optimizer::Sgd { .. } => HostOptState::Sgd {
                        trace: unpack(1, k),
                    },
                    Optimizer::Adam { .. } => HostOptState::Adam {
                        count: adam_count(self.step),
                        mu: unpack(1, k),
                        nu: unpack(2, k),
                    },
                },
            })
            .collect())
    }

    /// Model `k` on the host (take one out of a stack: checkpoints, Flax export, analyses).
    pub async fn model(&self, k: usize) -> Result<HostModel, Error> {
        self.check_index(k)?;
        Ok(self.to_host().await?.swap_remove(k))
    }

    /// The stack with model `k` replaced by `model` (put one back): same config, same step.
    pub fn with_model(self, k: usize, model: &HostModel) -> Result<StackState, Error> {
        self.check_index(k)?;
        check_model(&self.program, k, model, self.step)?;
        let s = &self.program.shape;
        let queue = &self.program.gpu.queue;
        let targets: Vec<&wgpu::Buffer> = std::iter::once(&self.bufs.params)
            .chain(&self.bufs.opt)
            .collect();
        for (buffer, layers) in targets.into_iter().zip(host_layers(model)) {
            for (l, layer) in layers.iter().enumerate() {
                let at = (s.layer_offset(l) + k * s.block(l)) as u64 * 4;
                let mut block = layer.kernel.clone();
                block.extend_from_slice(&layer.bias);
                queue.write_buffer(buffer, at, &f32_bytes(&block));
            }
        }
        Ok(self)
    }

    fn check_index(&self, k: usize) -> Result<(), Error> {
        if k >= self.models() {
            return Err(Error::Config(format!(
                "model {k} of a stack of {}",
                self.models()
            )));
        }
        Ok(())
    }

    fn gather_group(&self, b: &BatchRef) -> Result<wgpu::BindGroup, Error> {
        if let Some((_, _, g)) = self
            .gathers
            .iter()
            .find(|(d, o, _)| Arc::ptr_eq(d, &b.data) && Arc::ptr_eq(o, &b.order))
        {
            return Ok(g.clone());
        }
        Ok(bind(
            &self.program.gpu.device,
            &self.program.gather,
            &[
                &b.data.pixels,
                &b.data.labels,
                &b.order,
                &self.program.table,
                &self.bufs.x0,
                &self.bufs.ylab,
            ],
        ))
    }

    fn remember_gather(&mut self, b: &BatchRef, g: &wgpu::BindGroup) {
        if !self
            .gathers
            .iter()
            .any(|(d, o, _)| Arc::ptr_eq(d, &b.data) && Arc::ptr_eq(o, &b.order))
        {
            // A few entries: this epoch's order, the range batches of a split or two.
            if self.gathers.len() >= 4 {
                self.gathers.remove(0);
            }
            self.gathers
                .push((b.data.clone(), b.order.clone(), g.clone()));
        }
    }

    /// Writes one `Step` uniform slot per batch and reserves their metrics slots; returns the
    /// first metrics sequence number.
    fn write_steps(&self, batches: &[(BatchRef, wgpu::BindGroup)], train: bool) -> u64 {
        let s = &self.program.shape;
        let mut uniforms = vec![0u8; batches.len() * STEP_SLOT as usize];
        let first_seq = self
            .ring
            .written
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
        for (i, (b, _)) in batches.iter().enumerate() {
            let seq = first_seq + i as u64;
            let (c1, c2) = match (train, s.optimizer) {
                (true, Optimizer::Adam { b1, b2, .. }) => {
                    let count = adam_count(self.step + i as u64 + 1) as i32;
                    ((1.0 - b1.powi(count)) as f32, (1.0 - b2.powi(count)) as f32)
                }
                _ => (1.0, 1.0),
            };
            let words = [
                b.offset.to_le_bytes(),
                b.n.to_le_bytes(),
                b.mode.to_le_bytes(),
                ((seq % s.metric_slots as u64) as u32).to_le_bytes(),
                c1.to_le_bytes(),
                c2.to_le_bytes(),
            ];
            let at = i * STEP_SLOT as usize;
            uniforms[at..at + 24].copy_from_slice(&words.concat());
        }
        self.program
            .gpu
            .queue
            .write_buffer(&self.bufs.steps, 0, &uniforms);
        first_seq
    }

    /// Encodes and submits `batches` (at most `STEPS_PER_SUBMIT`), one train or eval step each.
    fn run(&self, batches: &[(BatchRef, wgpu::BindGroup)], train: bool) -> Vec<StackMetrics> {
        let p = &self.program;
        let first_seq = self.write_steps(batches, train);
        let gpu = &p.gpu;
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            for (i, (_, gather)) in batches.iter().enumerate() {
                // One uniform slot per step; group 0 then persists across the pipelines,
                // which all share its layout.
                pass.set_bind_group(0, &self.groups.step, &[(i as u64 * STEP_SLOT) as u32]);
                go(&mut pass, &p.gather, gather);
                for (pl, g) in p.forward.iter().zip(&self.groups.forward) {
                    go(&mut pass, pl, g);
                }
                if train {
                    go(&mut pass, &p.loss_train, &self.groups.loss_train);
                    for (pl, g) in p.backward.iter().zip(&self.groups.backward).rev() {
                        go(&mut pass, pl, g);
                    }
                    go(&mut pass, &p.update, &self.groups.update);
                } else {
                    go(&mut pass, &p.loss_eval, &self.groups.loss_eval);
                }
            }
        }
        gpu.queue.submit([encoder.finish()]);
        (0..batches.len())
            .map(|i| StackMetrics {
                ring: self.ring.clone(),
                seq: first_seq + i as u64,
            })
            .collect()
    }
}

fn go(pass: &mut wgpu::ComputePass, pl: &Pipeline, g: &wgpu::BindGroup) {
    pass.set_pipeline(&pl.pipeline);
    pass.set_bind_group(1, g, &[]);
    pass.dispatch_workgroups(pl.grid.0, pl.grid.1, pl.grid.2);
}

#[cfg(not(target_arch = "wasm32"))]
impl StackState {
    /// Where a train step's GPU time goes: each kernel alone, `reps` dispatches in one submit,
    /// waited for; microseconds per dispatch (after an empty submit's time is taken off).
    /// Overwrites the state's values: profile a throwaway state. Native only (it blocks).
    pub fn profile(&mut self, batch: &BatchRef, reps: usize) -> Result<Vec<(String, f64)>, Error> {
        let prepared = self.prepare(std::slice::from_ref(batch))?;
        self.write_steps(&prepared, true);
        let p = self.program.clone();
        let g = &self.groups;
        let mut kernels: Vec<(&Pipeline, &wgpu::BindGroup)> = vec![(&p.gather, &prepared[0].1)];
        kernels.extend(p.forward.iter().zip(&g.forward));
        kernels.push((&p.loss_train, &g.loss_train));
        kernels.extend(p.backward.iter().zip(&g.backward).rev());
        kernels.push((&p.update, &g.update));
        let time = |k: Option<(&Pipeline, &wgpu::BindGroup)>| -> Result<f64, Error> {
            let gpu = &p.gpu;
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_bind_group(0, &g.step, &[0]);
                for _ in 0..reps {
                    if let Some((pl, bg)) = k {
                        go(&mut pass, pl, bg);
                    }
                }
            }
            let t = std::time::Instant::now();
            gpu.queue.submit([encoder.finish()]);
            gpu.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
            Ok(t.elapsed().as_secs_f64() * 1e6)
        };
        time(None)?;
        let empty = time(None)?;
        kernels
            .into_iter()
            .map(|k| Ok((k.0.name.clone(), (time(Some(k))? - empty) / reps as f64)))
            .collect()
    }
}

/// Adam's step count after `step` steps (optax counts in int32 and saturates).
fn adam_count(step: u64) -> u32 {
    step.min(i32::MAX as u64) as u32
}

fn opt_buffers(o: Optimizer) -> usize {
    match o {
        Optimizer::Sgd { .. } => 1,
        Optimizer::Adam { .. } => 2,
    }
}

/// Params, then the optimizer's moments, as lists of layers.
fn host_layers(m: &HostModel) -> Vec<&[HostDense]> {
    match &m.opt_state {
        HostOptState::Sgd { trace } => vec![&m.params, trace],
        HostOptState::Adam { mu, nu, .. } => vec![&m.params, mu, nu],
    }
}

fn check_model(program: &Program, k: usize, m: &HostModel, step: u64) -> Result<(), Error> {
    let s = &program.shape;
    let expect = &program.configs[k];
    if m.config.mlp != expect.mlp
        || m.config.optimizer != expect.optimizer
        || m.config.activation != expect.activation
    {
        return Err(Error::Config(format!(
            "model {k} of this stack is {:?} with {:?}; got {:?} with {:?}",
            expect.activation, expect.optimizer, m.config.activation, m.config.optimizer
        )));
    }
    if m.step != step {
        return Err(Error::Config(format!(
            "the models of a stack train in lockstep: model {k} is at step {}, the stack at {step}",
            m.step
        )));
    }
    if let HostOptState::Adam { count, .. } = m.opt_state
        && count != adam_count(step)
    {
        return Err(Error::Config(format!(
            "model {k}'s Adam count {count} does not match its step {step}"
        )));
    }
    for layers in host_layers(m) {
        let ok = layers.len() == s.layers()
            && layers.iter().enumerate().all(|(l, d)| {
                d.kernel_shape == [s.dims[l], s.dims[l + 1]]
                    && d.kernel.len() == s.dims[l] * s.dims[l + 1]
                    && d.bias.len() == s.dims[l + 1]
            });
        if !ok {
            return Err(Error::Shape(format!(
                "model {k}'s parameters do not have the stack's layer sizes {:?}",
                s.dims
            )));
        }
    }
    Ok(())
}

fn pack(s: &Shape, k: usize, layers: &[HostDense], flat: &mut [f32]) {
    for (l, d) in layers.iter().enumerate() {
        let at = s.layer_offset(l) + k * s.block(l);
        let kernel = d.kernel.len();
        flat[at..at + kernel].copy_from_slice(&d.kernel);
        flat[at + kernel..at + s.block(l)].copy_from_slice(&d.bias);
    }
}

/// One train step of every model of the stack on `batch`: consumes the state (its buffers
/// are updated in place, as JAX's donated arguments) and returns the next one, with the
/// per-model loss and accuracy of the batch (before the update, as `train::train_step`).
pub fn train_step(
    state: StackState,
    batch: &BatchRef,
) -> Result<(StackState, StackMetrics), Error> {
    let (state, mut m) = train_steps(state, std::slice::from_ref(batch))?;
    Ok((state, m.remove(0)))
}

/// Many train steps, one submit per 64: the loop of an epoch without the host in between.
pub fn train_steps(
    mut state: StackState,
    batches: &[BatchRef],
) -> Result<(StackState, Vec<StackMetrics>), Error> {
    let mut out = Vec::with_capacity(batches.len());
    for chunk in batches.chunks(STEPS_PER_SUBMIT) {
        let prepared = state.prepare(chunk)?;
        out.extend(state.run(&prepared, true));
        state.step += chunk.len() as u64;
    }
    Ok((state, out))
}

/// Per-model loss and accuracy of the current parameters on `batch`; the state is unchanged.
pub fn eval_step(state: &StackState, batch: &BatchRef) -> Result<StackMetrics, Error> {
    Ok(eval_steps(state, std::slice::from_ref(batch))?.remove(0))
}

/// [`eval_step`] for many batches, one submit per 64 (e.g. `data.chunks(batch_size)`).
pub fn eval_steps(state: &StackState, batches: &[BatchRef]) -> Result<Vec<StackMetrics>, Error> {
    let mut out = Vec::with_capacity(batches.len());
    for chunk in batches.chunks(STEPS_PER_SUBMIT) {
        let prepared = state.prepare_ref(chunk)?;
        out.extend(state.run(&prepared, false));
    }
    Ok(out)
}

/// Every model's predicted class for each image of `batch` (`[model][row]`).
pub async fn predict(state: &StackState, batch: &BatchRef) -> Result<Vec<Vec<u32>>, Error> {
    eval_step(state, batch)?;
    let s = &state.program.shape;
    let bytes = read_bytes(&state.program.gpu, &state.bufs.classes).await?;
    let all: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(all
        .chunks_exact(s.batch)
        .map(|row| row[..batch.len()].to_vec())
        .collect())
}

impl StackState {
    fn check_batch(&self, b: &BatchRef) -> Result<(), Error> {
        if b.n == 0 || b.len() > self.program.shape.batch {
            return Err(Error::Shape(format!(
                "a batch of {} images for a step compiled for at most {}",
                b.n, self.program.shape.batch
            )));
        }
        if !Arc::ptr_eq(&b.data.gpu.token, &self.program.gpu.token) {
            return Err(Error::Device(
                "this batch's data lives on another GPU device than the stack".into(),
            ));
        }
        Ok(())
    }

    fn prepare(&mut self, batches: &[BatchRef]) -> Result<Vec<(BatchRef, wgpu::BindGroup)>, Error> {
        let prepared = self.prepare_ref(batches)?;
        for (b, g) in &prepared {
            self.remember_gather(b, g);
        }
        Ok(prepared)
    }

    fn prepare_ref(&self, batches: &[BatchRef]) -> Result<Vec<(BatchRef, wgpu::BindGroup)>, Error> {
        batches
            .iter()
            .map(|b| {
                self.check_batch(b)?;
                Ok((b.clone(), self.gather_group(b)?))
            })
            .collect()
    }
}

/// Reads many steps' metrics with one readback: `[handle][model]`. Handles from different
/// stacks are read one stack at a time. Only the slots asked for are copied back.
pub async fn read_metrics(metrics: &[StackMetrics]) -> Result<Vec<Vec<MetricValues>>, Error> {
    let mut out = vec![Vec::new(); metrics.len()];
    let mut done = vec![false; metrics.len()];
    for i in 0..metrics.len() {
        if done[i] {
            continue;
        }
        let ring = &metrics[i].ring;
        let slots = ring.buffer.size() / (8 * ring.models as u64);
        let written = ring.written.load(Ordering::Relaxed);
        let mine: Vec<usize> = (i..metrics.len())
            .filter(|&j| Arc::ptr_eq(&metrics[j].ring, ring))
            .collect();
        if let Some(&j) = mine.iter().find(|&&j| written - metrics[j].seq > slots) {
            return Err(Error::Device(format!(
                "metrics of {} steps ago were overwritten: read them at least every {slots} steps",
                written - metrics[j].seq
            )));
        }
        let slot_bytes = 8 * ring.models as u64;
        let ranges: Vec<(u64, u64)> = mine
            .iter()
            .map(|&j| ((metrics[j].seq % slots) * slot_bytes, slot_bytes))
            .collect();
        let values = floats(&read_ranges(&ring.gpu, &ring.buffer, &ranges).await?);
        for (n, &j) in mine.iter().enumerate() {
            let at = n * 2 * ring.models;
            out[j] = values[at..at + 2 * ring.models]
                .chunks_exact(2)
                .map(|c| MetricValues {
                    loss: c[0],
                    accuracy: c[1],
                })
                .collect();
            done[j] = true;
        }
    }
    Ok(out)
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

async fn read_f32(gpu: &Handles, buffer: &wgpu::Buffer) -> Result<Vec<f32>, Error> {
    Ok(floats(&read_bytes(gpu, buffer).await?))
}

async fn read_bytes(gpu: &Handles, buffer: &wgpu::Buffer) -> Result<Vec<u8>, Error> {
    read_ranges(gpu, buffer, &[(0, buffer.size())]).await
}

/// Copies `(offset, size)` ranges of a buffer, back to back, to a mappable one and maps it:
/// one GPU round trip.
async fn read_ranges(
    gpu: &Handles,
    buffer: &wgpu::Buffer,
    ranges: &[(u64, u64)],
) -> Result<Vec<u8>, Error> {
    let size: u64 = ranges.iter().map(|r| r.1).sum();
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("actlab readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    let mut at = 0;
    for &(offset, n) in ranges {
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, at, n);
        at += n;
    }
    gpu.queue.submit([encoder.finish()]);
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
    rx.await
        .map_err(|_| Error::Device("the GPU readback was cancelled".into()))?
        .map_err(|e| Error::Device(format!("cannot read GPU memory: {e}")))?;
    let bytes = staging
        .get_mapped_range(..)
        .map_err(|e| Error::Device(format!("cannot read GPU memory: {e}")))?
        .to_vec();
    staging.unmap();
    Ok(bytes)
}
