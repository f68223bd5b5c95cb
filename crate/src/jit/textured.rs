//! The products of a software adapter's step (`Tiling::textures`): operands read as texels
//! of `rgba32float` 2d-array textures (one layer a model) instead of storage-buffer elements.
//! SwiftShader compiles a storage-buffer load at a run-time index into a gather: per lane a
//! branch, a scalar load and an insert, about 80 instructions; a texel fetch is one vector
//! load per lane. Products read this way ran 2.6x faster there (docs/benchmark.md).
//!
//! Layouts: a matrix `[rows, cols]` is a texture `cols.div_ceil(4)` texels wide and `rows`
//! high, texel `(x, y)` holding entries `y, 4x..4x + 4`; past the last column they are 0, and
//! batch-indexed textures are `Shape::padded_batch` rows high, the extra rows 0. So a product
//! sums whole texels and every padded term is a product with 0.
//! - a layer's input (`x0` or `a_l`): one more column, all 1 (the bias's input), as `[x, 1]`;
//! - `dz_l`: the loss gradient at layer `l`'s output;
//! - `w_l`: the layer's `[d_l + 1, d_{l+1}]` block (kernel and bias row) of the parameter
//!   buffer, copied by `sync` before a step's forward pass (the buffer stays the truth:
//!   the optimizer, checkpoints and readbacks never see the textures), rows padded to 4.
//!
//! With the bias folded into the sum as its last term (`1 * b`), every output is summed in the
//! same order as the storage-buffer kernels, so both give the same bits.
//!
//! Every layer's sizes and offsets come from its `Layer` uniform, not the source: the forward
//! passes of all layers are one pipeline, as are the backward passes and the copies, so a
//! software adapter compiles 3 products, not 14 (compiling them was most of the first step).

use super::kernels::{Kernel, STEP_WGSL, Shape, Slot, storage};
use super::tiling::Tiling;
use crate::activation;

const XYZW: [&str; 4] = ["x", "y", "z", "w"];

pub(super) fn texels(n: usize) -> usize {
    n.div_ceil(4)
}

/// `(width in texels, height)` of each texture kind; every one has `models` layers but `x0`.
impl Shape {
    pub(super) fn padded_batch(&self) -> usize {
        self.batch.div_ceil(4) * 4
    }
    /// Layer `l`'s input `[x, 1]` (`x0` for `l = 0`).
    pub(super) fn input_texture(&self, l: usize) -> (usize, usize) {
        (texels(self.dims[l] + 1), self.padded_batch())
    }
    /// The gradient at layer `l`'s output.
    pub(super) fn grad_texture(&self, l: usize) -> (usize, usize) {
        (texels(self.dims[l + 1]), self.padded_batch())
    }
    /// Layer `l`'s kernel and bias.
    pub(super) fn weight_texture(&self, l: usize) -> (usize, usize) {
        (texels(self.dims[l + 1]), texels(self.dims[l] + 1) * 4)
    }
}

/// The `Layer` uniform's fields, in order (all `u32`).
const LAYER_FIELDS: [&str; 16] = [
    "din",
    "dout",
    "off",
    "block",
    "fsteps",
    "asteps",
    "one_input",
    "hidden",
    "out_width",
    "dzp_width",
    "fx",
    "wx",
    "nw",
    "ax",
    "wwidth",
    "pad",
];

fn layer_wgsl(binding: usize) -> String {
    let fields: Vec<String> = LAYER_FIELDS.iter().map(|f| format!("{f}: u32")).collect();
    format!(
        "struct Layer {{ {} }}\n@group(1) @binding({binding}) var<uniform> lay: Layer;\n",
        fields.join(", ")
    )
}

/// Layer `l`'s `Layer` uniform, as `LAYER_FIELDS`.
pub(super) fn layer_uniform(s: &Shape, l: usize) -> Vec<u32> {
    let (din, dout) = (s.dims[l], s.dims[l + 1]);
    let t = s.tiling;
    let (wx, wy) = t.tiles(din + 1, dout);
    let values = [
        din,
        dout,
        s.layer_offset(l),
        s.block(l),
        texels(din + 1),
        texels(dout),
        usize::from(l == 0),
        usize::from(l + 1 < s.layers()),
        s.input_texture(l + 1).0,
        s.grad_texture(l.saturating_sub(1)).0,
        t.tiles(s.batch, dout).0,
        wx,
        wx * wy,
        t.tiles(s.batch, din).0,
        s.weight_texture(l).0,
        0,
    ];
    values.iter().map(|&v| v as u32).collect()
}

