//! Runs that survive: a whole `TrainState` (plus the run's PRNG key and the app's notes) as a
//! versioned file, and the params alone in Flax's msgpack layout.
//!
//! Checkpoint file, format version 1 (all integers little-endian):
//!
//! ```text
//! offset 0   8 bytes  magic "ACTLABCK"
//! offset 8   u32      format version (1)
//! offset 12  u64      payload length in bytes
//! offset 20  u32      CRC-32 (IEEE) of the payload
//! offset 24  payload  a MessagePack map:
//!   "config"    str    the TrainConfig as JSON (the same object `init` takes)
//!   "step"      uint   steps taken
//!   "key"       [uint, uint]  the run's PRNG key data
//!   "params"    map    {"Dense_0": {"kernel", "bias"}, ...}, arrays as in Flax (below)
//!   "opt_state" map    {"kind": "sgd", "trace": params-like}
//!                      or {"kind": "adam", "count": uint, "mu": params-like, "nu": params-like}
//!   "meta"      str    free text the application stores with the state (the page: JSON)
//! ```
//!
//! Arrays are encoded as `flax.serialization` does: MessagePack extension type 1 whose data is
//! the MessagePack array `[shape, "float32", little-endian row-major bytes]`. So the payload
//! also reads in Python with `flax.serialization.msgpack_restore(data[24:])`.

use burn::tensor::Device;
use rmpv::Value;

use crate::Error;
use crate::mlp::{HostDense, Params};
use crate::optim::{OptState, Optimizer};
use crate::prng::Key;
use crate::train::{TrainConfig, TrainState};

/// The first bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"ACTLABCK";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 24;
/// `flax.serialization._MsgpackExtType.ndarray`.
const FLAX_NDARRAY_EXT: i8 = 1;

/// Why a checkpoint (or a Flax params file) cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not an ActLab checkpoint (it does not start with \"ACTLABCK\")")]
    NotACheckpoint,
    #[error(
        "checkpoint format version {found} is not supported; this version of ActLab reads version {VERSION}"
    )]
    UnsupportedVersion { found: u32 },
    #[error("truncated checkpoint: {expected} bytes expected, {actual} present")]
    Truncated { expected: u64, actual: u64 },
    #[error("corrupt checkpoint: checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Corrupt { stored: u32, computed: u32 },
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("incompatible checkpoint: {0}")]
    Incompatible(String),
}

