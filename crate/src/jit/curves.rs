//! The compiled stack's own activation functions evaluated at given points: the same WGSL
//! (`activation::wgsl::stack`) the train step's kernels include, in one small kernel, so tests
//! and the page can hold the code the GPU trains with to a reference.

use burn::tensor::wgpu::wgpu;
use wgpu::util::DeviceExt;

use super::Handles;
use super::program::{Owned, f32_bytes};
use super::readback::{floats, read_bytes};
use crate::activation::{self, Activation};
use crate::error::Error;

/// The most points one call evaluates.
pub const MAX_POINTS: usize = 1 << 20;

/// `(f(x), f'(x))` of each activation at every `x`, computed by the stack's WGSL.
pub async fn activation_values(
    gpu: &Handles,
    acts: &[Activation],
    xs: &[f32],
) -> Result<Vec<(Vec<f32>, Vec<f32>)>, Error> {
    if acts.is_empty() || acts.len() > super::MAX_MODELS || xs.is_empty() || xs.len() > MAX_POINTS {
        return Err(Error::Config(format!(
            "activation values need 1 to {} activations and 1 to {MAX_POINTS} points, got {} and {}",
            super::MAX_MODELS,
            acts.len(),
            xs.len()
        )));
    }
    let (n, k) = (xs.len(), acts.len());
    let source = format!(
        "@group(0) @binding(0) var<storage, read> xs: array<f32>;\n\
         @group(0) @binding(1) var<storage, read_write> out: array<f32>;\n\
         {}\
         @compute @workgroup_size(64, 1, 1)\n\
         fn main(@builtin(global_invocation_id) g: vec3u) {{\n\
           let i = g.y * 4194240u + g.x;\n\
           let m = g.z;\n\
           if (i >= {n}u) {{ return; }}\n\
           out[(m * 2u) * {n}u + i] = act(m, xs[i]);\n\
           out[(m * 2u + 1u) * {n}u + i] = dact(m, xs[i]);\n\
         }}\n",
        activation::wgsl::stack(acts)
    );
    let device = &gpu.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("actlab activation values"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("actlab activation values"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let input = Owned(
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("actlab xs"),
            contents: &f32_bytes(xs),
            usage: wgpu::BufferUsages::STORAGE,
        }),
    );
    let output = Owned(device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("actlab activation values"),
        size: (4 * 2 * n * k) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    }));
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: output.as_entire_binding(),
            },
        ],
    });
    let mut encoder =
        device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        // 65535 workgroups of 64 a row (4194240 points), rows as needed.
        let groups = n.div_ceil(64);
        let gx = groups.min(65535);
        pass.dispatch_workgroups(gx as u32, groups.div_ceil(gx) as u32, k as u32);
    }
    gpu.queue.submit([encoder.finish()]);
    let v = floats(&read_bytes(gpu, &output).await?);
    Ok((0..k)
        .map(|m| {
            let f = v[2 * m * n..(2 * m + 1) * n].to_vec();
            let df = v[(2 * m + 1) * n..(2 * m + 2) * n].to_vec();
            (f, df)
        })
        .collect())
}
