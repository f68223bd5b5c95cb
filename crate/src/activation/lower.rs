//! Lowering to primitives: the graph with its parameters bound to their values and every
//! function that a float32 device would compute badly, or that WGSL lacks, rewritten into
//! numerically stable forms of a few primitives (`+ - * /`, `exp log sqrt abs sin cos`, `min
//! max`, `where`, and `pow` only for exponents that are not small integers). Every target
//! (WGSL, Burn, the f32 evaluator) lowers this graph, so all compute the same arithmetic:
//! - `sigmoid(u)` is `1 / (1 + t)` or `t / (1 + t)` with `t = exp(-|u|)`, which never overflows;
//! - `tanh(u)` is `±m / (2 + m)` with `m = expm1(-2|u|)`; `softplus(u)` is
//!   `max(u, 0) + log1p(exp(-|u|))`: both exact at |u| = 100 where the naive forms overflow;
//! - `expm1` and `log1p` switch to a series near 0, where `exp(u) - 1` and `log(1 + u)` cancel;
//! - `erf` is the rational approximation Eigen and XLA use for float32 (clamped to ±4);
//! - integer powers become products (WGSL's `pow` is undefined for a negative base).

use super::expr::{Cmp, Fn1, Graph, Id, Node, Op2, small_integer};

/// What a lowering is for: the primitives every target has (WGSL, the f32 evaluator), or
/// Burn, whose own `sigmoid`, `log1p` and `erf` are stable on every backend (the spec's ±100
/// grid holds them to JAX, natively and in Chromium) and one tensor op each instead of the
/// dozens of their stable forms. Its `tanh` is not (NaN at |x| = 100 on Chromium's WebGPU):
/// there `tanh(u)` is `2 sigmoid(2u) - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Primitives,
    Burn,
}

/// `g` with `params` bound and only primitives left; returns the new graph and `roots` in it.
pub fn lower(g: &Graph, roots: &[Id], params: &[f64]) -> (Graph, Vec<Id>) {
    lower_for(g, roots, params, Target::Primitives)
}

/// [`lower`] for `target`.
pub fn lower_for(g: &Graph, roots: &[Id], params: &[f64], target: Target) -> (Graph, Vec<Id>) {
    let need = g.reachable(roots);
    let mut out = Graph::new();
    let mut map: Vec<Id> = vec![0; g.len()];
    for (i, &n) in g.nodes().iter().enumerate() {
        if !need[i] {
            continue;
        }
        let m = |id: Id| map[id as usize];
        map[i] = match n {
            Node::Const(bits) => out.constant(f64::from_bits(bits)),
            Node::X => out.x(),
            Node::Param(p) => out.constant(params.get(p as usize).copied().unwrap_or(f64::NAN)),
            Node::Un(f, a)
                if target == Target::Burn && matches!(f, Fn1::Sigmoid | Fn1::Log1p | Fn1::Erf) =>
            {
                out.un(f, m(a))
            }
            Node::Un(Fn1::Tanh, a) if target == Target::Burn => {
                let two = c(&mut out, 2.0);
                let u2 = out.mul(two, m(a));
                let s = out.un(Fn1::Sigmoid, u2);
                let s2 = out.mul(two, s);
                let one = c(&mut out, 1.0);
                out.sub(s2, one)
            }
            Node::Un(f, a) => un(&mut out, f, m(a)),
            Node::Bin(Op2::Pow, a, b) => pow(&mut out, m(a), m(b)),
            Node::Bin(op, a, b) => out.bin(op, m(a), m(b)),
            // The derivative is taken already, so a `where` that is a max or a min may become
            // one (where(x > 0, x, 0) is max(x, 0): one op, not three).
            Node::Where(c, l, r, a, b) if m(l) == m(a) && m(r) == m(b) => match c {
                Cmp::Gt | Cmp::Ge => out.bin(Op2::Max, m(l), m(r)),
                Cmp::Lt | Cmp::Le => out.bin(Op2::Min, m(l), m(r)),
            },
            Node::Where(c, l, r, a, b) => out.select(c, m(l), m(r), m(a), m(b)),
        };
    }
    let roots = roots.iter().map(|&r| map[r as usize]).collect();
    (out, roots)
}

/// Whether a node is a primitive (what every backend must implement).
pub fn is_primitive(n: Node) -> bool {
    match n {
        Node::Param(_) => false,
        Node::Un(f, _) => matches!(
            f,
            Fn1::Neg | Fn1::Exp | Fn1::Log | Fn1::Sqrt | Fn1::Abs | Fn1::Sin | Fn1::Cos
        ),
        _ => true,
    }
}

fn c(g: &mut Graph, v: f64) -> Id {
    g.constant(v)
}

/// Horner's rule: `coeffs[0] + u (coeffs[1] + u (...))`.
fn poly(g: &mut Graph, u: Id, coeffs: &[f64]) -> Id {
    let mut acc = c(g, coeffs[coeffs.len() - 1]);
    for &k in coeffs[..coeffs.len() - 1].iter().rev() {
        let t = g.mul(acc, u);
        let kk = c(g, k);
        acc = g.add(kk, t);
    }
    acc
}

