//! FashionMNIST from IDX files: parsing (gzip or raw), normalisation, the train/val split,
//! key-driven batch order and the [`Batch`] a step takes. Bad input (a file, an index, a batch
//! size) is a [`DataError`] naming the problem, never a panic.

use std::io::Read;
use std::ops::Range;

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::DataError;
use crate::prng::{self, Key};

/// Image side of FashionMNIST.
pub const SIDE: usize = 28;
/// Number of classes.
pub const CLASSES: usize = 10;
/// The tutorial keeps 10,000 of the 60,000 training images for validation.
pub const VALIDATION_SIZE: usize = 10_000;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// The largest IDX file read (FashionMNIST's largest is 47 MB).
pub const MAX_IDX_BYTES: usize = 256 << 20;

/// Decompresses `bytes` if they are gzip (magic `1f 8b`), else returns them as they are.
pub fn gunzip_if_needed(file: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        // Bounded: a small gzip can expand to gigabytes, and in wasm a failed allocation aborts.
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_IDX_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::Gzip {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        if out.len() > MAX_IDX_BYTES {
            return Err(DataError::Gzip {
                file: file.to_string(),
                message: format!("it decompresses to more than {MAX_IDX_BYTES} bytes"),
            });
        }
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// A parsed IDX file of unsigned bytes: its dimensions and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses an IDX file (gzip or raw) whose magic number must be `magic`.
pub fn parse_idx(
    file: &str,
    bytes: &[u8],
    magic: u32,
    kind: &'static str,
) -> Result<Idx, DataError> {
    let raw = gunzip_if_needed(file, bytes)?;
    let truncated = |expected: usize| DataError::Truncated {
        file: file.to_string(),
        expected,
        found: raw.len(),
    };
    let word = |i: usize| -> Result<u32, DataError> {
        raw.get(4 * i..4 * i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| truncated(4 * i + 4))
    };
    let found = word(0)?;
    if found != magic {
        return Err(DataError::BadMagic {
            file: file.to_string(),
            found,
            expected: magic,
            kind,
        });
    }
    let ndim = (magic & 0xff) as usize;
    let dims = (1..=ndim)
        .map(|i| word(i).map(|d| d as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let header = 4 * (ndim + 1);
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_add(header))
        .ok_or_else(|| truncated(usize::MAX))?;
    if raw.len() < expected {
        return Err(truncated(expected));
    }
    if raw.len() > expected {
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            expected,
            found: raw.len(),
        });
    }
    Ok(Idx {
        dims,
        data: raw[header..].to_vec(),
    })
}

/// Images (`u8`, row-major `[len, 28*28]`) with their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Parses a pair of IDX files (`*-images-idx3-ubyte[.gz]`, `*-labels-idx1-ubyte[.gz]`);
    /// the names only label errors.
    pub fn from_idx(
        (images_file, images): (&str, &[u8]),
        (labels_file, labels): (&str, &[u8]),
    ) -> Result<Dataset, DataError> {
        let im = parse_idx(images_file, images, IMAGES_MAGIC, "IDX images, 3-D u8")?;
        let lb = parse_idx(labels_file, labels, LABELS_MAGIC, "IDX labels, 1-D u8")?;
        let (n, rows, cols) = (im.dims[0], im.dims[1], im.dims[2]);
        if (rows, cols) != (SIDE, SIDE) {
            return Err(DataError::WrongImageSize {
                rows,
                cols,
                side: SIDE,
            });
        }
        if n != lb.dims[0] {
            return Err(DataError::CountMismatch {
                images: n,
                labels: lb.dims[0],
            });
        }
        if let Some((index, &label)) = lb
            .data
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= CLASSES)
        {
            return Err(DataError::BadLabel { index, label });
        }
        Ok(Dataset {
            images: im.data,
            labels: lb.data,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The examples at `indices`, in that order.
    pub fn subset(&self, indices: &[u32]) -> Result<Dataset, DataError> {
        check_indices(indices, self.len())?;
        Ok(self.pick(indices))
    }

    /// The first `n` examples (all of them if there are fewer).
    pub fn first(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * SIDE * SIDE].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// A batch of the examples at `indices`, normalised, on `device`.
    pub fn batch(&self, indices: &[u32], device: &Device) -> Result<Batch, DataError> {
        let sub = self.subset(indices)?;
        let x: Vec<f32> = sub.images.iter().map(|&p| normalise(p)).collect();
        let y: Vec<i32> = sub.labels.iter().map(|&l| l as i32).collect();
        Ok(Batch {
            images: Tensor::from_data(TensorData::new(x, [indices.len(), SIDE * SIDE]), device),
            labels: Tensor::<1, Int>::from_data(TensorData::new(y, [indices.len()]), device),
        })
    }

    /// [`Dataset::subset`] for indices known to be in range.
    fn pick(&self, indices: &[u32]) -> Dataset {
        let px = SIDE * SIDE;
        let mut images = Vec::with_capacity(indices.len() * px);
        for &i in indices {
            let i = i as usize;
            images.extend_from_slice(&self.images[i * px..(i + 1) * px]);
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i as usize]).collect(),
        }
    }
}

