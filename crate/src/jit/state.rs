//! A compiled stack's state: how it is made from and read back to host models, and how a list
//! of steps is encoded into one submit. Its buffers and bind groups: `buffers.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use burn::tensor::wgpu::wgpu;

use super::STEP_SLOT;
use super::buffers::{Buffers, Groups};
use super::data::{BatchRef, DataInner};
use super::host::{HostModel, adam_count, check_model, host_layers, opt_buffers, pack};
use super::program::{Owned, Pipeline, Program, f32_bytes, storage_init};
use super::readback::{Ring, StackMetrics, floats, read_ranges};
use crate::error::Error;
use crate::mlp::HostDense;
use crate::optim::HostOptState;
use crate::optim::Optimizer;
use crate::prng::Key;

/// The state of a compiled stack: every model's parameters and optimizer moments, and the
/// buffers its step writes, on the GPU.
pub struct StackState {
    pub(super) program: Arc<Program>,
    pub(super) step: u64,
    pub(super) bufs: Buffers,
    pub(super) groups: Groups,
    pub(super) ring: Arc<Ring>,
    /// Bind groups of the gather, per (split, order) seen last.
    pub(super) gathers: Vec<(Arc<DataInner>, Arc<Owned>, wgpu::BindGroup)>,
}

impl std::fmt::Debug for StackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackState")
            .field("models", &self.program.shape.models)
            .field("step", &self.step)
            .finish()
    }
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
        // Models with the same key and initializers start from the same params (the page gives
        // every activation one init key): drawn once, copied for the others.
        let mut drawn: Vec<(usize, Vec<HostDense>)> = Vec::new();
        let models = program
            .configs
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(k, (c, &key))| {
                let same = |(j, _): &&(usize, Vec<HostDense>)| {
                    let d = &program.configs[*j];
                    keys[*j] == key
                        && (&d.mlp, d.kernel_init, d.bias_init)
                            == (&c.mlp, c.kernel_init, c.bias_init)
                };
                let params = match drawn.iter().find(same) {
                    Some((_, p)) => p.clone(),
                    None => {
                        let p = crate::mlp::init_host(key, &c.mlp, c.kernel_init, c.bias_init)?;
                        drawn.push((k, p.clone()));
                        p
                    }
                };
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
        self.read_models(&(0..self.models()).collect::<Vec<_>>())
            .await
    }

    /// Model `k` on the host (take one out of a stack: checkpoints, Flax export, analyses).
    /// Reads back only that model's blocks.
    pub async fn model(&self, k: usize) -> Result<HostModel, Error> {
        self.check_index(k)?;
        Ok(self.read_models(&[k]).await?.swap_remove(0))
    }

    /// Models `ks` on the host: one readback per buffer (params, then the optimizer's moments)
    /// of just their blocks.
    async fn read_models(&self, ks: &[usize]) -> Result<Vec<HostModel>, Error> {
        let s = &self.program.shape;
        let blocks =
            |k: usize| (0..s.layers()).map(move |l| (l, s.layer_offset(l) + k * s.block(l)));
        let ranges: Vec<(u64, u64)> = ks
            .iter()
            .flat_map(|&k| blocks(k))
            .map(|(l, at)| (at as u64 * 4, s.block(l) as u64 * 4))
            .collect();
        let mut per_buffer = Vec::new();
        for b in std::iter::once(&self.bufs.params).chain(&self.bufs.opt) {
            let values = floats(&read_ranges(&self.program.gpu, b, &ranges).await?);
            // Back to layers, model by model, in the order the ranges were read.
            let mut at = 0;
            let mut models = Vec::with_capacity(ks.len());
            for _ in ks {
                let layers: Vec<HostDense> = (0..s.layers())
                    .map(|l| {
                        let (din, dout) = (s.dims[l], s.dims[l + 1]);
                        let block = &values[at..at + s.block(l)];
                        at += s.block(l);
                        HostDense {
                            kernel_shape: [din, dout],
                            kernel: block[..din * dout].to_vec(),
                            bias: block[din * dout..].to_vec(),
                        }
                    })
                    .collect();
                models.push(layers);
            }
            per_buffer.push(models);
        }
        Ok(ks
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let mut take = |b: usize| std::mem::take(&mut per_buffer[b][i]);
                let params = take(0);
                let opt_state = match s.optimizer {
                    Optimizer::Sgd { .. } => HostOptState::Sgd { trace: take(1) },
                    Optimizer::Adam { .. } => HostOptState::Adam {
                        count: adam_count(self.step),
                        mu: take(1),
                        nu: take(2),
                    },
                };
                HostModel {
                    config: self.program.configs[k].clone(),
                    step: self.step,
                    params,
                    opt_state,
                }
            })
            .collect())
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

    pub(super) fn check_index(&self, k: usize) -> Result<(), Error> {
        if k >= self.models() {
            return Err(Error::Config(format!(
                "model {k} of a stack of {}",
                self.models()
            )));
        }
        Ok(())
    }

    /// Writes one `Step` uniform slot per batch and reserves their metrics slots; returns the
    /// first metrics sequence number.
    pub(super) fn write_steps(&self, batches: &[(BatchRef, wgpu::BindGroup)], train: bool) -> u64 {
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
    pub(super) fn run(
        &self,
        batches: &[(BatchRef, wgpu::BindGroup)],
        train: bool,
    ) -> Vec<StackMetrics> {
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
                // The weight textures follow the parameters: copied once a submit, and after
                // each update; evaluation steps in a row share one copy.
                if train || i == 0 {
                    for (pl, g) in p.sync.iter().zip(&self.groups.sync) {
                        go(&mut pass, pl, g);
                    }
                }
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

pub(super) fn go(pass: &mut wgpu::ComputePass, pl: &Pipeline, g: &wgpu::BindGroup) {
    pass.set_pipeline(&pl.pipeline);
    pass.set_bind_group(1, g, &[]);
    pass.dispatch_workgroups(pl.grid.0, pl.grid.1, pl.grid.2);
}
