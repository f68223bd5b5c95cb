//! Runs that survive: a whole `TrainState` (plus the run's PRNG key and the app's notes) as a
//! versioned file. The params alone in Flax's layout are [`crate::flax`]'s.
//!
//! Checkpoint file, format version 2 (all integers little-endian; version 1 differs only in
//! naming a built-in activation by its name alone, and is read with the activations of its
//! time: LeakyReLU's slope was then 0.01):
//!
//! ```text
//! offset 0   8 bytes  magic "ACTLABCK"
//! offset 8   u32      format version (2)
//! offset 12  u64      payload length in bytes
//! offset 20  u32      CRC-32 (IEEE) of the payload
//! offset 24  payload  a MessagePack map:
//!   "config"    str    the TrainConfig as JSON (the same object `init` takes; its activation
//!                      as {"name", "formula", "params"}, so it loads into the same function)
//!   "step"      uint   steps taken
//!   "key"       [uint, uint]  the run's PRNG key data
//!   "prng"      str    the key's mode: "default" (today's JAX) or "legacy" (JAX before 0.5);
//!                      absent: "default"
//!   "params"    map    {"Dense_0": {"kernel", "bias"}, ...}, arrays as in Flax (below)
//!   "opt_state" map    {"kind": "sgd", "trace": params-like}
//!                      or {"kind": "adam", "count": uint, "mu": params-like, "nu": params-like}
//!   "meta"      str    free text the application stores with the state (the page: JSON)
//! ```
//!
//! Arrays and params trees are encoded as `flax.serialization` does ([`crate::flax`]), so the
//! payload also reads in Python with `flax.serialization.msgpack_restore(data[24:])`.

use burn::tensor::Device;
use rmpv::Value;

use crate::error::{CheckpointError, Error};
use crate::flax::{field, malformed, map, pack, params_tree, read_params_tree, unpack};
use crate::mlp::{HostDense, Params};
use crate::optim::{HostOptState, OptState, Optimizer};
use crate::prng::{Key, Mode};
use crate::train::{TrainConfig, TrainState};

/// The first bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"ACTLABCK";
/// The format version this build writes (it reads this one and version 1).
pub const VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const OLDEST_VERSION: u32 = 1;
const HEADER_LEN: usize = 24;

/// A `TrainState` on the host, with the run's key and the application's notes.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub config: TrainConfig,
    pub step: u64,
    pub key: Key,
    pub params: Vec<HostDense>,
    pub opt_state: HostOptState,
    pub meta: String,
}

impl Checkpoint {
    /// Reads `state` back from the device (async: WebGPU cannot block).
    pub async fn of(state: &TrainState, key: Key, meta: String) -> Result<Checkpoint, Error> {
        Ok(Checkpoint {
            config: state.config.clone(),
            step: state.step,
            key,
            params: state.params.to_host().await?,
            opt_state: state.opt_state.to_host().await?,
            meta,
        })
    }

    /// The state on `device`, exactly as saved.
    pub fn restore(&self, device: &Device) -> TrainState {
        TrainState {
            params: Params::from_host(&self.params, device),
            opt_state: OptState::from_host(&self.opt_state, device),
            step: self.step,
            config: self.config.clone(),
        }
    }

