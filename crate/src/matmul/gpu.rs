//! `mm` on the GPU: one WGSL kernel per shape and layout (see the parent module for why).

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::tensor::{DType, Shape};
use cubecl::prelude::KernelId;
use cubecl::server::KernelArguments;
use cubecl::{CubeCount, CubeDim};

use super::MatmulOps;

/// Invocations per workgroup along `n`; each computes `ROWS x COLS` outputs.
const WORKGROUP: u32 = 16;
const ROWS: usize = 4;
const COLS: usize = 4;

/// One kernel per shape and layout: `m, n, k` and the element strides of both operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MmKernel {
    m: usize,
    n: usize,
    k: usize,
    lhs_strides: [usize; 2],
    rhs_strides: [usize; 2],
}

impl MmKernel {
    /// The WGSL. Loads past the edge are clamped to the last row or column (their products are
    /// never stored), so the inner loop has no branches.
    fn wgsl(&self) -> String {
        let Self { m, n, k, .. } = *self;
        let [sa0, sa1] = self.lhs_strides;
        let [sb0, sb1] = self.rhs_strides;
        // All read_write: CubeCL suballocates tensors from shared buffers, and WebGPU forbids
        // binding one buffer both read-only and writable in a dispatch.
        let mut s = format!(
            "@group(0) @binding(0) var<storage, read_write> a: array<f32>;\n\
             @group(0) @binding(1) var<storage, read_write> b: array<f32>;\n\
             @group(0) @binding(2) var<storage, read_write> c: array<f32>;\n\
             @compute @workgroup_size({WORKGROUP}, 1, 1)\n\
             fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {{\n\
             let row0 = w.y * {ROWS}u;\n\
             let col0 = (w.x * {WORKGROUP}u + l.x) * {COLS}u;\n"
        );
        for i in 0..ROWS {
            s += &format!("let ra{i} = min(row0 + {i}u, {}u) * {sa0}u;\n", m - 1);
        }
        for j in 0..COLS {
            s += &format!("let cb{j} = min(col0 + {j}u, {}u) * {sb1}u;\n", n - 1);
        }
        for i in 0..ROWS {
            for j in 0..COLS {
                s += &format!("var c{i}_{j} = 0.0;\n");
            }
        }
        s += &format!("for (var k = 0u; k < {k}u; k++) {{\n");
        for i in 0..ROWS {
            s += &format!("let a{i} = a[ra{i} + k * {sa1}u];\n");
        }
        for j in 0..COLS {
            s += &format!("let b{j} = b[k * {sb0}u + cb{j}];\n");
        }
        for i in 0..ROWS {
            for j in 0..COLS {
                s += &format!("c{i}_{j} += a{i} * b{j};\n");
            }
        }
        s += "}\n";
        for i in 0..ROWS {
            for j in 0..COLS {
                s += &format!(
                    "if (row0 + {i}u < {m}u && col0 + {j}u < {n}u) {{ \
                     c[(row0 + {i}u) * {n}u + col0 + {j}u] = c{i}_{j}; }}\n"
                );
            }
        }
        s + "}\n"
    }

    fn cube_count(&self) -> CubeCount {
        let per_cube = WORKGROUP as usize * COLS;
        CubeCount::Static(
            self.n.div_ceil(per_cube) as u32,
            self.m.div_ceil(ROWS) as u32,
            1,
        )
    }
}

impl KernelSource for MmKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(self.wgsl())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(*self)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

impl MatmulOps for CubeBackend {
    fn mm(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        let (ls, rs) = (lhs.meta.shape(), rhs.meta.shape());
        let (m, k, n) = (ls[0], ls[1], rs[1]);
        // The kernel is f32 only and needs something to multiply; anything else (mismatched
        // shapes included, which Burn reports) is Burn's.
        if lhs.dtype != DType::F32
            || rhs.dtype != DType::F32
            || rs[0] != k
            || [m, n, k].contains(&0)
        {
            return Self::float_matmul(lhs, rhs);
        }
        let kernel = MmKernel {
            m,
            n,
            k,
            lhs_strides: [lhs.meta.strides()[0], lhs.meta.strides()[1]],
            rhs_strides: [rhs.meta.strides()[0], rhs.meta.strides()[1]],
        };
        let client = lhs.client.clone();
        let out = CubeTensor::new_contiguous(
            client.clone(),
            lhs.device.clone(),
            Shape::from([m, n]),
            client.empty(m * n * size_of::<f32>()),
            DType::F32,
        );
        let count = kernel.cube_count();
        client.launch(
            Box::new(SourceKernel::new(kernel, CubeDim::new_1d(WORKGROUP))),
            count,
            KernelArguments::new().with_buffers(vec![
                lhs.handle.binding(),
                rhs.handle.binding(),
                out.handle.clone().binding(),
            ]),
        );
        out
    }
}
