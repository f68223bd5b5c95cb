//! A compiled stack's GPU buffers and bind groups: made once per state, sized by its program's
//! shape, and destroyed with it (see `Owned`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use burn::tensor::wgpu::wgpu;

use super::program::{Owned, Program, Res, bind, f32_bytes, storage};
use super::readback::Ring;
use super::state::StackState;
use super::{STEP_SLOT, STEPS_PER_SUBMIT};

pub(super) struct Buffers {
    /// Every buffer and texture above and those only its bind groups hold: held for its `Drop`.
    _owned: Destroy,
    pub(super) params: wgpu::Buffer,
    pub(super) opt: Vec<wgpu::Buffer>,
    /// The batch's images: a buffer, or (`Tiling::textures`) a texture.
    pub(super) x0: Operand,
    pub(super) ylab: wgpu::Buffer,
    pub(super) classes: wgpu::Buffer,
    pub(super) steps: wgpu::Buffer,
}

/// A product's operand: a storage buffer, or a texture (`textured.rs`).
pub(super) enum Operand {
    Buf(wgpu::Buffer),
    Tex(wgpu::TextureView),
}

impl Operand {
    pub(super) fn res(&self) -> Res<'_> {
        match self {
            Operand::Buf(b) => Res::Buf(b),
            Operand::Tex(v) => Res::Tex(v),
        }
    }
}

/// Buffers and textures destroyed together when dropped (see `Owned`).
struct Destroy(Vec<wgpu::Buffer>, Vec<wgpu::Texture>);

impl Drop for Destroy {
    fn drop(&mut self) {
        for b in &self.0 {
            b.destroy();
        }
        for t in &self.1 {
            t.destroy();
        }
    }
}

pub(super) struct Groups {
    pub(super) step: wgpu::BindGroup,
    pub(super) sync: Vec<wgpu::BindGroup>,
    pub(super) forward: Vec<wgpu::BindGroup>,
    pub(super) loss_train: wgpu::BindGroup,
    pub(super) loss_eval: wgpu::BindGroup,
    pub(super) backward: Vec<wgpu::BindGroup>,
    pub(super) update: wgpu::BindGroup,
}

/// A `width x height` texel `rgba32float` texture of `layers` layers, zeroed, and its view.
fn texture(
    device: &wgpu::Device,
    label: &str,
    (width, height): (usize, usize),
    layers: usize,
) -> (wgpu::Texture, wgpu::TextureView) {
    let t = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: width as u32,
            height: height as u32,
            depth_or_array_layers: layers as u32,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING
            | wgpu::TextureUsages::STORAGE_BINDING
            | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let v = t.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    });
    (t, v)
}

/// A layer input's texture (`textured.rs`) for `d` features: its bias column of 1s written
/// once here; the kernels that write the texture keep it.
fn input_texture(
    gpu: &super::Handles,
    label: &str,
    size: (usize, usize),
    layers: usize,
    d: usize,
) -> (wgpu::Texture, wgpu::TextureView) {
    let (t, v) = texture(&gpu.device, label, size, layers);
    let mut texel = [0f32; 4];
    texel[d % 4] = 1.0;
    let column: Vec<f32> = (0..size.1 * layers).flat_map(|_| texel).collect();
    gpu.queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &t,
            mip_level: 0,
            origin: wgpu::Origin3d {
                x: (d / 4) as u32,
                y: 0,
                z: 0,
            },
            aspect: wgpu::TextureAspect::All,
        },
        &f32_bytes(&column),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(16),
            rows_per_image: Some(size.1 as u32),
        },
        wgpu::Extent3d {
            width: 1,
            height: size.1 as u32,
            depth_or_array_layers: layers as u32,
        },
    );
    (t, v)
}

/// Where a stack's activations live: storage buffers, or textures (`Tiling::textures`).
struct Activations {
    /// Layer `l`'s input (`x0` for `l = 0`), its output's gradient, its kernel (textures only).
    input: Vec<Operand>,
    grad: Vec<Operand>,
    weights: Vec<Operand>,
}