    /// The file's bytes (format above).
    pub fn to_bytes(&self) -> Vec<u8> {
        let config = serde_json::to_string(&self.config).expect("TrainConfig serialises to JSON");
        let opt_state = match &self.opt_state {
            HostOptState::Sgd { trace } => map(vec![
                ("kind", Value::from("sgd")),
                ("trace", params_tree(trace)),
            ]),
            HostOptState::Adam { count, mu, nu } => map(vec![
                ("kind", Value::from("adam")),
                ("count", Value::from(*count)),
                ("mu", params_tree(mu)),
                ("nu", params_tree(nu)),
            ]),
        };
        let payload = pack(&map(vec![
            ("config", Value::from(config)),
            ("step", Value::from(self.step)),
            (
                "key",
                Value::Array(self.key.0.iter().map(|&k| Value::from(k)).collect()),
            ),
            ("params", params_tree(&self.params)),
            ("prng", Value::from(self.key.1.name())),
            ("opt_state", opt_state),
            ("meta", Value::from(self.meta.as_str())),
        ]));
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Parses and checks a checkpoint file: header, checksum, structure, and that every array
    /// has the shape its configuration implies.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint);
        }
        if bytes.len() < HEADER_LEN {
            return Err(CheckpointError::Truncated {
                expected: HEADER_LEN as u64,
                actual: bytes.len() as u64,
            });
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(CheckpointError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let actual = (bytes.len() - HEADER_LEN) as u64;
        if actual != len {
            return Err(CheckpointError::Truncated {
                expected: HEADER_LEN as u64 + len,
                actual: bytes.len() as u64,
            });
        }
        let payload = &bytes[HEADER_LEN..];
        let (stored, computed) = (u32_at(20), crc32fast::hash(payload));
        if stored != computed {
            return Err(CheckpointError::Corrupt { stored, computed });
        }
        let root = unpack(payload)?;
        let mut config_json: serde_json::Value = serde_json::from_str(
            field(&root, "config")?
                .as_str()
                .ok_or_else(|| malformed("\"config\" is not a string"))?,
        )
        .map_err(|e| malformed(format!("\"config\": {e}")))?;
        if version == 1 {
            upgrade_v1(&mut config_json);
        }
        let config: TrainConfig = serde_json::from_value(config_json)
            .map_err(|e| malformed(format!("\"config\": {e}")))?;
        config
            .validate()
            .map_err(|e| CheckpointError::Incompatible(e.to_string()))?;
        let step = uint(field(&root, "step")?, "step")?;
        let prng_mode = match root.as_map().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.as_str() == Some("prng"))
                .map(|(_, v)| v.as_str())
        }) {
            None | Some(Some("default")) => Mode::Partitionable,
            Some(Some("legacy")) => Mode::Legacy,
            Some(other) => {
                return Err(malformed(format!(
                    "\"prng\" is {other:?}, not \"default\" or \"legacy\""
                )));
            }
        };
        let key = match field(&root, "key")?.as_array().map(|a| a.as_slice()) {
            Some([a, b]) => Key([key_word(a)?, key_word(b)?], prng_mode),
            _ => return Err(malformed("\"key\" is not two integers")),
        };
        let dims = config.mlp.layer_dims();
        let tree = |v: &Value, what: &str| -> Result<Vec<HostDense>, CheckpointError> {
            let layers = read_params_tree(v).map_err(|e| prefix(e, what))?;
            check_dims(&layers, &dims, what)?;
            Ok(layers)
        };
        let params = tree(field(&root, "params")?, "params")?;
        let opt = field(&root, "opt_state")?;
        let opt_state = match (field(opt, "kind")?.as_str(), config.optimizer) {
            (Some("sgd"), Optimizer::Sgd { .. }) => HostOptState::Sgd {
                trace: tree(field(opt, "trace")?, "opt_state.trace")?,
            },
            (Some("adam"), Optimizer::Adam { .. }) => HostOptState::Adam {
                count: u32::try_from(uint(field(opt, "count")?, "opt_state.count")?)
                    .map_err(|_| malformed("\"opt_state.count\" is too large"))?,
                mu: tree(field(opt, "mu")?, "opt_state.mu")?,
                nu: tree(field(opt, "nu")?, "opt_state.nu")?,
            },
            (kind, tx) => {
                return Err(CheckpointError::Incompatible(format!(
                    "optimizer state {kind:?} does not belong to the configured optimizer {tx:?}"
                )));
            }
        };
        let meta = field(&root, "meta")?
            .as_str()
            .ok_or_else(|| malformed("\"meta\" is not a string"))?
            .to_owned();
        Ok(Checkpoint {
            config,
            step,
            key,
            params,
            opt_state,
            meta,
        })
    }
}

/// Version 1 named built-ins alone, with the slopes of its time: LeakyReLU's was 0.01 (now
/// the tutorial's 0.1), so such a file loads into the function it was trained with.
fn upgrade_v1(config: &mut serde_json::Value) {
    if let Some(a) = config.get_mut("activation")
        && a.as_str() == Some("leaky_relu")
    {
        *a = serde_json::json!({ "name": "leaky_relu", "params": { "alpha": 0.01 } });
    }
}

fn prefix(e: CheckpointError, what: &str) -> CheckpointError {
    match e {
        CheckpointError::Malformed(m) => malformed(format!("{what}: {m}")),
        other => other,
    }
}

fn uint(v: &Value, what: &str) -> Result<u64, CheckpointError> {
    v.as_u64()
        .ok_or_else(|| malformed(format!("\"{what}\" is not a non-negative integer")))
}

fn key_word(v: &Value) -> Result<u32, CheckpointError> {
    u32::try_from(uint(v, "key")?).map_err(|_| malformed("\"key\" holds a word above 2^32 - 1"))
}

fn check_dims(
    layers: &[HostDense],
    dims: &[(usize, usize)],
    what: &str,
) -> Result<(), CheckpointError> {
    let found: Vec<(usize, usize)> = layers
        .iter()
        .map(|l| (l.kernel_shape[0], l.kernel_shape[1]))
        .collect();
    if found != dims {
        return Err(CheckpointError::Incompatible(format!(
            "{what} have layers {found:?} but the configuration says {dims:?}"
        )));
    }
    Ok(())
}
