//! FashionMNIST for JavaScript: parse the files, batches on the host or gathered on the device
//! (the GPU, or the CPU in the CPU module).

use wasm_bindgen::prelude::*;

use super::device::Dev;
use super::{index, js_err, key_from};
use crate::data::{self, Dataset, DeviceDataset, FashionMnist};

/// FashionMNIST parsed from its four IDX files (train split into 50k/10k train/val by a key).
#[wasm_bindgen]
pub struct FashionData {
    train: Dataset,
    val: Dataset,
    test: Dataset,
}

impl FashionData {
    /// Which part of the data a batch comes from.
    pub(super) fn part(&self, split: &str) -> Result<&Dataset, JsError> {
        match split {
            "train" => Ok(&self.train),
            "val" => Ok(&self.val),
            "test" => Ok(&self.test),
            other => Err(JsError::new(&format!(
                "unknown split {other:?}; expected \"train\", \"val\" or \"test\""
            ))),
        }
    }
}

#[wasm_bindgen]
impl FashionData {
    /// Parses the four files (gzip or raw IDX bytes, in the official order: train images, train
    /// labels, test images, test labels) and splits train/val with `split_key`.
    pub fn parse(
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
        split_key: &[u32],
    ) -> Result<FashionData, JsError> {
        let all = FashionMnist::from_bytes([train_images, train_labels, test_images, test_labels])
            .map_err(js_err)?;
        let (train, val) = data::train_val_split(&all.train, key_from(split_key)?);
        Ok(FashionData {
            train,
            val,
            test: all.test,
        })
    }

    /// Number of examples in `"train"`, `"val"` or `"test"`.
    pub fn len(&self, split: &str) -> Result<usize, JsError> {
        Ok(self.part(split)?.len())
    }

    /// Keeps only the first `n` examples of each split (small browser runs and tests).
    pub fn truncate(&self, n: f64) -> Result<FashionData, JsError> {
        let n = index("truncate's n", n)?;
        Ok(FashionData {
            train: self.train.first(n),
            val: self.val.first(n),
            test: self.test.first(n),
        })
    }

    /// A batch of the examples at `indices` of `split`, normalised, on the device.
    pub fn batch(&self, device: &Dev, split: &str, indices: &[u32]) -> Result<Batch, JsError> {
        let batch = self.part(split)?.batch(indices, device.device());
        Ok(Batch(batch.map_err(js_err)?))
    }

    /// Uploads `split` to the device once (pixels stay bytes): training from a [`DeviceSplit`]
    /// gathers and normalises each batch there, with no per-step copy of images.
    pub fn upload(&self, device: &Dev, split: &str) -> Result<DeviceSplit, JsError> {
        Ok(DeviceSplit(DeviceDataset::upload(
            self.part(split)?,
            device.device(),
        )))
    }

    /// Raw pixels (`u8`, 784 per image) of the examples at `indices` of `split`.
    pub fn pixels(&self, split: &str, indices: &[u32]) -> Result<Vec<u8>, JsError> {
        Ok(self.part(split)?.subset(indices).map_err(js_err)?.images)
    }

    /// Labels of the examples at `indices` of `split`.
    pub fn labels(&self, split: &str, indices: &[u32]) -> Result<Vec<u8>, JsError> {
        Ok(self.part(split)?.subset(indices).map_err(js_err)?.labels)
    }
}

/// A batch on the device.
#[wasm_bindgen]
pub struct Batch(pub(super) data::Batch);

/// A split of the data on the device (see `FashionData.upload`).
#[wasm_bindgen]
pub struct DeviceSplit(pub(super) DeviceDataset);

#[wasm_bindgen]
impl DeviceSplit {
    /// Number of examples.
    #[wasm_bindgen(getter, js_name = len)]
    pub fn size(&self) -> usize {
        self.0.len()
    }

    /// One epoch in an order drawn from `key` (uploaded once, cut into full batches of
    /// `batch_size`; the last incomplete batch is dropped).
    pub fn epoch(&self, key: &[u32], batch_size: f64) -> Result<Epoch, JsError> {
        let batch_size = index("batch size", batch_size)?;
        let order = self.0.epoch_order(key_from(key)?, batch_size);
        Ok(Epoch {
            data: self.0.clone(),
            order: order.map_err(js_err)?,
        })
    }

    /// Examples `start .. start + n` as one batch (evaluation), gathered on the device.
    pub fn range(&self, start: f64, n: f64) -> Result<Batch, JsError> {
        let (start, n) = (index("range's start", start)?, index("range's n", n)?);
        Ok(Batch(self.0.range(start, n).map_err(js_err)?))
    }

    /// The examples at `indices`, gathered on the device.
    pub fn gather(&self, indices: &[u32]) -> Result<Batch, JsError> {
        let indices = self.0.indices(indices).map_err(js_err)?;
        Ok(Batch(self.0.gather(indices)))
    }
}

/// One epoch's batch order on the device (see `DeviceSplit.epoch`).
#[wasm_bindgen]
pub struct Epoch {
    data: DeviceDataset,
    order: data::EpochOrder,
}

#[wasm_bindgen]
impl Epoch {
    /// Number of batches.
    #[wasm_bindgen(getter)]
    pub fn batches(&self) -> usize {
        self.order.batches()
    }

    /// Batch `i` of the epoch, gathered and normalised on the device.
    pub fn batch(&self, i: f64) -> Result<Batch, JsError> {
        let indices = self
            .order
            .batch_indices(index("batch index", i)?)
            .map_err(js_err)?;
        Ok(Batch(self.data.gather(indices)))
    }
}
