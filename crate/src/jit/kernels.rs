//! The WGSL of a compiled step, generated once per stack shape. Every size, offset, activation
//! and optimizer constant is baked into the source, so a step's only per-call input is the
//! 32-byte `Step` uniform (batch offset and size, metrics slot, Adam's bias corrections); the
//! products on textures (`textured.rs`, software adapters) read their layer's sizes from a
//! uniform instead, to share one pipeline across layers.
//!
//! Layouts (f32 unless said):
//! - params, grads and optimizer moments: per layer `l`, for every model `k`, the kernel
//!   `[d_l, d_{l+1}]` followed by the bias as row `d_l`: one `[d_l + 1, d_{l+1}]` block, so the
//!   bias is the kernel of a constant-1 input column and its gradient is one more row of `x^T dz`.
//! - `x0 [B, d_0]` (shared by all models), `z_l`, `a_l`, `dz_l [K, B, d_l]`, `ylab [B]` (u32),
//!   `classes [K, B]` (u32), `metrics [slots, K, 2]` (loss, accuracy).
//!
//! The matrix products keep a block of outputs per invocation in registers (`Tiling`) and read
//! their operands in place (no workgroup memory), from storage buffers on GPUs, from textures
//! on software adapters (`textured.rs`; docs/benchmark.md).

use crate::activation::{self, Activation};
use crate::optim::Optimizer;

use super::textured;
use super::tiling::{Product, Tiling, entry};

/// The `Step` uniform every kernel sees in group 0 (dynamic offset: one 256-byte slot a step).
pub const STEP_WGSL: &str = "struct Step { offset: u32, n: u32, mode: u32, slot: u32, c1: f32, c2: f32, p0: u32, p1: u32 }\n\
@group(0) @binding(0) var<uniform> step: Step;\n";

/// What a kernel binds at one slot of group 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A storage buffer it reads.
    Read,
    /// A storage buffer it writes.
    Write,
    /// An `rgba32float` 2d-array texture it reads (`textured.rs`).
    Texture,
    /// An `rgba32float` 2d-array storage texture it writes.
    Store,
    /// A uniform buffer (a layer's sizes, `textured.rs`).
    Uniform,
}

pub type Bindings = Vec<Slot>;

/// The shape a program is compiled for.
#[derive(Clone, Debug)]
pub struct Shape {
    /// `[d_0, ..., d_L]`.
    pub dims: Vec<usize>,
    pub models: usize,
    pub batch: usize,
    pub activations: Vec<Activation>,
    pub optimizer: Optimizer,
    pub metric_slots: usize,
    pub tiling: Tiling,
}

impl Shape {
    pub fn layers(&self) -> usize {
        self.dims.len() - 1
    }

    /// Elements of one model's block of layer `l` (kernel plus bias row).
    pub fn block(&self, l: usize) -> usize {
        (self.dims[l] + 1) * self.dims[l + 1]
    }

    /// Offset of layer `l`'s blocks (all models) in the flat parameter buffer.
    pub fn layer_offset(&self, l: usize) -> usize {
        (0..l).map(|j| self.models * self.block(j)).sum()
    }

    pub fn num_params(&self) -> usize {
        self.layer_offset(self.layers())
    }
}

/// A kernel: its source, what it binds and its grid.
pub struct Kernel {
    pub name: String,
    pub source: String,
    pub bindings: Bindings,
    pub grid: (u32, u32, u32),
}

pub(super) fn storage(i: usize, name: &str, ty: &str, write: bool) -> String {
    let access = if write { "read_write" } else { "read" };
    format!("@group(1) @binding({i}) var<storage, {access}> {name}: array<{ty}>;\n")
}

/// f32 literal that round-trips exactly.
fn lit(x: f64) -> String {
    format!("{:?}f", x as f32)
}

