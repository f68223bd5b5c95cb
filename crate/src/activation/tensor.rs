//! Lowering to Burn tensor ops (the Burn path, on wgpu and on Flex): the lowered graph
//! evaluated elementwise over a tensor, each value dropped after its last use.

use burn::tensor::{Bool, Tensor};

use super::expr::{Cmp, Fn1, Graph, Id, Node, Op2};

// Values live a node or two; boxing the tensor would only add an allocation per node.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum V<const D: usize> {
    C(f64),
    T(Tensor<D>),
}

/// The values of `roots` of the lowered graph `g` at every element of `x`.
pub fn eval<const D: usize>(g: &Graph, roots: &[Id], x: &Tensor<D>) -> Vec<Tensor<D>> {
    let need = g.reachable(roots);
    // The last node that reads each value (roots are read at the end).
    let mut last = vec![0usize; g.len()];
    for (i, &n) in g.nodes().iter().enumerate() {
        if need[i] {
            for o in super::expr::operands(n) {
                last[o as usize] = i;
            }
        }
    }
    for &r in roots {
        last[r as usize] = usize::MAX;
    }
    let mut vals: Vec<Option<V<D>>> = vec![None; g.len()];
    for (i, &n) in g.nodes().iter().enumerate() {
        if !need[i] {
            continue;
        }
        let get = |vals: &[Option<V<D>>], id: Id| {
            vals[id as usize]
                .clone()
                .unwrap_or_else(|| V::T(x.zeros_like()))
        };
        let v = match n {
            Node::Const(bits) => V::C(f64::from_bits(bits)),
            Node::X => V::T(x.clone()),
            Node::Param(_) => V::C(f64::NAN),
            Node::Un(f, a) => un(f, get(&vals, a)),
            Node::Bin(op, a, b) => bin(op, get(&vals, a), get(&vals, b), x),
            Node::Where(c, l, r, a, b) => {
                let mask = compare(c, get(&vals, l), get(&vals, r), x);
                select(mask, get(&vals, a), get(&vals, b), x)
            }
        };
        vals[i] = Some(v);
        for o in super::expr::operands(n) {
            if last[o as usize] == i {
                vals[o as usize] = None;
            }
        }
    }
    roots
        .iter()
        .map(|&r| match vals[r as usize].clone() {
            Some(V::T(t)) => t,
            Some(V::C(c)) => x.full_like(c),
            None => x.zeros_like(),
        })
        .collect()
}

fn tensor<const D: usize>(v: V<D>, like: &Tensor<D>) -> Tensor<D> {
    match v {
        V::T(t) => t,
        V::C(c) => like.full_like(c),
    }
}

fn un<const D: usize>(f: Fn1, a: V<D>) -> V<D> {
    let t = match a {
        V::C(c) => return V::C(super::expr::apply1(f, c)),
        V::T(t) => t,
    };
    V::T(match f {
        Fn1::Neg => t.neg(),
        Fn1::Exp => t.exp(),
        Fn1::Log => t.log(),
        Fn1::Sqrt => t.sqrt(),
        Fn1::Abs => t.abs(),
        Fn1::Sin => t.sin(),
        Fn1::Cos => t.cos(),
        // Burn's own, which `lower::Target::Burn` keeps.
        Fn1::Log1p => t.log1p(),
        Fn1::Tanh => t.tanh(),
        Fn1::Sigmoid => burn::tensor::activation::sigmoid(t),
        Fn1::Erf => t.erf(),
        // Rewritten by every lowering; the naive forms, should one be asked for.
        Fn1::Expm1 => t.exp().sub_scalar(1.0),
        Fn1::Softplus => burn::tensor::activation::softplus(t, 1.0),
    })
}

fn bin<const D: usize>(op: Op2, a: V<D>, b: V<D>, like: &Tensor<D>) -> V<D> {
    V::T(match (a, b) {
        (V::C(x), V::C(y)) => return V::C(super::expr::apply2(op, x, y)),
        (V::T(a), V::C(c)) => match op {
            Op2::Add => a.add_scalar(c),
            Op2::Sub => a.sub_scalar(c),
            Op2::Mul => a.mul_scalar(c),
            Op2::Div => a.div_scalar(c),
            Op2::Pow => a.powf_scalar(c),
            Op2::Min => a.clamp_max(c),
            Op2::Max => a.clamp_min(c),
        },
        (V::C(c), V::T(b)) => match op {
            Op2::Add => b.add_scalar(c),
            Op2::Sub => b.neg().add_scalar(c),
            Op2::Mul => b.mul_scalar(c),
            Op2::Div => b.recip().mul_scalar(c),
            Op2::Pow => like.full_like(c).powf(b),
            Op2::Min => b.clamp_max(c),
            Op2::Max => b.clamp_min(c),
        },
        (V::T(a), V::T(b)) => match op {
            Op2::Add => a + b,
            Op2::Sub => a - b,
            Op2::Mul => a * b,
            Op2::Div => a / b,
            Op2::Pow => a.powf(b),
            Op2::Min => a.min_pair(b),
            Op2::Max => a.max_pair(b),
        },
    })
}

fn compare<const D: usize>(c: Cmp, l: V<D>, r: V<D>, like: &Tensor<D>) -> Tensor<D, Bool> {
    let flip = |c: Cmp| match c {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
    };
    match (l, r) {
        (V::T(l), V::C(v)) => cmp_elem(c, l, v),
        (V::C(v), V::T(r)) => cmp_elem(flip(c), r, v),
        (l, r) => {
            let (l, r) = (tensor(l, like), tensor(r, like));
            match c {
                Cmp::Lt => l.lower(r),
                Cmp::Le => l.lower_equal(r),
                Cmp::Gt => l.greater(r),
                Cmp::Ge => l.greater_equal(r),
            }
        }
    }
}

fn cmp_elem<const D: usize>(c: Cmp, l: Tensor<D>, v: f64) -> Tensor<D, Bool> {
    match c {
        Cmp::Lt => l.lower_elem(v),
        Cmp::Le => l.lower_equal_elem(v),
        Cmp::Gt => l.greater_elem(v),
        Cmp::Ge => l.greater_equal_elem(v),
    }
}

/// `where(mask, a, b)`.
fn select<const D: usize>(mask: Tensor<D, Bool>, a: V<D>, b: V<D>, like: &Tensor<D>) -> V<D> {
    V::T(match (a, b) {
        (V::C(x), V::C(y)) if x == 1.0 && y == 0.0 => mask.float(),
        (V::C(x), V::C(y)) => like.full_like(y).mask_fill(mask, x),
        (V::C(x), V::T(b)) => b.mask_fill(mask, x),
        (V::T(a), V::C(y)) => a.mask_fill(mask.bool_not(), y),
        (V::T(a), V::T(b)) => b.mask_where(mask, a),
    })
}
