//! The matrix products' code: how a block of outputs is laid out over invocations (`Tiling`),
//! and the WGSL of one register-tiled product with its loads, inner loop and epilogue.

/// How the matrix products are laid out: invocations per workgroup `(x, y)`, and how many steps
/// of the inner loop load their operands before any is multiplied (`unroll`), so that many
/// loads are in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub x: usize,
    pub y: usize,
    pub unroll: usize,
    /// Invocations that share one block of outputs, each summing a slice of the inner loop
    /// (added up through workgroup memory): more parallel work when a layer has few outputs.
    pub split: usize,
    /// An invocation's columns one workgroup width apart instead of adjacent.
    pub spread: bool,
    /// Outputs per invocation along rows and columns, kept in registers: each inner step loads
    /// `rows + cols` operands for `rows * cols` multiply-adds.
    pub rows: usize,
    pub cols: usize,
    /// Read the products' operands from textures of 4-float texels (`textured.rs`) instead of
    /// storage buffers: SwiftShader turns each buffer load whose index is not a compile-time
    /// constant into a gather of scalar loads behind per-lane branches, and a texel fetch
    /// into plain vector loads (docs/benchmark.md). `rows` and `cols` are then multiples of 4.
    pub textures: bool,
}

impl Tiling {
    /// Software adapters (SwiftShader, lavapipe) run a workgroup's invocations as SIMD lanes of
    /// one CPU thread: 16 wide was fastest there; operands from textures, 8x8 outputs per
    /// invocation (SwiftShader's product 2.6x faster than the best buffer tiling;
    /// docs/benchmark.md).
    pub const SOFTWARE: Tiling = Tiling {
        x: 16,
        y: 1,
        unroll: 1,
        split: 1,
        spread: false,
        rows: 8,
        cols: 8,
        textures: true,
    };
    /// Software adapters whose limits cannot hold the textures: the same products on storage
    /// buffers, 4 inner steps' loads at once (8 or 16 spill).
    pub const SOFTWARE_BUFFERS: Tiling = Tiling {
        x: 16,
        y: 1,
        unroll: 4,
        split: 1,
        spread: false,
        rows: 4,
        cols: 4,
        textures: false,
    };
    /// GPUs: 16x4 invocations, each of 4 slices of the inner loop, 4 inner steps' loads issued
    /// together. On an H200 the plain products were bound by one memory latency per inner step
    /// (a layer's time grew with its inner size, not its work: a stack of six cost what one
    /// model did); unrolling and splitting the loop attack exactly that (docs/benchmark.md).
    pub const GPU: Tiling = Tiling {
        x: 16,
        y: 4,
        unroll: 4,
        split: 4,
        spread: false,
        rows: 4,
        cols: 4,
        textures: false,
    };

    /// The first column of an invocation in column tile `tile` (a WGSL expression).
    pub(super) fn col0(&self, tile: &str) -> String {
        if self.spread {
            format!("{tile} * {}u + l.x", self.x * self.cols)
        } else {
            format!("({tile} * {}u + l.x) * {}u", self.x, self.cols)
        }
    }

    pub(super) fn tiles(&self, m: usize, n: usize) -> (usize, usize) {
        (
            n.div_ceil(self.cols * self.x),
            m.div_ceil(self.rows * self.y),
        )
    }
}

/// One register-tiled product `out[m, n] = sum_k lhs(r, k) * rhs(k, c)` for model `z`, as a
/// WGSL function `name(row0, col0, z)`. `lhs`, `rhs` and `store` build expressions from the
/// names of the (clamped) row, inner index, column and value.
pub(super) struct Product<'a> {
    pub(super) name: &'a str,
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) k: usize,
    pub(super) lhs: &'a dyn Fn(&str, &str) -> String,
    pub(super) rhs: &'a dyn Fn(&str, &str) -> String,
    pub(super) store: &'a dyn Fn(&str, &str, &str) -> String,
}

