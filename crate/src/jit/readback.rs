//! Reading a stack's metrics (and other buffers) back: one GPU round trip for many steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::wgpu::wgpu;

use super::Handles;
use super::program::Owned;
use crate::error::Error;
use crate::train::MetricValues;

/// Metrics ring: `[slots, K, 2]` on the GPU plus how many slots were ever written.
#[derive(Debug)]
pub(super) struct Ring {
    pub(super) buffer: Owned,
    pub(super) written: AtomicU64,
    pub(super) models: usize,
    pub(super) gpu: Handles,
}

/// One step's per-model metrics, still on the GPU.
#[derive(Clone, Debug)]
pub struct StackMetrics {
    pub(super) ring: Arc<Ring>,
    pub(super) seq: u64,
}

/// Reads many steps' metrics with one readback: `[handle][model]`. Handles from different
/// stacks are read one stack at a time. Only the slots asked for are copied back.
pub async fn read_metrics(metrics: &[StackMetrics]) -> Result<Vec<Vec<MetricValues>>, Error> {
    let mut out = vec![Vec::new(); metrics.len()];
    let mut done = vec![false; metrics.len()];
    for i in 0..metrics.len() {
        if done[i] {
            continue;
        }
        let ring = &metrics[i].ring;
        let slots = ring.buffer.size() / (8 * ring.models as u64);
        let written = ring.written.load(Ordering::Relaxed);
        let mine: Vec<usize> = (i..metrics.len())
            .filter(|&j| Arc::ptr_eq(&metrics[j].ring, ring))
            .collect();
        if let Some(&j) = mine.iter().find(|&&j| written - metrics[j].seq > slots) {
            return Err(Error::Device(format!(
                "metrics of {} steps ago were overwritten: read them at least every {slots} steps",
                written - metrics[j].seq
            )));
        }
        let slot_bytes = 8 * ring.models as u64;
        let ranges: Vec<(u64, u64)> = mine
            .iter()
            .map(|&j| ((metrics[j].seq % slots) * slot_bytes, slot_bytes))
            .collect();
        let values = floats(&read_ranges(&ring.gpu, &ring.buffer, &ranges).await?);
        for (n, &j) in mine.iter().enumerate() {
            let at = n * 2 * ring.models;
            out[j] = values[at..at + 2 * ring.models]
                .chunks_exact(2)
                .map(|c| MetricValues {
                    loss: c[0],
                    accuracy: c[1],
                })
                .collect();
            done[j] = true;
        }
    }
    Ok(out)
}

pub(super) fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub(super) async fn read_bytes(gpu: &Handles, buffer: &wgpu::Buffer) -> Result<Vec<u8>, Error> {
    read_ranges(gpu, buffer, &[(0, buffer.size())]).await
}

/// Copies `(offset, size)` ranges of a buffer, back to back, to a mappable one and maps it:
/// one GPU round trip.
pub(super) async fn read_ranges(
    gpu: &Handles,
    buffer: &wgpu::Buffer,
    ranges: &[(u64, u64)],
) -> Result<Vec<u8>, Error> {
    let size: u64 = ranges.iter().map(|r| r.1).sum();
    let staging = Owned(gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("actlab readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    }));
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    let mut at = 0;
    for &(offset, n) in ranges {
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, at, n);
        at += n;
    }
    gpu.queue.submit([encoder.finish()]);
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
    rx.await
        .map_err(|_| Error::Device("the GPU readback was cancelled".into()))?
        .map_err(|e| Error::Device(format!("cannot read GPU memory: {e}")))?;
    let bytes = staging
        .get_mapped_range(..)
        .map_err(|e| Error::Device(format!("cannot read GPU memory: {e}")))?
        .to_vec();
    staging.unmap();
    Ok(bytes)
}