impl StackState {
    pub(super) fn with_buffers(
        program: &Arc<Program>,
        params: wgpu::Buffer,
        opt: Vec<wgpu::Buffer>,
        step: u64,
    ) -> StackState {
        let s = &program.shape;
        let device = &program.gpu.device;
        let (k, b, l) = (s.models, s.batch, s.layers());
        let grads = storage(device, "actlab grads", s.num_params());
        let ylab = storage(device, "actlab labels batch", b);
        let classes = storage(device, "actlab classes", k * b);
        // z[i]: layer i's pre-activations (the last layer's are the logits).
        let z: Vec<wgpu::Buffer> = (1..=l)
            .map(|i| storage(device, "actlab z", k * b * s.dims[i]))
            .collect();
        let mut textures = Vec::new();
        let mut buffers = Vec::new();
        let acts = if s.tiling.textures {
            let mut tex = |(t, v): (wgpu::Texture, wgpu::TextureView)| {
                textures.push(t);
                Operand::Tex(v)
            };
            let gpu = &program.gpu;
            Activations {
                input: (0..l)
                    .map(|i| {
                        let layers = if i == 0 { 1 } else { k };
                        tex(input_texture(
                            gpu,
                            "actlab input",
                            s.input_texture(i),
                            layers,
                            s.dims[i],
                        ))
                    })
                    .collect(),
                grad: (0..l)
                    .map(|i| tex(texture(device, "actlab dz", s.grad_texture(i), k)))
                    .collect(),
                weights: (0..l)
                    .map(|i| tex(texture(device, "actlab weights", s.weight_texture(i), k)))
                    .collect(),
            }
        } else {
            let mut buf = |elements: usize| {
                let b = storage(device, "actlab activations", elements);
                buffers.push(b.clone());
                Operand::Buf(b)
            };
            Activations {
                input: (0..l)
                    .map(|i| buf(if i == 0 { 1 } else { k } * b * s.dims[i]))
                    .collect(),
                grad: (0..l).map(|i| buf(k * b * s.dims[i + 1])).collect(),
                weights: Vec::new(),
            }
        };
        let metrics = storage(device, "actlab metrics", s.metric_slots * k * 2);
        let steps = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("actlab steps"),
            size: STEP_SLOT * STEPS_PER_SUBMIT as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let p = program;
        let (input, grad) = (&acts.input, &acts.grad);
        let (params_r, grads_r) = (Res::Buf(&params), Res::Buf(&grads));
        // On textures a pass binds the same slots at every layer (one pipeline for all): the
        // last layer's forward pass an output texture it never writes, the first layer's
        // backward pass what its (absent) input-gradient workgroups would use.
        let unused = acts.weights.first().map(|_| {
            let (t, v) = texture(device, "actlab unused", (1, 1), 1);
            textures.push(t);
            v
        });
        let layer = |i: usize| Res::Buf(&p.layer_uniforms[i]);
        let forward = (0..l)
            .map(|i| {
                let bs = match (&acts.weights.get(i), &unused) {
                    (Some(w), Some(unused)) => vec![
                        input[i].res(),
                        w.res(),
                        Res::Buf(&z[i]),
                        input.get(i + 1).map_or(Res::Tex(unused), Operand::res),
                        layer(i),
                    ],
                    _ => {
                        let mut bs = vec![input[i].res(), params_r, Res::Buf(&z[i])];
                        if i + 1 < l {
                            bs.push(input[i + 1].res());
                        }
                        bs
                    }
                };
                bind(device, &p.forward[i], &bs)
            })
            .collect();
        let backward = (0..l)
            .map(|i| {
                let bs = match (&acts.weights.get(i), &unused) {
                    (Some(w), Some(unused)) => {
                        let (below, zp) = match i {
                            0 => (Res::Tex(unused), &z[0]),
                            _ => (grad[i - 1].res(), &z[i - 1]),
                        };
                        vec![
                            input[i].res(),
                            grad[i].res(),
                            grads_r,
                            w.res(),
                            below,
                            Res::Buf(zp),
                            layer(i),
                        ]
                    }
                    _ => {
                        let mut bs = vec![input[i].res(), grad[i].res(), params_r, grads_r];
                        if i > 0 {
                            bs.extend([grad[i - 1].res(), Res::Buf(&z[i - 1])]);
                        }
                        bs
                    }
                };
                bind(device, &p.backward[i], &bs)
            })
            .collect();
        let sync = acts
            .weights
            .iter()
            .zip(&p.sync)
            .enumerate()
            .map(|(i, (w, pl))| bind(device, pl, &[params_r, w.res(), layer(i)]))
            .collect();
        let mut upd = vec![params_r, grads_r];
        upd.extend(opt.iter().map(Res::Buf));
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
            sync,
            forward,
            loss_train: bind(
                device,
                &p.loss_train,
                &[
                    Res::Buf(&z[l - 1]),
                    Res::Buf(&ylab),
                    Res::Buf(&metrics),
                    Res::Buf(&classes),
                    grad[l - 1].res(),
                ],
            ),
            loss_eval: bind(
                device,
                &p.loss_eval,
                &[
                    Res::Buf(&z[l - 1]),
                    Res::Buf(&ylab),
                    Res::Buf(&metrics),
                    Res::Buf(&classes),
                ],
            ),
            backward,
            update: bind(device, &p.update, &upd),
        };
        let x0 = acts.input.into_iter().next().expect("a stack has layers");
        StackState {
            program: program.clone(),
            step,
            groups,
            ring: Arc::new(Ring {
                buffer: Owned(metrics),
                written: AtomicU64::new(0),
                models: k,
                gpu: program.gpu.clone(),
            }),
            bufs: Buffers {
                _owned: Destroy(
                    [&params, &grads, &ylab, &classes, &steps]
                        .into_iter()
                        .chain(&opt)
                        .chain(&z)
                        .cloned()
                        .chain(buffers)
                        .collect(),
                    textures,
                ),
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
}