/// Batch assembly: rows of packed bytes (4 per u32) picked by the epoch's order (`mode` 0) or a
/// contiguous range (`mode` 1), unpacked and normalised by table lookup, as `DeviceDataset`.
pub fn gather(s: &Shape) -> Kernel {
    let d0 = s.dims[0];
    let words = d0 / 4;
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "pixels", "u32", false);
    src += &storage(1, "labels", "u32", false);
    src += &storage(2, "order", "u32", false);
    src += &storage(3, "table", "f32", false);
    let textures = s.tiling.textures;
    let values: Vec<String> = (0..4)
        .map(|j| format!("select(0.0, table[(word >> {}u) & 255u], valid)", 8 * j))
        .collect();
    let x0 = if textures {
        src += &textured::stored(4, "x0");
        textured::gather_store(&values)
    } else {
        src += &storage(4, "x0", "f32", true);
        values
            .iter()
            .enumerate()
            .map(|(j, v)| format!("x0[b * {d0}u + w * 4u + {j}u] = {v};\n"))
            .collect()
    };
    src += &storage(5, "ylab", "u32", true);
    src += &format!(
        "@compute @workgroup_size(64, 1, 1)\n\
         fn main(@builtin(global_invocation_id) g: vec3u) {{\n\
           let w = g.x; let b = g.y;\n\
           if (w >= {words}u) {{ return; }}\n\
           let valid = b < step.n;\n\
           var idx = step.offset + b;\n\
           if (step.mode == 0u) {{ idx = order[min(idx, arrayLength(&order) - 1u)]; }}\n\
           idx = min(idx, arrayLength(&labels) - 1u);\n\
           let word = pixels[idx * {words}u + w];\n\
           {x0}\
           if (w == 0u) {{ ylab[b] = select(0u, labels[idx], valid); }}\n\
         }}\n"
    );
    Kernel {
        name: "gather".into(),
        source: src,
        bindings: vec![
            Slot::Read,
            Slot::Read,
            Slot::Read,
            Slot::Read,
            if textures { Slot::Store } else { Slot::Write },
            Slot::Write,
        ],
        grid: (words.div_ceil(64) as u32, s.batch as u32, 1),
    }
}

/// Layer `l`'s forward pass for every model: `z = a @ W + b`, and `a' = act(z)` unless it is
/// the last layer (whose `z` are the logits).
pub fn forward(s: &Shape, l: usize) -> Kernel {
    if s.tiling.textures {
        return textured::forward(s, l);
    }
    let (din, dout, b) = (s.dims[l], s.dims[l + 1], s.batch);
    let hidden = l + 1 < s.layers();
    let in_stride = if l == 0 { 0 } else { b * din };
    let (off, block) = (s.layer_offset(l), s.block(l));
    let lhs = |r: &str, k: &str| format!("inp[z * {in_stride}u + {r} * {din}u + {k}]");
    let rhs = |k: &str, c: &str| format!("p[{off}u + z * {block}u + {k} * {dout}u + {c}]");
    let store = |r: &str, c: &str, v: &str| {
        let at = format!("z * {}u + {r} * {dout}u + {c}", b * dout);
        let bias = format!("p[{off}u + z * {block}u + {din}u * {dout}u + {c}]");
        let mut st = format!("let v = {v} + {bias}; zo[{at}] = v;");
        if hidden {
            st += &format!(" ao[{at}] = act(z, v);");
        }
        st
    };
    let prod = Product {
        name: "tile",
        m: b,
        n: dout,
        k: din,
        lhs: &lhs,
        rhs: &rhs,
        store: &store,
    };
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "inp", "f32", false);
    src += &storage(1, "p", "f32", false);
    src += &storage(2, "zo", "f32", true);
    let mut bindings = vec![Slot::Read, Slot::Read, Slot::Write];
    if hidden {
        src += &storage(3, "ao", "f32", true);
        bindings.push(Slot::Write);
        src += &activation::wgsl::stack(&s.activations);
    }
    src += &prod.wgsl(s.tiling);
    let t = s.tiling;
    src += &entry(
        t,
        &format!(
            "tile((w.y * {}u + l.y) * {}u, {}, w.z, l.z, cell);\n",
            t.y,
            t.rows,
            t.col0("w.x")
        ),
    );
    let (tx, ty) = t.tiles(b, dout);
    Kernel {
        name: format!("forward{l}"),
        source: src,
        bindings,
        grid: (tx as u32, ty as u32, s.models as u32),
    }
}

