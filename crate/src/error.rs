//! Everything that can go wrong, as values: the bottom of the crate, so every module can return
//! these without importing any other. Each error names what was expected, so nothing here needs
//! a constant from a module above.

/// Everything that can go wrong. In JavaScript it becomes an exception carrying this message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid data: {0}")]
    Data(#[from] DataError),
    #[error("batch does not fit the model: {0}")]
    Shape(String),
    #[error("GPU device error: {0}")]
    Device(String),
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("invalid activation formula: {0}")]
    Formula(#[from] FormulaError),
}

/// Why an activation formula was refused (`activation`): where, and what was expected there.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct FormulaError {
    /// 1-based position in characters; one past the end for "the end of the formula".
    pub column: usize,
    pub expected: String,
    pub found: String,
}

/// What is wrong with a data file, or with indices into a split (`data`).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DataError {
    #[error("{file}: corrupt gzip data ({message})")]
    Gzip { file: String, message: String },
    #[error("{file}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error("{file}: {found} bytes, but the header describes {expected}")]
    TrailingBytes {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error("{file}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({kind})")]
    BadMagic {
        file: String,
        found: u32,
        expected: u32,
        kind: &'static str,
    },
    #[error("{images} images but {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    #[error("images are {rows}x{cols} pixels, expected {side}x{side}")]
    WrongImageSize {
        rows: usize,
        cols: usize,
        side: usize,
    },
    #[error("label {label} at index {index} is not a class 0-9")]
    BadLabel { index: usize, label: u8 },
    #[error("index {index} is out of range for a split of {len} examples")]
    IndexOutOfRange { index: u32, len: usize },
    #[error("examples {start}..{start}+{n} are not a non-empty range of a split of {len}")]
    RangeOutOfBounds { start: usize, n: usize, len: usize },
    #[error("batch size {batch_size} does not fit a split of {len} examples")]
    BatchSize { batch_size: usize, len: usize },
    #[error("batch {batch} does not exist: the epoch has {batches} batches")]
    BatchOutOfRange { batch: usize, batches: usize },
}

/// Why a checkpoint (or a Flax params file) cannot be read (`checkpoint`, `flax`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not an ActLab checkpoint (it does not start with \"ACTLABCK\")")]
    NotACheckpoint,
    #[error(
        "checkpoint format version {found} is not supported; this version of ActLab reads versions 1 to {supported}"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("truncated checkpoint: {expected} bytes expected, {actual} present")]
    Truncated { expected: u64, actual: u64 },
    #[error("corrupt checkpoint: checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Corrupt { stored: u32, computed: u32 },
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("incompatible checkpoint: {0}")]
    Incompatible(String),
}
