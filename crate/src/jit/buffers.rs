//! A compiled stack's GPU buffers and bind groups: made once per state, sized by its program's
//! shape, and destroyed with it (see `Owned`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use burn::tensor::wgpu::wgpu;

use super::program::{Owned, Program, bind, storage};
use super::readback::Ring;
use super::state::StackState;
use super::{STEP_SLOT, STEPS_PER_SUBMIT};

pub(super) struct Buffers {
    /// Every buffer above and those only its bind groups hold: held for its `Drop`.
    _owned: Destroy,
    pub(super) params: wgpu::Buffer,
    pub(super) opt: Vec<wgpu::Buffer>,
    pub(super) x0: wgpu::Buffer,
    pub(super) ylab: wgpu::Buffer,
    pub(super) classes: wgpu::Buffer,
    pub(super) steps: wgpu::Buffer,
}

/// Buffers destroyed together when dropped (see `Owned`).
struct Destroy(Vec<wgpu::Buffer>);

impl Drop for Destroy {
    fn drop(&mut self) {
        for b in &self.0 {
            b.destroy();
        }
    }
}

pub(super) struct Groups {
    pub(super) step: wgpu::BindGroup,
    pub(super) forward: Vec<wgpu::BindGroup>,
    pub(super) loss_train: wgpu::BindGroup,
    pub(super) loss_eval: wgpu::BindGroup,
    pub(super) backward: Vec<wgpu::BindGroup>,
    pub(super) update: wgpu::BindGroup,
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
                buffer: Owned(metrics),
                written: AtomicU64::new(0),
                models: k,
                gpu: program.gpu.clone(),
            }),
            bufs: Buffers {
                _owned: Destroy(
                    [&params, &grads, &x0, &ylab, &classes, &steps]
                        .into_iter()
                        .chain(&opt)
                        .chain(&z)
                        .chain(&a)
                        .chain(&dz)
                        .cloned()
                        .collect(),
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