/// `exp(u) - 1`; within |u| < 0.1 its series to u^7 (relative error below 1e-12 there).
pub(super) fn expm1(g: &mut Graph, u: Id) -> Id {
    let e = g.un(Fn1::Exp, u);
    let one = c(g, 1.0);
    let direct = g.sub(e, one);
    let coeffs = [
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let p = poly(g, u, &coeffs);
    let series = g.mul(u, p);
    let au = g.un(Fn1::Abs, u);
    let lim = c(g, 0.1);
    g.select(Cmp::Lt, au, lim, series, direct)
}

/// `log(1 + u)`; within |u| < 0.1 as `2 atanh(s)`, `s = u / (2 + u)`, by its series.
fn log1p(g: &mut Graph, u: Id) -> Id {
    let one = c(g, 1.0);
    let w = g.add(one, u);
    let direct = g.un(Fn1::Log, w);
    let two = c(g, 2.0);
    let den = g.add(two, u);
    let s = g.div(u, den);
    let s2 = g.mul(s, s);
    let p = poly(g, s2, &[2.0, 2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0]);
    let series = g.mul(s, p);
    let au = g.un(Fn1::Abs, u);
    let lim = c(g, 0.1);
    g.select(Cmp::Lt, au, lim, series, direct)
}

fn sigmoid(g: &mut Graph, u: Id) -> Id {
    let au = g.un(Fn1::Abs, u);
    let nau = g.neg(au);
    let t = g.un(Fn1::Exp, nau);
    let one = c(g, 1.0);
    let den = g.add(one, t);
    let pos = g.div(one, den);
    let neg = g.div(t, den);
    let zero = c(g, 0.0);
    g.select(Cmp::Ge, u, zero, pos, neg)
}

fn tanh(g: &mut Graph, u: Id) -> Id {
    let au = g.un(Fn1::Abs, u);
    let k = c(g, -2.0);
    let m2 = g.mul(k, au);
    let m = expm1(g, m2);
    let two = c(g, 2.0);
    let den = g.add(two, m);
    let neg = g.div(m, den); // tanh(u) for u < 0
    let pos = g.neg(neg);
    let zero = c(g, 0.0);
    g.select(Cmp::Lt, u, zero, neg, pos)
}

fn softplus(g: &mut Graph, u: Id) -> Id {
    let zero = c(g, 0.0);
    let mx = g.bin(Op2::Max, u, zero);
    let au = g.un(Fn1::Abs, u);
    let nau = g.neg(au);
    let t = g.un(Fn1::Exp, nau);
    let l = log1p(g, t);
    g.add(mx, l)
}

/// Eigen's `generic_fast_erf_float` (XLA's float32 erf): `x p(x^2) / q(x^2)` on `[-4, 4]`.
fn erf(g: &mut Graph, u: Id) -> Id {
    let lo = c(g, -4.0);
    let hi = c(g, 4.0);
    let clamped = g.bin(Op2::Max, u, lo);
    let x = g.bin(Op2::Min, clamped, hi);
    let x2 = g.mul(x, x);
    let alpha = [
        -1.609_603_332_624_15e-2,
        -2.954_599_808_540_25e-3,
        -7.349_906_303_268_55e-4,
        -5.692_506_394_623_46e-5,
        -2.101_024_020_825_08e-6,
        2.770_681_424_959_02e-8,
        -2.726_142_258_013_06e-10,
    ];
    let beta = [
        -1.426_473_905_141_89e-2,
        -7.373_329_167_204_68e-3,
        -1.682_826_974_382_03e-3,
        -2.133_740_552_789_05e-4,
        -1.456_607_184_649_96e-5,
    ];
    let p = poly(g, x2, &alpha);
    let num = g.mul(x, p);
    let q = poly(g, x2, &beta);
    g.div(num, q)
}

/// `a^n` for a small integer `n`, by squaring; `1 / a^-n` for a negative one.
fn integer_power(g: &mut Graph, a: Id, n: i32) -> Id {
    let mut result = c(g, 1.0);
    let mut base = a;
    let mut e = n.unsigned_abs();
    while e > 0 {
        if e & 1 == 1 {
            result = g.mul(result, base);
        }
        e >>= 1;
        if e > 0 {
            base = g.mul(base, base);
        }
    }
    if n < 0 {
        let one = c(g, 1.0);
        g.div(one, result)
    } else {
        result
    }
}

fn pow(g: &mut Graph, a: Id, b: Id) -> Id {
    match g.value(b).and_then(small_integer) {
        Some(n) => integer_power(g, a, n),
        None => g.bin(Op2::Pow, a, b),
    }
}

fn un(g: &mut Graph, f: Fn1, a: Id) -> Id {
    match f {
        Fn1::Neg | Fn1::Exp | Fn1::Log | Fn1::Sqrt | Fn1::Abs | Fn1::Sin | Fn1::Cos => g.un(f, a),
        Fn1::Expm1 => expm1(g, a),
        Fn1::Log1p => log1p(g, a),
        Fn1::Tanh => tanh(g, a),
        Fn1::Sigmoid => sigmoid(g, a),
        Fn1::Softplus => softplus(g, a),
        Fn1::Erf => erf(g, a),
    }
}
