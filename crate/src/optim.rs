//! Optimizers with optax's semantics; their state is plain data of the same shape as the params.
//!
//! SGD with momentum is `optax.sgd(lr, momentum)` = `chain(trace(momentum), scale(-lr))`:
//!
//! ```text
//! t <- g + momentum * t        (trace; t starts at zero)
//! p <- p - lr * t              (apply_updates of scale(-lr))
//! ```
//!
//! Adam is `optax.adam(lr, b1, b2, eps)` = `chain(scale_by_adam(b1, b2, eps), scale(-lr))`:
//!
//! ```text
//! m <- (1 - b1) * g + b1 * m;   v <- (1 - b2) * g^2 + b2 * v;   n <- n + 1
//! p <- p - lr * (m / (1 - b1^n)) / (sqrt(v / (1 - b2^n)) + eps)
//! ```

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::mlp::{HostDense, Params};

/// Which optimizer and its hyper-parameters (`tx` in optax terms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd {
        learning_rate: f64,
        #[serde(default)]
        momentum: f64,
    },
    Adam {
        learning_rate: f64,
        #[serde(default = "default_b1")]
        b1: f64,
        #[serde(default = "default_b2")]
        b2: f64,
        #[serde(default = "default_eps")]
        eps: f64,
    },
}

fn default_b1() -> f64 {
    0.9
}
fn default_b2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

impl Default for Optimizer {
    /// The tutorial's optimizer: SGD, learning rate 1e-2, momentum 0.9.
    fn default() -> Self {
        Optimizer::Sgd {
            learning_rate: 1e-2,
            momentum: 0.9,
        }
    }
}

/// Optimizer state: tensors shaped like the params, plus Adam's step count.
#[derive(Clone, Debug)]
pub enum OptState {
    Sgd { trace: Params },
    Adam { count: u32, mu: Params, nu: Params },
}

/// [`OptState`] on the host (checkpoints, compiled stacks).
#[derive(Clone, Debug, PartialEq)]
pub enum HostOptState {
    Sgd {
        trace: Vec<HostDense>,
    },
    Adam {
        count: u32,
        mu: Vec<HostDense>,
        nu: Vec<HostDense>,
    },
}

impl OptState {
    /// Reads the state back (async: WebGPU cannot block).
    pub async fn to_host(&self) -> Result<HostOptState, Error> {
        Ok(match self {
            OptState::Sgd { trace } => HostOptState::Sgd {
                trace: trace.to_host().await?,
            },
            OptState::Adam { count, mu, nu } => HostOptState::Adam {
                count: *count,
                mu: mu.to_host().await?,
                nu: nu.to_host().await?,
            },
        })
    }

    /// Uploads host values.
    pub fn from_host(host: &HostOptState, device: &Device) -> OptState {
        match host {
            HostOptState::Sgd { trace } => OptState::Sgd {
                trace: Params::from_host(trace, device),
            },
            HostOptState::Adam { count, mu, nu } => OptState::Adam {
                count: *count,
                mu: Params::from_host(mu, device),
                nu: Params::from_host(nu, device),
            },
        }
    }
}

impl Optimizer {
    pub fn validate(&self) -> Result<(), Error> {
        let (lr, ok) = match *self {
            Optimizer::Sgd {
                learning_rate,
                momentum,
            } => (learning_rate, (0.0..1.0).contains(&momentum)),
            Optimizer::Adam {
                learning_rate,
                b1,
                b2,
                eps,
            } => (
                learning_rate,
                (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2) && eps > 0.0,
            ),
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be a positive number, got {lr}"
            )));
        }
        if !ok {
            return Err(Error::Config(format!(
                "optimizer hyper-parameters out of range: {self:?} (momentum, b1, b2 in [0, 1), eps > 0)"
            )));
        }
        Ok(())
    }

    /// `tx.init(params)`.
    pub fn init(&self, params: &Params) -> OptState {
        match self {
            Optimizer::Sgd { .. } => OptState::Sgd {
                trace: params.zeros_like(),
            },
            Optimizer::Adam { .. } => OptState::Adam {
                count: 0,
                mu: params.zeros_like(),
                nu: params.zeros_like(),
            },
        }
    }

    /// `updates, state = tx.update(grads, state); params = apply_updates(params, updates)`,
    /// returning new params and state; the inputs are left untouched.
    pub fn update(
        &self,
        params: &Params,
        grads: &Params,
        state: &OptState,
    ) -> Result<(Params, OptState), Error> {
        Ok(match (*self, state) {
            (
                Optimizer::Sgd {
                    learning_rate,
                    momentum,
                },
                OptState::Sgd { trace },
            ) => {
                let trace = grads.zip_map(
                    &[trace],
                    |t| sgd_trace(t, momentum),
                    |t| sgd_trace(t, momentum),
                );
                let params = params.zip_map(
                    &[&trace],
                    |t| descend(t, learning_rate),
                    |t| descend(t, learning_rate),
                );
                (params, OptState::Sgd { trace })
            }
            (
                Optimizer::Adam {
                    learning_rate,
                    b1,
                    b2,
                    eps,
                },
                OptState::Adam { count, mu, nu },
            ) => {
                let count = count + 1;
                let mu = grads.zip_map(&[mu], |t| moment(t, b1, false), |t| moment(t, b1, false));
                let nu = grads.zip_map(&[nu], |t| moment(t, b2, true), |t| moment(t, b2, true));
                let c1 = 1.0 - b1.powi(count as i32);
                let c2 = 1.0 - b2.powi(count as i32);
                let step = |t: &[Tensor<2>]| adam_step(t, learning_rate, c1, c2, eps);
                let step1 = |t: &[Tensor<1>]| adam_step(t, learning_rate, c1, c2, eps);
                let params = params.zip_map(&[&mu, &nu], step, step1);
                (params, OptState::Adam { count, mu, nu })
            }
            (tx, _) => {
                return Err(Error::Config(format!(
                    "optimizer state does not belong to {tx:?}"
                )));
            }
        })
    }
}

/// `[g, t] -> g + momentum * t`
fn sgd_trace<const D: usize>(t: &[Tensor<D>], momentum: f64) -> Tensor<D> {
    t[0].clone() + t[1].clone().mul_scalar(momentum)
}

/// `[p, u] -> p - lr * u`
fn descend<const D: usize>(t: &[Tensor<D>], lr: f64) -> Tensor<D> {
    t[0].clone() - t[1].clone().mul_scalar(lr)
}

/// `[g, m] -> (1 - decay) * g(^2) + decay * m`
fn moment<const D: usize>(t: &[Tensor<D>], decay: f64, squared: bool) -> Tensor<D> {
    let g = if squared {
        t[0].clone().square()
    } else {
        t[0].clone()
    };
    g.mul_scalar(1.0 - decay) + t[1].clone().mul_scalar(decay)
}

/// `[p, m, v] -> p - lr * m_hat / (sqrt(v_hat) + eps)`
fn adam_step<const D: usize>(t: &[Tensor<D>], lr: f64, c1: f64, c2: f64, eps: f64) -> Tensor<D> {
    let m_hat = t[1].clone().div_scalar(c1);
    let v_hat = t[2].clone().div_scalar(c2);
    t[0].clone() - (m_hat / v_hat.sqrt().add_scalar(eps)).mul_scalar(lr)
}