fn sampled(i: usize, name: &str) -> String {
    format!("@group(1) @binding({i}) var {name}: texture_2d_array<f32>;\n")
}

pub(super) fn stored(i: usize, name: &str) -> String {
    format!("@group(1) @binding({i}) var {name}: texture_storage_2d_array<rgba32float, write>;\n")
}

/// The layer of a layer input's texture: `x0` has one, shared by the models.
const INPUT_LAYER: &str = "select(z, 0u, lay.one_input == 1u)";

/// Where a product finds an operand: its texture, the layer (a WGSL expression), and whether a
/// texel runs along the inner dimension (`along_k`) or along the output's rows or columns.
struct Operand<'a> {
    tex: &'a str,
    layer: &'a str,
    along_k: bool,
}

/// `out[r, c] = sum_k a(r, k) b(k, c)` over `steps` (an expression) texels of k, as the WGSL
/// function `name(row0, col0, z)`: `rows x cols` outputs per invocation in registers. `store`
/// gets a row, a column texel (expressions) and that texel's 4 sums.
struct Product<'a> {
    name: &'a str,
    steps: &'a str,
    a: Operand<'a>,
    b: Operand<'a>,
    store: &'a dyn Fn(&str, &str, &[String]) -> String,
}

impl Product<'_> {
    fn wgsl(&self, t: Tiling) -> String {
        let (rows, cols) = (t.rows, t.cols);
        let mut s = format!("fn {}(row0: u32, col0: u32, z: u32) {{\n", self.name);
        for i in 0..rows {
            for j in 0..cols {
                s += &format!("var s{i}_{j} = 0.0;\n");
            }
        }
        // Loop-invariant: read from the uniform once, not at every fetch.
        s += &format!(
            "let steps = {}; let la = {}; let lb = {};\nfor (var kk = 0u; kk < steps; kk++) {{\n",
            self.steps, self.a.layer, self.b.layer
        );
        let fetch = |op: &Operand, var: &str, n: usize, base: &str, s: &mut String| {
            let layer = format!("l{var}");
            if op.along_k {
                for i in 0..n {
                    *s += &format!(
                        "let {var}{i} = textureLoad({}, vec2u(kk, {base} + {i}u), {layer}, 0);\n",
                        op.tex
                    );
                }
            } else {
                for p in 0..n / 4 {
                    for d in 0..4 {
                        *s += &format!(
                            "let {var}{p}_{d} = textureLoad({}, vec2u({base} / 4u + {p}u, kk * 4u + {d}u), {layer}, 0);\n",
                            op.tex
                        );
                    }
                }
            }
        };
        fetch(&self.a, "a", rows, "row0", &mut s);
        fetch(&self.b, "b", cols, "col0", &mut s);
        // Entry (row or column `i`, inner step `d`) of an operand's fetched texels.
        let entry = |op: &Operand, var: &str, i: usize, d: usize| {
            if op.along_k {
                format!("{var}{i}.{}", XYZW[d])
            } else {
                format!("{var}{}_{d}.{}", i / 4, XYZW[i % 4])
            }
        };
        for d in 0..4 {
            for i in 0..rows {
                for j in 0..cols {
                    s += &format!(
                        "s{i}_{j} += {} * {};\n",
                        entry(&self.a, "a", i, d),
                        entry(&self.b, "b", j, d)
                    );
                }
            }
        }
        s += "}\n";
        for i in 0..rows {
            for q in 0..cols / 4 {
                let v: Vec<String> = (0..4).map(|e| format!("s{i}_{}", q * 4 + e)).collect();
                s += &(self.store)(
                    &format!("(row0 + {i}u)"),
                    &format!("(col0 / 4u + {q}u)"),
                    &v,
                );
            }
        }
        s + "}\n"
    }
}

/// The entry point: workgroups over output tiles, `w.z` the model.
fn entry(t: Tiling, body: &str) -> String {
    format!(
        "@compute @workgroup_size({}, {}, 1)\n\
         fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {{\n{body}}}\n",
        t.x, t.y
    )
}