/// Softmax cross-entropy of the logits against the labels, for every model (one workgroup a
/// model): mean loss and accuracy into the metrics slot, arg-max classes, and, when `train`,
/// `dlogits = (softmax - onehot) / n` (zero for rows past `n`).
pub fn loss(s: &Shape, train: bool) -> Kernel {
    let (b, classes, k) = (s.batch, s.dims[s.layers()], s.models);
    let grad = |v: &str| {
        if train {
            if s.tiling.textures {
                textured::loss_store(classes, v)
            } else {
                format!("for (var c = 0u; c < {classes}u; c++) {{ dz[base + c] = {v}; }}\n")
            }
        } else {
            String::new()
        }
    };
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "logits", "f32", false);
    src += &storage(1, "ylab", "u32", false);
    src += &storage(2, "metrics", "f32", true);
    src += &storage(3, "classes", "u32", true);
    let mut bindings = vec![Slot::Read, Slot::Read, Slot::Write, Slot::Write];
    if train {
        if s.tiling.textures {
            src += &textured::stored(4, "dz");
            bindings.push(Slot::Store);
        } else {
            src += &storage(4, "dz", "f32", true);
            bindings.push(Slot::Write);
        }
    }
    src += &format!(
        "var<workgroup> red_loss: array<f32, 256>;\n\
         var<workgroup> red_hit: array<f32, 256>;\n\
         @compute @workgroup_size(256, 1, 1)\n\
         fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {{\n\
           let z = w.z; let n = step.n; let inv = 1.0 / f32(n);\n\
           var loss = 0.0; var hit = 0.0;\n\
           for (var b = l.x; b < {b}u; b += 256u) {{\n\
             let base = z * {zb}u + b * {classes}u;\n\
             if (b < n) {{\n\
               var mx = logits[base]; var arg = 0u;\n\
               for (var c = 1u; c < {classes}u; c++) {{ let v = logits[base + c]; if (v > mx) {{ mx = v; arg = c; }} }}\n\
               var sum = 0.0;\n\
               for (var c = 0u; c < {classes}u; c++) {{ sum += exp(logits[base + c] - mx); }}\n\
               let y = min(ylab[b], {last}u);\n\
               loss += log(sum) - (logits[base + y] - mx);\n\
               hit += select(0.0, 1.0, arg == y);\n\
               classes[z * {b}u + b] = arg;\n\
               {g1}\
             }} else {{\n\
               {g0}\
             }}\n\
           }}\n\
           red_loss[l.x] = loss; red_hit[l.x] = hit;\n\
           workgroupBarrier();\n\
           for (var h = 128u; h > 0u; h >>= 1u) {{\n\
             if (l.x < h) {{ red_loss[l.x] += red_loss[l.x + h]; red_hit[l.x] += red_hit[l.x + h]; }}\n\
             workgroupBarrier();\n\
           }}\n\
           if (l.x == 0u) {{\n\
             let at = (step.slot * {k}u + z) * 2u;\n\
             metrics[at] = red_loss[0] * inv; metrics[at + 1u] = red_hit[0] * inv;\n\
           }}\n\
         }}\n",
        zb = b * classes,
        last = classes - 1,
        g1 = grad("(exp(logits[base + c] - mx) / sum - select(0.0, 1.0, c == y)) * inv"),
        g0 = grad("0.0"),
    );
    Kernel {
        name: if train { "loss_train" } else { "loss_eval" }.into(),
        source: src,
        bindings,
        grid: (1, 1, k as u32),
    }
}

