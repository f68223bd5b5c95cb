//! A split on the GPU for compiled steps, its epochs' orders, and the batches a step gathers.

use std::sync::Arc;

use burn::tensor::wgpu::wgpu;

use super::Handles;
use super::program::{Owned, Res, bind, storage, storage_init, u32_bytes};
use super::state::StackState;
use crate::data::{Dataset, SIDE, check_range, epoch_batches};
use crate::error::{DataError, Error};
use crate::prng::Key;

/// A split's images and labels on the GPU, for compiled steps: pixels stay bytes (4 per u32).
#[derive(Clone, Debug)]
pub struct Data(Arc<DataInner>);

#[derive(Debug)]
pub(super) struct DataInner {
    pub(super) pixels: Owned,
    pub(super) labels: Owned,
    /// Bound as the order of `range` batches, which read rows in place.
    pub(super) no_order: Arc<Owned>,
    pub(super) len: usize,
    pub(super) gpu: Handles,
}

impl Data {
    pub fn upload(gpu: &Handles, data: &Dataset) -> Result<Data, Error> {
        let len = data.len();
        if len == 0 || data.images.len() != len * SIDE * SIDE {
            return Err(Error::Shape(format!(
                "a split to upload needs at least one image and {} bytes per image",
                SIDE * SIDE
            )));
        }
        let d = &gpu.device;
        Ok(Data(Arc::new(DataInner {
            pixels: Owned(storage_init(d, "actlab pixels", &data.images)),
            labels: Owned(storage_init(
                d,
                "actlab labels",
                &u32_bytes(&data.labels.iter().map(|&l| l as u32).collect::<Vec<_>>()),
            )),
            no_order: Arc::new(Owned(storage(d, "actlab no order", 1))),
            len,
            gpu: gpu.clone(),
        })))
    }

    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The epoch's batch order from `key` (the same permutation as `DeviceDataset::epoch_order`,
    /// so both paths see the same batches), uploaded once.
    pub fn epoch(&self, key: Key, batch_size: usize) -> Result<Epoch, Error> {
        let order: Vec<u32> = epoch_batches(key, self.len(), batch_size)?.concat();
        Ok(Epoch {
            data: self.0.clone(),
            order: Arc::new(Owned(storage_init(
                &self.0.gpu.device,
                "actlab order",
                &u32_bytes(&order),
            ))),
            batch_size,
            batches: order.len() / batch_size,
        })
    }

    /// Images `start..start + n`, in order.
    pub fn range(&self, start: usize, n: usize) -> Result<BatchRef, Error> {
        check_range(start, n, self.len())?;
        Ok(BatchRef {
            data: self.0.clone(),
            order: self.0.no_order.clone(),
            offset: start as u32,
            n: n as u32,
            mode: 1,
        })
    }

    /// The whole split in chunks of at most `chunk` images (for evaluation).
    pub fn chunks(&self, chunk: usize) -> Result<Vec<BatchRef>, Error> {
        if chunk == 0 {
            return Err(DataError::BatchSize {
                batch_size: 0,
                len: self.len(),
            }
            .into());
        }
        (0..self.len())
            .step_by(chunk)
            .map(|s| self.range(s, chunk.min(self.len() - s)))
            .collect()
    }
}

/// One epoch's batch order on the GPU.
#[derive(Clone, Debug)]
pub struct Epoch {
    pub(super) data: Arc<DataInner>,
    pub(super) order: Arc<Owned>,
    batch_size: usize,
    batches: usize,
}

impl Epoch {
    pub fn batches(&self) -> usize {
        self.batches
    }

    pub fn batch(&self, i: usize) -> Result<BatchRef, Error> {
        if i >= self.batches {
            return Err(Error::Data(DataError::BatchOutOfRange {
                batch: i,
                batches: self.batches,
            }));
        }
        Ok(BatchRef {
            data: self.data.clone(),
            order: self.order.clone(),
            offset: (i * self.batch_size) as u32,
            n: self.batch_size as u32,
            mode: 0,
        })
    }
}

/// A batch a compiled step gathers on the GPU: nothing is copied until the step runs.
#[derive(Clone, Debug)]
pub struct BatchRef {
    pub(super) data: Arc<DataInner>,
    pub(super) order: Arc<Owned>,
    pub(super) offset: u32,
    pub(super) n: u32,
    pub(super) mode: u32,
}

impl BatchRef {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl StackState {
    /// Whether `batches` fit this stack (size, device). `train_steps` checks them all before it
    /// runs any, so an error leaves the stack untouched; callers that must keep a state they
    /// would hand over (the JS bindings) check first.
    pub fn check_batches(&self, batches: &[BatchRef]) -> Result<(), Error> {
        batches.iter().try_for_each(|b| self.check_batch(b))
    }

    pub(super) fn check_batch(&self, b: &BatchRef) -> Result<(), Error> {
        if b.n == 0 || b.len() > self.program.shape.batch {
            return Err(Error::Shape(format!(
                "a batch of {} images for a step compiled for at most {}",
                b.n, self.program.shape.batch
            )));
        }
        if !b.data.gpu.same_device(&self.program.gpu) {
            return Err(Error::Device(
                "this batch's data lives on another GPU device than the stack".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn prepare(
        &mut self,
        batches: &[BatchRef],
    ) -> Result<Vec<(BatchRef, wgpu::BindGroup)>, Error> {
        let prepared = self.prepare_ref(batches)?;
        for (b, g) in &prepared {
            self.remember_gather(b, g);
        }
        Ok(prepared)
    }

    pub(super) fn prepare_ref(
        &self,
        batches: &[BatchRef],
    ) -> Result<Vec<(BatchRef, wgpu::BindGroup)>, Error> {
        batches
            .iter()
            .map(|b| {
                self.check_batch(b)?;
                Ok((b.clone(), self.gather_group(b)?))
            })
            .collect()
    }

    pub(super) fn gather_group(&self, b: &BatchRef) -> Result<wgpu::BindGroup, Error> {
        if let Some((_, _, g)) = self
            .gathers
            .iter()
            .find(|(d, o, _)| Arc::ptr_eq(d, &b.data) && Arc::ptr_eq(o, &b.order))
        {
            return Ok(g.clone());
        }
        Ok(bind(
            &self.program.gpu.device,
            &self.program.gather,
            &[
                Res::Buf(&b.data.pixels),
                Res::Buf(&b.data.labels),
                Res::Buf(&b.order),
                Res::Buf(&self.program.table),
                self.bufs.x0.res(),
                Res::Buf(&self.bufs.ylab),
            ],
        ))
    }

    pub(super) fn remember_gather(&mut self, b: &BatchRef, g: &wgpu::BindGroup) {
        if !self
            .gathers
            .iter()
            .any(|(d, o, _)| Arc::ptr_eq(d, &b.data) && Arc::ptr_eq(o, &b.order))
        {
            // A few entries: this epoch's order, the range batches of a split or two.
            if self.gathers.len() >= 4 {
                self.gathers.remove(0);
            }
            self.gathers
                .push((b.data.clone(), b.order.clone(), g.clone()));
        }
    }
}