/// A batch: normalised images `[n, input]` and class labels `[n]`, on the device.
#[derive(Clone, Debug)]
pub struct Batch {
    pub images: Tensor<2>,
    pub labels: Tensor<1, Int>,
}

/// Every index must name an example of a split of `len`.
fn check_indices(indices: &[u32], len: usize) -> Result<(), DataError> {
    match indices.iter().find(|&&i| i as usize >= len) {
        Some(&index) => Err(DataError::IndexOutOfRange { index, len }),
        None => Ok(()),
    }
}

/// Examples `start..start + n` as a range, if it is a non-empty part of a split of `len`.
pub fn check_range(start: usize, n: usize, len: usize) -> Result<Range<usize>, DataError> {
    match start.checked_add(n) {
        Some(end) if end <= len && n > 0 => Ok(start..end),
        _ => Err(DataError::RangeOutOfBounds { start, n, len }),
    }
}

/// A split uploaded to the device once, so that training copies no images per step: pixels stay
/// bytes (packed four to a 32-bit word, since WebGPU has no 8-bit integers), and a batch is
/// gathered, unpacked and normalised on the device from indices that are also on the device.
#[derive(Clone, Debug)]
pub struct DeviceDataset {
    /// `[len, 784 / 4]`: pixel `4w + k` of an image is byte `k` (little-endian) of word `w`.
    packed: Tensor<2, Int>,
    labels: Tensor<1, Int>,
    /// `normalise(p)` for every byte `p`, computed on the host: normalising on the device is a
    /// lookup, so a device batch is bit-identical to [`Dataset::batch`] (no device division).
    table: Tensor<1>,
    /// `[1, 1, 4]`: the shifts that unpack a word's four bytes.
    shifts: Tensor<3, Int>,
}

const WORDS: usize = SIDE * SIDE / 4;

