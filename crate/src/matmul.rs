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
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;

/// The GPU kernel (feature `gpu`).
#[cfg(feature = "gpu")]
mod gpu;

/// `lhs @ rhs` on whichever device the tensors live, differentiable.
pub fn mm(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(Dispatch::mm(lhs.into_dispatch(), rhs.into_dispatch()))
}

/// The backend extension: one operation, implemented for CubeCL (the kernel below), Burn's CPU
/// backend, autodiff (the backward pass) and fusion (a lazy, opaque op in the fused stream).
#[backend_extension(
    Cube: cfg(feature = "gpu"),
    Flex: cfg(feature = "cpu"),
    Autodiff: cfg(all()),
    Fusion: cfg(feature = "gpu")
)]
pub trait MatmulOps: Backend {
    /// `[m, k] @ [k, n] -> [m, n]`.
    #[fusion(dtype = lhs, shape = product_shape(lhs, rhs))]
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

#[cfg(feature = "gpu")]
fn product_shape(lhs: &burn::tensor::Shape, rhs: &burn::tensor::Shape) -> burn::tensor::Shape {
    burn::tensor::Shape::from([lhs[0], rhs[1]])
}

#[cfg(feature = "cpu")]
impl MatmulOps for burn::backend::Flex {
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        use burn::backend::ops::FloatTensorOps;
        Self::float_matmul(lhs, rhs)
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
