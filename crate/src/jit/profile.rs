//! Where a step's GPU time goes, kernel by kernel (native only: it blocks on the GPU).

use burn::tensor::wgpu::wgpu;

use super::data::BatchRef;
use super::program::Pipeline;
use super::state::{StackState, go};
use crate::error::Error;

impl StackState {
    /// Where a train step's GPU time goes: each kernel alone, `reps` dispatches in one submit,
    /// waited for; microseconds per dispatch (after an empty submit's time is taken off).
    /// Overwrites the state's values: profile a throwaway state. Native only (it blocks).
    pub fn profile(&mut self, batch: &BatchRef, reps: usize) -> Result<Vec<(String, f64)>, Error> {
        let prepared = self.prepare(std::slice::from_ref(batch))?;
        self.write_steps(&prepared, true);
        let p = self.program.clone();
        let g = &self.groups;
        let mut kernels: Vec<(&Pipeline, &wgpu::BindGroup)> = vec![(&p.gather, &prepared[0].1)];
        kernels.extend(p.sync.iter().zip(&g.sync));
        kernels.extend(p.forward.iter().zip(&g.forward));
        kernels.push((&p.loss_train, &g.loss_train));
        kernels.extend(p.backward.iter().zip(&g.backward).rev());
        kernels.push((&p.update, &g.update));
        let time = |k: Option<(&Pipeline, &wgpu::BindGroup)>| -> Result<f64, Error> {
            let gpu = &p.gpu;
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_bind_group(0, &g.step, &[0]);
                for _ in 0..reps {
                    if let Some((pl, bg)) = k {
                        go(&mut pass, pl, bg);
                    }
                }
            }
            let t = std::time::Instant::now();
            gpu.queue.submit([encoder.finish()]);
            gpu.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
            Ok(t.elapsed().as_secs_f64() * 1e6)
        };
        time(None)?;
        let empty = time(None)?;
        kernels
            .into_iter()
            .map(|k| Ok((k.0.name.clone(), (time(Some(k))? - empty) / reps as f64)))
            .collect()
    }
}