/// Optimizer state read back to the host.
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
        let opt_state = match &state.opt_state {
            OptState::Sgd { trace } => HostOptState::Sgd {
                trace: trace.to_host().await?,
            },
            OptState::Adam { count, mu, nu } => HostOptState::Adam {
                count: *count,
                mu: mu.to_host().await?,
                nu: nu.to_host().await?,
            },
        };
        Ok(Checkpoint {
            config: state.config.clone(),
            step: state.step,
            key,
            params: state.params.to_host().await?,
            opt_state,
            meta,
        })
    }

    /// The state on `device`, exactly as saved.
    pub fn restore(&self, device: &Device) -> TrainState {
        let opt_state = match &self.opt_state {
            HostOptState::Sgd { trace } => OptState::Sgd {
                trace: Params::from_host(trace, device),
            },
            HostOptState::Adam { count, mu, nu } => OptState::Adam {
                count: *count,
                mu: Params::from_host(mu, device),
                nu: Params::from_host(nu, device),
            },
        };
        TrainState {
            params: Params::from_host(&self.params, device),
            opt_state,
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
        if version != VERSION {
            return Err(CheckpointError::UnsupportedVersion { found: version });
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
        let config: TrainConfig = serde_json::from_str(
            field(&root, "config")?
                .as_str()
                .ok_or_else(|| malformed("\"config\" is not a string"))?,
        )
        .map_err(|e| malformed(format!("\"config\": {e}")))?;
        config
            .mlp
            .validate()
            .and_then(|_| config.optimizer.validate())
            .map_err(|e| CheckpointError::Incompatible(e.to_string()))?;
        let step = uint(field(&root, "step")?, "step")?;
        let key = match field(&root, "key")?.as_array().map(|a| a.as_slice()) {
            Some([a, b]) => Key([key_word(a)?, key_word(b)?]),
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

/// `flax.serialization.to_bytes(variables)` for an MLP's params: the bytes Flax writes for
/// `{"params": {"Dense_0": {"kernel": ..., "bias": ...}, ...}}`, which
/// `flax.serialization.from_bytes(model.init(...), data)` loads.
pub fn flax_params_bytes(params: &[HostDense]) -> Vec<u8> {
    pack(&map(vec![("params", params_tree(params))]))
}

/// Reads params written by [`flax_params_bytes`] or by Flax itself (any `Dense_i` MLP).
pub fn flax_params_from_bytes(bytes: &[u8]) -> Result<Vec<HostDense>, CheckpointError> {
    let root = unpack(bytes)?;
    read_params_tree(field(&root, "params")?)
}

fn malformed(msg: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(msg.into())
}

fn prefix(e: CheckpointError, what: &str) -> CheckpointError {
    match e {
        CheckpointError::Malformed(m) => malformed(format!("{what}: {m}")),
        other => other,
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn pack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

fn unpack(bytes: &[u8]) -> Result<Value, CheckpointError> {
    let mut rest = bytes;
    let v = rmpv::decode::read_value(&mut rest).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} bytes after the end", rest.len())));
    }
    Ok(v)
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, CheckpointError> {
    v.as_map()
        .ok_or_else(|| malformed(format!("expected a map holding \"{name}\"")))?
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
        .ok_or_else(|| malformed(format!("\"{name}\" is missing")))
}

fn key_word(v: &Value) -> Result<u32, CheckpointError> {
    u32::try_from(uint(v, "key")?).map_err(|_| malformed("\"key\" holds a word above 2^32 - 1"))
}

fn uint(v: &Value, what: &str) -> Result<u64, CheckpointError> {
    v.as_u64()
        .ok_or_else(|| malformed(format!("\"{what}\" is not a non-negative integer")))
}

/// Flax's ndarray encoding of a float32 array.
fn ndarray(values: &[f32], shape: &[usize]) -> Value {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let tuple = Value::Array(vec![
        Value::Array(shape.iter().map(|&d| Value::from(d as u64)).collect()),
        Value::from("float32"),
        Value::Binary(bytes),
    ]);
    Value::Ext(FLAX_NDARRAY_EXT, pack(&tuple))
}

fn read_ndarray(v: &Value, what: &str) -> Result<(Vec<usize>, Vec<f32>), CheckpointError> {
    let bad = |m: &str| malformed(format!("{what}: {m}"));
    let Value::Ext(FLAX_NDARRAY_EXT, data) = v else {
        return Err(bad("not a Flax ndarray"));
    };
    let tuple = unpack(data)?;
    let [shape, dtype, raw] = tuple
        .as_array()
        .map(|a| a.as_slice())
        .and_then(|a| <&[Value; 3]>::try_from(a).ok())
        .ok_or_else(|| bad("not a (shape, dtype, bytes) tuple"))?;
    let shape = shape
        .as_array()
        .ok_or_else(|| bad("shape is not an array"))?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("shape holds a non-integer"))?;
    match dtype.as_str() {
        Some("float32") => {}
        other => {
            return Err(CheckpointError::Incompatible(format!(
                "{what}: dtype {other:?}; only float32 is supported"
            )));
        }
    }
    let raw = raw.as_slice().ok_or_else(|| bad("data is not bytes"))?;
    let n: usize = shape.iter().product();
    if raw.len() != n * 4 {
        return Err(bad(&format!(
            "{} bytes for shape {shape:?} (expected {})",
            raw.len(),
            n * 4
        )));
    }
    let values = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((shape, values))
}

/// `{"Dense_0": {"kernel": [in, out], "bias": [out]}, ...}` in Flax's key order.
fn params_tree(layers: &[HostDense]) -> Value {
    Value::Map(
        layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let dense = map(vec![
                    ("kernel", ndarray(&l.kernel, &l.kernel_shape)),
                    ("bias", ndarray(&l.bias, &[l.bias.len()])),
                ]);
                (Value::from(format!("Dense_{i}")), dense)
            })
            .collect(),
    )
}

fn read_params_tree(v: &Value) -> Result<Vec<HostDense>, CheckpointError> {
    let n = v
        .as_map()
        .ok_or_else(|| malformed("params are not a map"))?
        .len();
    if n == 0 {
        return Err(malformed("no layers"));
    }
    (0..n)
        .map(|i| {
            let name = format!("Dense_{i}");
            let dense = field(v, &name)?;
            let (kshape, kernel) =
                read_ndarray(field(dense, "kernel")?, &format!("{name}.kernel"))?;
            let (bshape, bias) = read_ndarray(field(dense, "bias")?, &format!("{name}.bias"))?;
            match (kshape.as_slice(), bshape.as_slice()) {
                (&[fan_in, fan_out], &[b]) if b == fan_out => Ok(HostDense {
                    kernel_shape: [fan_in, fan_out],
                    kernel,
                    bias,
                }),
                _ => Err(CheckpointError::Incompatible(format!(
                    "{name}: kernel {kshape:?} and bias {bshape:?} are not a Dense layer"
                ))),
            }
        })
        .collect()
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
