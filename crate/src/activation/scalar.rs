//! The scalar evaluator: a graph at one `x`, in f64 (the reference: plots, checks, constant
//! folding) or f32 (what a float32 device computes from the lowered graph).

use super::expr::{Cmp, Fn1, Graph, Id, Node, Op2};

/// The arithmetic the evaluator needs, for f32 and f64. The special functions are libm's
/// (correctly rounded or nearly), the stable forms those of [`super::lower`].
pub trait Real: Copy + PartialOrd {
    fn of(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn exp(self) -> Self;
    fn expm1(self) -> Self;
    fn ln(self) -> Self;
    fn ln1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    fn erf(self) -> Self;
    fn min(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
}

macro_rules! real {
    ($t:ty, $erf:path) => {
        impl Real for $t {
            fn of(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn sub(self, o: Self) -> Self {
                self - o
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn div(self, o: Self) -> Self {
                self / o
            }
            fn neg(self) -> Self {
                -self
            }
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn expm1(self) -> Self {
                self.exp_m1()
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn ln1p(self) -> Self {
                self.ln_1p()
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            // NaN in, NaN out (JAX's minimum and maximum propagate NaN; Rust's would drop it).
            fn min(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else {
                    <$t>::min(self, o)
                }
            }
            fn max(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else {
                    <$t>::max(self, o)
                }
            }
        }
    };
}

real!(f32, libm::erff);
real!(f64, libm::erf);

/// `1 / (1 + exp(-v))` without overflow.
fn sigmoid<T: Real>(v: T) -> T {
    let one = T::of(1.0);
    let t = v.abs().neg().exp();
    if v >= T::of(0.0) {
        one.div(one.add(t))
    } else {
        t.div(one.add(t))
    }
}

/// `log(1 + exp(v))` without overflow.
fn softplus<T: Real>(v: T) -> T {
    v.max(T::of(0.0)).add(v.abs().neg().exp().ln1p())
}

pub fn fn1<T: Real>(f: Fn1, v: T) -> T {
    match f {
        Fn1::Neg => v.neg(),
        Fn1::Exp => v.exp(),
        Fn1::Expm1 => v.expm1(),
        Fn1::Log => v.ln(),
        Fn1::Log1p => v.ln1p(),
        Fn1::Sqrt => v.sqrt(),
        Fn1::Abs => v.abs(),
        Fn1::Sin => v.sin(),
        Fn1::Cos => v.cos(),
        Fn1::Tanh => v.tanh(),
        Fn1::Sigmoid => sigmoid(v),
        Fn1::Softplus => softplus(v),
        Fn1::Erf => v.erf(),
    }
}

pub fn op2<T: Real>(op: Op2, a: T, b: T) -> T {
    match op {
        Op2::Add => a.add(b),
        Op2::Sub => a.sub(b),
        Op2::Mul => a.mul(b),
        Op2::Div => a.div(b),
        Op2::Pow => a.pow(b),
        Op2::Min => a.min(b),
        Op2::Max => a.max(b),
    }
}

fn holds<T: Real>(c: Cmp, a: T, b: T) -> bool {
    match c {
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
    }
}

/// The values of `roots` at `x`, with `params` bound to the graph's parameters.
pub fn eval<T: Real>(g: &Graph, roots: &[Id], x: T, params: &[f64]) -> Vec<T> {
    let mut out = eval_many(g, roots, &[x], params);
    out.iter_mut().map(|v| v[0]).collect()
}

/// The values of `roots` (outer) at every `x` (inner).
pub fn eval_many<T: Real>(g: &Graph, roots: &[Id], xs: &[T], params: &[f64]) -> Vec<Vec<T>> {
    let need = g.reachable(roots);
    let mut out = vec![Vec::with_capacity(xs.len()); roots.len()];
    let mut v: Vec<T> = Vec::with_capacity(g.len());
    for &x in xs {
        v.clear();
        for (i, &n) in g.nodes().iter().enumerate() {
            let at = |id: Id| v[id as usize];
            let val = if !need[i] {
                T::of(0.0)
            } else {
                match n {
                    Node::Const(bits) => T::of(f64::from_bits(bits)),
                    Node::X => x,
                    Node::Param(p) => T::of(params.get(p as usize).copied().unwrap_or(f64::NAN)),
                    Node::Un(f, a) => fn1(f, at(a)),
                    Node::Bin(op, a, b) => op2(op, at(a), at(b)),
                    Node::Where(c, l, r, a, b) => {
                        if holds(c, at(l), at(r)) {
                            at(a)
                        } else {
                            at(b)
                        }
                    }
                }
            };
            v.push(val);
        }
        for (o, &r) in out.iter_mut().zip(roots) {
            o.push(v[r as usize]);
        }
    }
    out
}
