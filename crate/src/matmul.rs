//! The MLP's one compute-heavy operation, `lhs @ rhs` for 2-D tensors, as a Burn backend
//! extension with its own GPU kernel and its own backward pass.
//!
//! Why not Burn's matmul: on a software WebGPU adapter (SwiftShader, what a browser without a
//! usable GPU runs, and this project's CI) CubeCL's tiled kernels stage tiles through workgroup
//! memory behind barriers, which a CPU executes as expensive fibre switches; they took 1.36 s of
//! a 1.5 s training step. The kernel here keeps a 4x4 block of outputs in registers per
//! invocation and reads its operands straight from the buffers (on a CPU those are cached RAM),
//! which runs the tutorial's layers 2.5-4x faster there, and needs no autotuning, so the first
//! step compiles in seconds instead of minutes. Strides are baked into the shader, so transposed
//! views (the backward pass's `x^T dy` and `dy W^T`) are read in place, never copied.
//!
//! The backward pass is written against this same operation, so gradients also run on it. On
//! Burn's CPU backend (native tests and tools) the operation is Burn's own matmul.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, binary},
};
use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape, Tensor};
use cubecl::prelude::KernelId;
use cubecl::server::KernelArguments;
use cubecl::{CubeCount, CubeDim};

/// `lhs @ rhs` on whichever device the tensors live, differentiable.
pub fn mm(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(Dispatch::mm(lhs.into_dispatch(), rhs.into_dispatch()))
}

/// The backend extension: one operation, implemented for CubeCL (the kernel below), Burn's CPU
/// backend, autodiff (the backward pass) and fusion (a lazy, opaque op in the fused stream).
#[backend_extension(
    Cube: cfg(all()),
    Flex: cfg(not(target_arch = "wasm32")),
    Autodiff: cfg(all()),
    Fusion: cfg(all())
)]
pub trait MatmulOps: Backend {
    /// `[m, k] @ [k, n] -> [m, n]`.
    #[fusion(dtype = lhs, shape = product_shape(lhs, rhs))]
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

fn product_shape(lhs: &Shape, rhs: &Shape) -> Shape {
    Shape::from([lhs[0], rhs[1]])
}

#[cfg(not(target_arch = "wasm32"))]
impl MatmulOps for burn::backend::Flex {
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}

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

impl<B: Backend + MatmulOps, C: CheckpointStrategy> MatmulOps for Autodiff<B, C> {
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        /// d(lhs) = grad @ rhs^T, d(rhs) = lhs^T @ grad: transposes are stride swaps.
        #[derive(Debug)]
        struct Mm;

        impl<B: Backend + MatmulOps> Backward<B, 2> for Mm {
            type State = (
                Option<burn::backend::autodiff::NodeId>,
                Option<burn::backend::autodiff::NodeId>,
            );

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (lhs, rhs) = ops.state;
                let lhs: Option<FloatTensor<B>> = lhs.map(|l| checkpointer.retrieve_node_output(l));
                let rhs: Option<FloatTensor<B>> = rhs.map(|r| checkpointer.retrieve_node_output(r));
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::mm(grad, B::float_transpose(rhs.expect("rhs kept for d(lhs)"))),
                    |grad| B::mm(B::float_transpose(lhs.expect("lhs kept for d(rhs)")), grad),
                );
            }
        }

        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match Mm
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // Each operand is needed only for the other's gradient.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                prep.finish(
                    (lhs_state, rhs_state),
                    B::mm(lhs.into_primitive(), rhs.into_primitive()),
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::mm(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }
}
