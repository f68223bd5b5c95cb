//! A stack's models on the host: to and from checkpoints and the Burn path, packed into and
//! checked against the stack's flat layout.

use burn::tensor::Device;

use super::kernels::Shape;
use super::program::Program;
use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::mlp::HostDense;
use crate::optim::{HostOptState, Optimizer};
use crate::prng::Key;
use crate::train::{TrainConfig, TrainState};

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

/// Adam's step count after `step` steps (optax counts in int32 and saturates).
pub(super) fn adam_count(step: u64) -> u32 {
    step.min(i32::MAX as u64) as u32
}

pub(super) fn opt_buffers(o: Optimizer) -> usize {
    match o {
        Optimizer::Sgd { .. } => 1,
        Optimizer::Adam { .. } => 2,
    }
}

/// Params, then the optimizer's moments, as lists of layers.
pub(super) fn host_layers(m: &HostModel) -> Vec<&[HostDense]> {
    match &m.opt_state {
        HostOptState::Sgd { trace } => vec![&m.params, trace],
        HostOptState::Adam { mu, nu, .. } => vec![&m.params, mu, nu],
    }
}

pub(super) fn check_model(
    program: &Program,
    k: usize,
    m: &HostModel,
    step: u64,
) -> Result<(), Error> {
    let s = &program.shape;
    let expect = &program.configs[k];
    if m.config.mlp != expect.mlp
        || m.config.optimizer != expect.optimizer
        || m.config.activation != expect.activation
    {
        return Err(Error::Config(format!(
            "model {k} of this stack is {} with {:?}; got {} with {:?}",
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

pub(super) fn pack(s: &Shape, k: usize, layers: &[HostDense], flat: &mut [f32]) {
    for (l, d) in layers.iter().enumerate() {
        let at = s.layer_offset(l) + k * s.block(l);
        let kernel = d.kernel.len();
        flat[at..at + kernel].copy_from_slice(&d.kernel);
        flat[at + kernel..at + s.block(l)].copy_from_slice(&d.bias);
    }
}