/// Layer `l`'s backward pass for every model, one dispatch: the parameter gradient
/// `[x, 1]^T dz` (kernel rows and the bias row) and, below the first layer, the gradient of
/// the layer's input `dz_prev = (dz W^T) * act'(z_prev)`. Workgroups `0..nw` compute the first,
/// the rest the second.
pub fn backward(s: &Shape, l: usize) -> Kernel {
    if s.tiling.textures {
        return textured::backward(s, l);
    }
    let (din, dout, b) = (s.dims[l], s.dims[l + 1], s.batch);
    let in_stride = if l == 0 { 0 } else { b * din };
    let (off, block) = (s.layer_offset(l), s.block(l));
    let dz_at = |r: &str, c: &str| format!("dz[z * {}u + {r} * {dout}u + {c}]", b * dout);
    // dW: rows 0..din are x^T dz, row din (the constant-1 column) is the bias gradient.
    let w_lhs = |r: &str, k: &str| {
        format!(
            "select(inp[z * {in_stride}u + {k} * {din}u + min({r}, {}u)], 1.0, {r} == {din}u)",
            din - 1
        )
    };
    let w_rhs = |k: &str, c: &str| dz_at(k, c);
    let w_store = |r: &str, c: &str, v: &str| {
        format!("g[{off}u + z * {block}u + {r} * {dout}u + {c}] = {v};")
    };
    let dw = Product {
        name: "tile_w",
        m: din + 1,
        n: dout,
        k: b,
        lhs: &w_lhs,
        rhs: &w_rhs,
        store: &w_store,
    };
    let a_lhs = |r: &str, k: &str| dz_at(r, k);
    let a_rhs = |k: &str, c: &str| format!("p[{off}u + z * {block}u + {c} * {dout}u + {k}]");
    let a_store = |r: &str, c: &str, v: &str| {
        let at = format!("z * {}u + {r} * {din}u + {c}", b * din);
        format!("dzp[{at}] = {v} * dact(z, zp[{at}]);")
    };
    let da = Product {
        name: "tile_a",
        m: b,
        n: din,
        k: dout,
        lhs: &a_lhs,
        rhs: &a_rhs,
        store: &a_store,
    };
    let t = s.tiling;
    let (wx, wy) = t.tiles(din + 1, dout);
    let (ax, ay) = t.tiles(b, din);
    let nw = wx * wy;
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "inp", "f32", false);
    src += &storage(1, "dz", "f32", false);
    src += &storage(2, "p", "f32", false);
    src += &storage(3, "g", "f32", true);
    let mut bindings = vec![Slot::Read, Slot::Read, Slot::Read, Slot::Write];
    let tile = |f: &str, nx: usize, i: &str| {
        format!(
            "{f}((({i}) / {nx}u * {}u + l.y) * {}u, {}, w.z, l.z, cell);\n",
            t.y,
            t.rows,
            t.col0(&format!("(({i}) % {nx}u)"))
        )
    };
    let mut body = format!("if (w.x < {nw}u) {{ {} }}", tile("tile_w", wx, "w.x"));
    let mut workgroups = nw;
    src += &dw.wgsl(s.tiling);
    if l > 0 {
        src += &storage(4, "dzp", "f32", true);
        src += &storage(5, "zp", "f32", false);
        bindings.extend([Slot::Write, Slot::Read]);
        src += &activation::wgsl::stack(&s.activations);
        src += &da.wgsl(s.tiling);
        body += &format!(
            " else {{ {} }}",
            tile("tile_a", ax, &format!("w.x - {nw}u"))
        );
        workgroups += ax * ay;
    }
    src += &entry(t, &(body + "\n"));
    Kernel {
        name: format!("backward{l}"),
        source: src,
        bindings,
        grid: (workgroups as u32, 1, s.models as u32),
    }
}

/// The optimizer update of every parameter of every model, elementwise, with optax's formulas
/// in the same operation order as `optim.rs` (so both paths round alike).
pub fn update(s: &Shape) -> Kernel {
    let count = s.num_params();
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "p", "f32", true);
    src += &storage(1, "g", "f32", false);
    src += &storage(2, "m", "f32", true);
    let mut bindings = vec![Slot::Write, Slot::Read, Slot::Write];
    let body = match s.optimizer {
        Optimizer::Sgd {
            learning_rate,
            momentum,
        } => format!(
            "let t = g[i] + m[i] * {}; m[i] = t; p[i] = p[i] - t * {};",
            lit(momentum),
            lit(learning_rate)
        ),
        Optimizer::Adam {
            learning_rate,
            b1,
            b2,
            eps,
        } => {
            src += &storage(3, "v", "f32", true);
            bindings.push(Slot::Write);
            format!(
                "let gi = g[i];\n\
                 let m1 = gi * {} + m[i] * {}; let v1 = (gi * gi) * {} + v[i] * {};\n\
                 m[i] = m1; v[i] = v1;\n\
                 p[i] = p[i] - ((m1 / step.c1) / (sqrt(v1 / step.c2) + {})) * {};",
                lit(1.0 - b1),
                lit(b1),
                lit(1.0 - b2),
                lit(b2),
                lit(eps),
                lit(learning_rate)
            )
        }
    };
    let groups = count.div_ceil(256);
    let gx = groups.min(32768);
    src += &format!(
        "@compute @workgroup_size(256, 1, 1)\n\
         fn main(@builtin(global_invocation_id) gid: vec3u) {{\n\
           let i = gid.y * {}u + gid.x;\n\
           if (i >= {count}u) {{ return; }}\n\
           {body}\n\
         }}\n",
        gx * 256
    );
    Kernel {
        name: "update".into(),
        source: src,
        bindings,
        grid: (gx as u32, groups.div_ceil(gx) as u32, 1),
    }
}