/// The call of a product's function for tile `i` of `nx` column tiles (expressions).
fn call(t: Tiling, f: &str, nx: &str, i: &str) -> String {
    format!(
        "{f}((({i}) / {nx} * {}u + l.y) * {}u, (({i}) % {nx} * {}u + l.x) * {}u, w.z);\n",
        t.y, t.rows, t.x, t.cols
    )
}

/// The 4 components of texel `t` of a row: `value(j)` for columns `4t + j < n`, then `1.0` at
/// column `n` if `ones` (a layer input's bias column), then 0 (`t`, `n` expressions).
fn texel(t: &str, n: &str, ones: bool, value: &dyn Fn(usize) -> String) -> String {
    let comps: Vec<String> = (0..4)
        .map(|j| {
            let c = format!("{t} * 4u + {j}u");
            let past = if ones {
                format!("select(0.0, 1.0, {c} == {n})")
            } else {
                "0.0".into()
            };
            format!("select({past}, {}, {c} < {n})", value(j))
        })
        .collect();
    format!("vec4f({})", comps.join(", "))
}

/// Layer `l`'s forward pass: `z = [a, 1] @ [W; b]`, and, below the last layer, the next
/// layer's input `[act(z), 1]` (the last layer binds a texture it never writes).
pub(super) fn forward(s: &Shape, l: usize) -> Kernel {
    let b = s.batch;
    let t = s.tiling;
    let store = |r: &str, tx: &str, v: &[String]| {
        let mut st = format!("if ({r} < {b}u) {{\n");
        for (j, vj) in v.iter().enumerate() {
            st += &format!(
                "if ({tx} * 4u + {j}u < lay.dout) {{ zo[(z * {b}u + {r}) * lay.dout + {tx} * 4u + {j}u] = {vj}; }}\n"
            );
        }
        let value = |j: usize| format!("act(z, {})", v[j]);
        st += &format!(
            "if (lay.hidden == 1u && {tx} < lay.out_width) {{ textureStore(ao, vec2u({tx}, {r}), z, {}); }}\n",
            texel(tx, "lay.dout", true, &value)
        );
        st + "}\n"
    };
    let prod = Product {
        name: "tile",
        steps: "lay.fsteps",
        a: Operand {
            tex: "inp",
            layer: INPUT_LAYER,
            along_k: true,
        },
        b: Operand {
            tex: "wt",
            layer: "z",
            along_k: false,
        },
        store: &store,
    };
    let mut src = String::from(STEP_WGSL);
    src += &sampled(0, "inp");
    src += &sampled(1, "wt");
    src += &storage(2, "zo", "f32", true);
    src += &stored(3, "ao");
    src += &layer_wgsl(4);
    src += &activation::wgsl::stack(&s.activations);
    src += &prod.wgsl(t);
    src += &entry(t, &call(t, "tile", "lay.fx", "w.y * lay.fx + w.x"));
    let (tx, ty) = t.tiles(b, s.dims[l + 1]);
    Kernel {
        name: format!("forward{l}"),
        source: src,
        bindings: vec![
            Slot::Texture,
            Slot::Texture,
            Slot::Write,
            Slot::Store,
            Slot::Uniform,
        ],
        grid: (tx as u32, ty as u32, s.models as u32),
    }
}