impl Product<'_> {
    /// The function `name(row0, col0, z, part, cell)`: `part` (the invocation's `z` in its
    /// workgroup) picks a slice of the inner loop when the tiling splits it, `cell` is the
    /// invocation's index within its slice group.
    pub(super) fn wgsl(&self, t: Tiling) -> String {
        let (m, n, k) = (self.m, self.n, self.k);
        let (rows, cols) = (t.rows, t.cols);
        let mut s = format!(
            "fn {}(row0: u32, col0: u32, z: u32, part: u32, cell: u32) {{\n",
            self.name
        );
        for i in 0..rows {
            s += &format!("let r{i} = min(row0 + {i}u, {}u);\n", m - 1);
        }
        // An invocation's columns: adjacent, or (spread) one workgroup width apart, so that
        // neighbouring invocations read neighbouring addresses.
        let cs = if t.spread { t.x } else { 1 };
        for j in 0..cols {
            s += &format!("let c{j} = min(col0 + {}u, {}u);\n", j * cs, n - 1);
        }
        for i in 0..rows {
            for j in 0..cols {
                s += &format!("var s{i}_{j} = 0.0;\n");
            }
        }
        let u = t.unroll.max(1);
        let step = |s: &mut String, base: &str, u: usize| {
            for d in 0..u {
                let kk = format!("({base} + {d}u)");
                for i in 0..rows {
                    *s += &format!("let a{i}_{d} = {};\n", (self.lhs)(&format!("r{i}"), &kk));
                }
                for j in 0..cols {
                    *s += &format!("let b{j}_{d} = {};\n", (self.rhs)(&kk, &format!("c{j}")));
                }
            }
            for d in 0..u {
                for i in 0..rows {
                    for j in 0..cols {
                        *s += &format!("s{i}_{j} += a{i}_{d} * b{j}_{d};\n");
                    }
                }
            }
        };
        // The slice of k this invocation sums, a whole number of unrolled steps but the last.
        let split = t.split.max(1);
        let per = k.div_ceil(split * u) * u;
        s += &format!(
            "let kb = min(part * {per}u, {k}u); let ke = min(kb + {per}u, {k}u);\n\
             var k = kb;\n"
        );
        if u > 1 {
            s += &format!("for (; k + {u}u <= ke; k += {u}u) {{\n");
            step(&mut s, "k", u);
            s += "}\n";
        }
        // Every slice is a whole number of unrolled steps unless k is not: only then is there a
        // remainder to loop over (less code for the browser to compile).
        if u == 1 || k % u != 0 {
            s += "for (; k < ke; k++) {\n";
            step(&mut s, "k", 1);
            s += "}\n";
        }
        if split > 1 {
            // Partial sums through workgroup memory; slice 0 adds them up in order and stores.
            let cells = t.x * t.y;
            for e in 0..rows * cols {
                s += &format!(
                    "red[(part * {cells}u + cell) * {}u + {e}u] = s{}_{};\n",
                    rows * cols,
                    e / cols,
                    e % cols
                );
            }
            s += "workgroupBarrier();\nif (part != 0u) { return; }\n";
            for e in 0..rows * cols {
                let sum: Vec<String> = (0..split)
                    .map(|p| format!("red[({p}u * {cells}u + cell) * {}u + {e}u]", rows * cols))
                    .collect();
                s += &format!("s{}_{} = {};\n", e / cols, e % cols, sum.join(" + "));
            }
        }
        for i in 0..rows {
            for j in 0..cols {
                s += &format!(
                    "if (row0 + {i}u < {m}u && col0 + {}u < {n}u) {{ {} }}\n",
                    j * cs,
                    (self.store)(
                        &format!("(row0 + {i}u)"),
                        &format!("(col0 + {}u)", j * cs),
                        &format!("s{i}_{j}")
                    )
                );
            }
        }
        s + "}\n"
    }
}

/// The entry point of a product kernel; `body` calls the tile functions.
pub(super) fn entry(t: Tiling, body: &str) -> String {
    let split = t.split.max(1);
    let red = if split > 1 {
        format!(
            "var<workgroup> red: array<f32, {}>;\n",
            t.x * t.y * split * t.rows * t.cols
        )
    } else {
        String::new()
    };
    format!(
        "{red}@compute @workgroup_size({}, {}, {split})\n\
         fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) w: vec3u) {{\n\
         let cell = l.y * {}u + l.x;\n{body}}}\n",
        t.x, t.y, t.x
    )
}
