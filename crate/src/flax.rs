//! Flax's msgpack encoding (`flax.serialization`): an MLP's params to and from the bytes of
//! `flax.serialization.to_bytes`, and the tree and ndarray encoding the checkpoint format
//! shares with it (so a checkpoint's payload also reads with `msgpack_restore`).
//!
//! An array is MessagePack extension type 1 whose data is the MessagePack array
//! `[shape, "float32", little-endian row-major bytes]`; params are the map
//! `{"Dense_0": {"kernel": [in, out], "bias": [out]}, ...}`.

use rmpv::Value;

use crate::error::CheckpointError;
use crate::mlp::HostDense;

/// `flax.serialization._MsgpackExtType.ndarray`.
const FLAX_NDARRAY_EXT: i8 = 1;

/// `flax.serialization.to_bytes(variables)` for an MLP's params: the bytes Flax writes for
/// `{"params": {"Dense_0": {"kernel": ..., "bias": ...}, ...}}`, which
/// `flax.serialization.from_bytes(model.init(...), data)` loads.
pub fn to_bytes(params: &[HostDense]) -> Vec<u8> {
    pack(&map(vec![("params", params_tree(params))]))
}

/// Reads params written by [`to_bytes`] or by Flax itself (any `Dense_i` MLP).
pub fn from_bytes(bytes: &[u8]) -> Result<Vec<HostDense>, CheckpointError> {
    let root = unpack(bytes)?;
    read_params_tree(field(&root, "params")?)
}

/// A [`CheckpointError::Malformed`] saying `msg`.
pub(crate) fn malformed(msg: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(msg.into())
}

/// A MessagePack map with string keys, in this order.
pub(crate) fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The bytes of `v`.
pub(crate) fn pack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

/// The one value `bytes` hold, nothing after it.
pub(crate) fn unpack(bytes: &[u8]) -> Result<Value, CheckpointError> {
    let mut rest = bytes;
    let v = rmpv::decode::read_value(&mut rest).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} bytes after the end", rest.len())));
    }
    Ok(v)
}

/// Entry `name` of the map `v`.
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, CheckpointError> {
    v.as_map()
        .ok_or_else(|| malformed(format!("expected a map holding \"{name}\"")))?
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
        .ok_or_else(|| malformed(format!("\"{name}\" is missing")))
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
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("shape holds a non-integer or a size beyond this platform's"))?;
    match dtype.as_str() {
        Some("float32") => {}
        other => {
            return Err(CheckpointError::Incompatible(format!(
                "{what}: dtype {other:?}; only float32 is supported"
            )));
        }
    }
    let raw = raw.as_slice().ok_or_else(|| bad("data is not bytes"))?;
    // Checked: the shape comes from the file, and a wrapped product could match the bytes.
    let bytes = shape
        .iter()
        .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64));
    if bytes != Some(raw.len() as u64) {
        return Err(bad(&format!(
            "{} bytes for shape {shape:?} (expected {})",
            raw.len(),
            bytes.map_or("more than 2^64".to_string(), |b| b.to_string())
        )));
    }
    let values = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((shape, values))
}

/// `{"Dense_0": {"kernel": [in, out], "bias": [out]}, ...}` in Flax's key order.
pub(crate) fn params_tree(layers: &[HostDense]) -> Value {
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

/// The inverse of [`params_tree`]: `Dense_0`, `Dense_1`, ... in order.
pub(crate) fn read_params_tree(v: &Value) -> Result<Vec<HostDense>, CheckpointError> {
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