/// Layer `l`'s backward pass, one dispatch: the parameter gradient `[x, 1]^T dz` into the
/// gradient buffer and, below the first layer, `dz_prev = (dz W^T) * act'(z_prev)` (the first
/// layer's grid stops before those workgroups; it binds what they would use all the same).
pub(super) fn backward(s: &Shape, l: usize) -> Kernel {
    let b = s.batch;
    let t = s.tiling;
    let w_store = |r: &str, tx: &str, v: &[String]| {
        let mut st = format!("if ({r} <= lay.din) {{\n");
        for (j, vj) in v.iter().enumerate() {
            st += &format!(
                "if ({tx} * 4u + {j}u < lay.dout) {{ g[lay.off + z * lay.block + {r} * lay.dout + {tx} * 4u + {j}u] = {vj}; }}\n"
            );
        }
        st + "}\n"
    };
    let steps = format!("{}u", s.padded_batch() / 4);
    let dw = Product {
        name: "tile_w",
        steps: &steps,
        a: Operand {
            tex: "inp",
            layer: INPUT_LAYER,
            along_k: false,
        },
        b: Operand {
            tex: "dz",
            layer: "z",
            along_k: false,
        },
        store: &w_store,
    };
    let a_store = |r: &str, tx: &str, v: &[String]| {
        let value = |j: usize| {
            format!(
                "{} * dact(z, zp[(z * {b}u + {r}) * lay.din + min({tx} * 4u + {j}u, lay.din - 1u)])",
                v[j]
            )
        };
        format!(
            "if ({r} < {b}u && {tx} < lay.dzp_width) {{ textureStore(dzp, vec2u({tx}, {r}), z, {}); }}\n",
            texel(tx, "lay.din", false, &value)
        )
    };
    let da = Product {
        name: "tile_a",
        steps: "lay.asteps",
        a: Operand {
            tex: "dz",
            layer: "z",
            along_k: true,
        },
        b: Operand {
            tex: "wt",
            layer: "z",
            along_k: true,
        },
        store: &a_store,
    };
    let mut src = String::from(STEP_WGSL);
    src += &sampled(0, "inp");
    src += &sampled(1, "dz");
    src += &storage(2, "g", "f32", true);
    src += &sampled(3, "wt");
    src += &stored(4, "dzp");
    src += &storage(5, "zp", "f32", false);
    src += &layer_wgsl(6);
    src += &activation::wgsl::stack(&s.activations);
    src += &dw.wgsl(t);
    src += &da.wgsl(t);
    let body = format!(
        "if (w.x < lay.nw) {{ {} }} else {{ {} }}\n",
        call(t, "tile_w", "lay.wx", "w.x"),
        call(t, "tile_a", "lay.ax", "w.x - lay.nw")
    );
    src += &entry(t, &body);
    let (din, dout) = (s.dims[l], s.dims[l + 1]);
    let (wx, wy) = t.tiles(din + 1, dout);
    let (ax, ay) = t.tiles(b, din);
    let workgroups = wx * wy + if l > 0 { ax * ay } else { 0 };
    Kernel {
        name: format!("backward{l}"),
        source: src,
        bindings: vec![
            Slot::Texture,
            Slot::Texture,
            Slot::Write,
            Slot::Texture,
            Slot::Store,
            Slot::Read,
            Slot::Uniform,
        ],
        grid: (workgroups as u32, 1, s.models as u32),
    }
}

/// Layer `l`'s kernel and bias, from the parameter buffer into its texture (rows past the bias
/// and columns past the last are 0): the first dispatches of every train step (after the
/// previous update) and of a submit's evaluation steps.
pub(super) fn sync(s: &Shape, l: usize) -> Kernel {
    let (width, height) = s.weight_texture(l);
    let value = |j: usize| {
        format!("p[lay.off + z * lay.block + r * lay.dout + min(x * 4u + {j}u, lay.dout - 1u)]")
    };
    let mut src = String::from(STEP_WGSL);
    src += &storage(0, "p", "f32", false);
    src += &stored(1, "wt");
    src += &layer_wgsl(2);
    src += &format!(
        "@compute @workgroup_size(64, 1, 1)\n\
         fn main(@builtin(global_invocation_id) g: vec3u) {{\n\
           let x = g.x; let r = g.y; let z = g.z;\n\
           if (x >= lay.wwidth) {{ return; }}\n\
           var v = vec4f();\n\
           if (r <= lay.din) {{ v = {}; }}\n\
           textureStore(wt, vec2u(x, r), z, v);\n\
         }}\n",
        texel("x", "lay.dout", false, &value)
    );
    Kernel {
        name: format!("sync{l}"),
        source: src,
        bindings: vec![Slot::Read, Slot::Store, Slot::Uniform],
        grid: (width.div_ceil(64) as u32, height as u32, s.models as u32),
    }
}

/// Batch assembly's store into `x0`: word `w` of row `b` is exactly texel `(w, b)`.
pub(super) fn gather_store(values: &[String]) -> String {
    format!(
        "textureStore(x0, vec2u(w, b), 0, vec4f({}));\n",
        values.join(", ")
    )
}

/// The loss kernel's store of row `b`'s gradient (`v` an expression in class `c`) into `dz`.
pub(super) fn loss_store(classes: usize, v: &str) -> String {
    format!(
        "for (var cx = 0u; cx < {}u; cx++) {{ var t = vec4f(); for (var j = 0u; j < 4u; j++) {{ let c = cx * 4u + j; if (c < {classes}u) {{ t[j] = {v}; }} }} textureStore(dz, vec2u(cx, b), z, t); }}\n",
        texels(classes)
    )
}
