//! Symbolic differentiation with respect to `x`, in the same graph (so the derivative shares
//! the function's nodes: `tanh'` reuses `tanh(u)`), following JAX's autodiff conventions:
//! `where` differentiates the branch it selects, `abs'` is `sign`, `min`/`max` split a tie
//! evenly, and parameters are constants.

use super::expr::{Cmp, Fn1, Graph, Id, Node, Op2, small_integer};

/// `d root / dx`, built into `g`.
pub fn derivative(g: &mut Graph, root: Id) -> Id {
    let need = g.reachable(&[root]);
    let n = g.len();
    let zero = g.constant(0.0);
    let mut d: Vec<Id> = vec![zero; n];
    for i in 0..n {
        if !need[i] {
            continue;
        }
        let id = i as Id;
        d[i] = match g.node(id) {
            Node::Const(_) | Node::Param(_) => zero,
            Node::X => g.constant(1.0),
            Node::Un(f, a) => {
                let da = d[a as usize];
                if da == zero {
                    zero
                } else {
                    let inner = un_derivative(g, f, a, id);
                    g.mul(inner, da)
                }
            }
            Node::Bin(op, a, b) => {
                let (da, db) = (d[a as usize], d[b as usize]);
                bin_derivative(g, op, a, b, id, da, db)
            }
            Node::Where(c, l, r, a, b) => {
                let (da, db) = (d[a as usize], d[b as usize]);
                g.select(c, l, r, da, db)
            }
        };
    }
    d[root as usize]
}

/// `f'(a)` for the node `n = f(a)`.
fn un_derivative(g: &mut Graph, f: Fn1, a: Id, n: Id) -> Id {
    let one = g.constant(1.0);
    match f {
        Fn1::Neg => g.constant(-1.0),
        Fn1::Exp => n,
        Fn1::Expm1 => g.un(Fn1::Exp, a),
        Fn1::Log => g.div(one, a),
        Fn1::Log1p => {
            let s = g.add(one, a);
            g.div(one, s)
        }
        Fn1::Sqrt => {
            let half = g.constant(0.5);
            g.div(half, n)
        }
        Fn1::Abs => sign(g, a),
        Fn1::Sin => g.un(Fn1::Cos, a),
        Fn1::Cos => {
            let s = g.un(Fn1::Sin, a);
            g.neg(s)
        }
        Fn1::Tanh => {
            let sq = g.mul(n, n);
            g.sub(one, sq)
        }
        Fn1::Sigmoid => {
            let c = g.sub(one, n);
            g.mul(n, c)
        }
        Fn1::Softplus => g.un(Fn1::Sigmoid, a),
        Fn1::Erf => {
            let k = g.constant(std::f64::consts::FRAC_2_SQRT_PI);
            let sq = g.mul(a, a);
            let m = g.neg(sq);
            let e = g.un(Fn1::Exp, m);
            g.mul(k, e)
        }
    }
}

/// `sign(a)`, JAX's derivative of `abs` (0 at 0).
fn sign(g: &mut Graph, a: Id) -> Id {
    let (zero, one, minus) = (g.constant(0.0), g.constant(1.0), g.constant(-1.0));
    let neg = g.select(Cmp::Lt, a, zero, minus, zero);
    g.select(Cmp::Gt, a, zero, one, neg)
}

fn bin_derivative(g: &mut Graph, op: Op2, a: Id, b: Id, n: Id, da: Id, db: Id) -> Id {
    match op {
        Op2::Add => g.add(da, db),
        Op2::Sub => g.sub(da, db),
        Op2::Mul => {
            let l = g.mul(da, b);
            let r = g.mul(a, db);
            g.add(l, r)
        }
        Op2::Div => {
            // (a' - (a/b) b') / b, sharing a/b with the function.
            let t = g.mul(n, db);
            let num = g.sub(da, t);
            g.div(num, b)
        }
        Op2::Pow => {
            let zero = g.constant(0.0);
            if db == zero {
                // b a^(b-1) a'; an integer exponent stays one (its power becomes products).
                let one = g.constant(1.0);
                let e = g.sub(b, one);
                let p = match g.value(b).and_then(small_integer) {
                    Some(1) => one,
                    _ => g.bin(Op2::Pow, a, e),
                };
                let k = g.mul(b, p);
                g.mul(k, da)
            } else {
                // a^b (b' log a + b a' / a)
                let la = g.un(Fn1::Log, a);
                let l = g.mul(db, la);
                let q = g.div(da, a);
                let r = g.mul(b, q);
                let s = g.add(l, r);
                g.mul(n, s)
            }
        }
        Op2::Min | Op2::Max => {
            let (first, second) = if op == Op2::Min {
                (Cmp::Lt, Cmp::Gt)
            } else {
                (Cmp::Gt, Cmp::Lt)
            };
            let half = g.constant(0.5);
            let s = g.add(da, db);
            let tie = g.mul(half, s);
            let other = g.select(second, a, b, db, tie);
            g.select(first, a, b, da, other)
        }
    }
}