impl DeviceDataset {
    /// Uploads `data` to `device` (once: about a quarter of the size of normalised floats).
    pub fn upload(data: &Dataset, device: &Device) -> DeviceDataset {
        let words: Vec<i32> = data
            .images
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let labels: Vec<i32> = data.labels.iter().map(|&l| l as i32).collect();
        let table: Vec<f32> = (0..=255u8).map(normalise).collect();
        let len = data.len();
        DeviceDataset {
            packed: Tensor::from_data(TensorData::new(words, [len, WORDS]), device),
            labels: Tensor::from_data(TensorData::new(labels, [len]), device),
            table: Tensor::from_data(TensorData::new(table, [256]), device),
            shifts: Tensor::from_data(TensorData::new(vec![0i32, 8, 16, 24], [1, 1, 4]), device),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indices (host values) as a device tensor, checked against the length.
    pub fn indices(&self, indices: &[u32]) -> Result<Tensor<1, Int>, DataError> {
        check_indices(indices, self.len())?;
        let v: Vec<i32> = indices.iter().map(|&i| i as i32).collect();
        Ok(Tensor::from_data(
            TensorData::new(v, [indices.len()]),
            &self.packed.device(),
        ))
    }

    /// The examples at `indices` (a device tensor of valid indices, e.g. a slice of an
    /// [`EpochOrder`]), gathered and normalised on the device.
    pub fn gather(&self, indices: Tensor<1, Int>) -> Batch {
        let [n] = indices.dims();
        let words = self.packed.clone().select(0, indices.clone());
        let bytes = words
            .reshape([n, WORDS, 1])
            .bitwise_right_shift(self.shifts.clone())
            .bitwise_and_scalar(255)
            .reshape([n * WORDS * 4]);
        Batch {
            images: self
                .table
                .clone()
                .select(0, bytes)
                .reshape([n, SIDE * SIDE]),
            labels: self.labels.clone().select(0, indices),
        }
    }

    /// Examples `start..start + n` (evaluation batches), normalised on the device.
    pub fn range(&self, start: usize, n: usize) -> Result<Batch, DataError> {
        let r = check_range(start, n, self.len())?;
        let idx = Tensor::<1, Int>::arange(r.start as i64..r.end as i64, &self.packed.device());
        Ok(self.gather(idx))
    }

    /// One epoch's batch order drawn from `key` (as [`epoch_batches`]), uploaded once.
    pub fn epoch_order(&self, key: Key, batch_size: usize) -> Result<EpochOrder, DataError> {
        let order: Vec<i32> = epoch_batches(key, self.len(), batch_size)?
            .concat()
            .into_iter()
            .map(|i| i as i32)
            .collect();
        let total = order.len();
        Ok(EpochOrder {
            order: Tensor::from_data(TensorData::new(order, [total]), &self.packed.device()),
            batch_size,
        })
    }
}

/// One epoch's permutation on the device, cut into equal batches: batch `i` is a slice of it.
#[derive(Clone, Debug)]
pub struct EpochOrder {
    /// Whole batches only, so its length is a multiple of `batch_size`.
    order: Tensor<1, Int>,
    batch_size: usize,
}

impl EpochOrder {
    /// Number of (full) batches in the epoch.
    pub fn batches(&self) -> usize {
        self.order.dims()[0] / self.batch_size
    }

    /// The indices of batch `i`, still on the device.
    pub fn batch_indices(&self, i: usize) -> Result<Tensor<1, Int>, DataError> {
        let batches = self.batches();
        if i >= batches {
            return Err(DataError::BatchOutOfRange { batch: i, batches });
        }
        let b = self.batch_size;
        Ok(self.order.clone().slice(i * b..(i + 1) * b))
    }
}

/// The tutorial's normalisation, `(x / 255 - 0.5) / 0.5`, into [-1, 1].
pub fn normalise(pixel: u8) -> f32 {
    (pixel as f32 / 255.0 - 0.5) / 0.5
}

/// Splits the 60,000 training images into 50,000 train and 10,000 validation images in an order
/// drawn from `key` (the tutorial's `random_split`).
pub fn train_val_split(train: &Dataset, key: Key) -> (Dataset, Dataset) {
    train_val_split_sized(train, key, VALIDATION_SIZE)
}

/// [`train_val_split`] with `val_size` validation images (at most all of them; 0: no split,
/// every image trains).
pub fn train_val_split_sized(train: &Dataset, key: Key, val_size: usize) -> (Dataset, Dataset) {
    if val_size == 0 {
        return (train.clone(), train.first(0));
    }
    let perm = prng::permutation(key, train.len());
    let n_val = val_size.min(train.len());
    let (tr, va) = perm.split_at(train.len() - n_val);
    (train.pick(tr), train.pick(va))
}

/// One epoch's batches: a permutation of `0..len` drawn from `key`, cut into batches of
/// `batch_size` (from 1 to `len`). The last, incomplete batch is dropped so every step has the
/// same shape (one compiled kernel set); over epochs every example is still seen, as the order
/// changes.
pub fn epoch_batches(key: Key, len: usize, batch_size: usize) -> Result<Vec<Vec<u32>>, DataError> {
    if batch_size == 0 || batch_size > len {
        return Err(DataError::BatchSize { batch_size, len });
    }
    let perm = prng::permutation(key, len);
    Ok(perm.chunks_exact(batch_size).map(<[u32]>::to_vec).collect())
}

/// The four official files, parsed: train (to be split) and test.
#[derive(Debug, Clone)]
pub struct FashionMnist {
    pub train: Dataset,
    pub test: Dataset,
}

/// The official file names, as served by the dataset's mirrors and Debian's package.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

impl FashionMnist {
    /// Parses the four files' bytes, in the order of [`FILES`].
    pub fn from_bytes(files: [&[u8]; 4]) -> Result<FashionMnist, DataError> {
        Ok(FashionMnist {
            train: Dataset::from_idx((FILES[0], files[0]), (FILES[1], files[1]))?,
            test: Dataset::from_idx((FILES[2], files[2]), (FILES[3], files[3]))?,
        })
    }

    /// Reads the four files from a directory (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<FashionMnist, crate::error::Error> {
        let read = |f: &str| {
            std::fs::read(dir.join(f))
                .map_err(|e| crate::error::Error::Io(format!("{}: {e}", dir.join(f).display())))
        };
        let b = [
            read(FILES[0])?,
            read(FILES[1])?,
            read(FILES[2])?,
            read(FILES[3])?,
        ];
        Ok(FashionMnist::from_bytes([&b[0], &b[1], &b[2], &b[3]])?)
    }
}
