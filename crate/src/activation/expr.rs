//! The expression tree every activation is: a hash-consed DAG over `x`, parameters and
//! constants. Nodes are only ever appended and every node's operands come before it, so node
//! order is a topological order (every pass is a loop, never a recursion that a deep formula
//! could overflow), and building a node that exists returns the existing one (common
//! subexpressions are shared by construction). The constructors simplify as they build.

use std::collections::HashMap;

/// A node's index in its [`Graph`].
pub type Id = u32;

/// One-argument functions. `Neg` is unary minus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fn1 {
    Neg,
    Exp,
    Expm1,
    Log,
    Log1p,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Softplus,
    Erf,
}

/// Two-argument operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op2 {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
}

/// The comparisons `where` may test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A constant, as its f64 bits (so nodes hash; `-0.0` is stored as `0.0`).
    Const(u64),
    X,
    /// The `i`-th parameter of the activation (its value is bound when lowering).
    Param(u16),
    Un(Fn1, Id),
    Bin(Op2, Id, Id),
    /// `where(l cmp r, a, b)`.
    Where(Cmp, Id, Id, Id, Id),
}

/// A DAG of [`Node`]s (see the module's doc).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    index: HashMap<Node, Id>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: Id) -> Node {
        self.nodes[id as usize]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn intern(&mut self, n: Node) -> Id {
        if let Some(&id) = self.index.get(&n) {
            return id;
        }
        let id = self.nodes.len() as Id;
        self.nodes.push(n);
        self.index.insert(n, id);
        id
    }

    /// The constant's value, if `id` is one.
    pub fn value(&self, id: Id) -> Option<f64> {
        match self.node(id) {
            Node::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }

    pub fn constant(&mut self, v: f64) -> Id {
        let v = if v == 0.0 { 0.0 } else { v };
        self.intern(Node::Const(v.to_bits()))
    }

    pub fn x(&mut self) -> Id {
        self.intern(Node::X)
    }

    pub fn param(&mut self, i: u16) -> Id {
        self.intern(Node::Param(i))
    }

    /// Whether `id` depends on `x` (parameters and constants do not).
    pub fn depends_on_x(&self, id: Id) -> bool {
        self.reachable(&[id])
            .iter()
            .enumerate()
            .any(|(i, &r)| r && self.nodes[i] == Node::X)
    }

    /// Which nodes the `roots` need (indexed by id).
    pub fn reachable(&self, roots: &[Id]) -> Vec<bool> {
        let mut need = vec![false; self.nodes.len()];
        for &r in roots {
            need[r as usize] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if need[i] {
                for o in operands(self.nodes[i]) {
                    need[o as usize] = true;
                }
            }
        }
        need
    }

    pub fn un(&mut self, f: Fn1, a: Id) -> Id {
        if let Some(v) = self.value(a) {
            return self.constant(apply1(f, v));
        }
        match (f, self.node(a)) {
            (Fn1::Neg, Node::Un(Fn1::Neg, b)) => return b,
            (Fn1::Neg, Node::Bin(Op2::Sub, l, r)) => return self.sub(r, l),
            (Fn1::Neg, Node::Bin(Op2::Mul, l, r)) if self.value(l).is_some() => {
                let c = self.neg(l);
                return self.mul(c, r);
            }
            (Fn1::Abs, Node::Un(Fn1::Abs | Fn1::Neg, b)) => return self.un(Fn1::Abs, b),
            _ => {}
        }
        self.intern(Node::Un(f, a))
    }

    pub fn neg(&mut self, a: Id) -> Id {
        self.un(Fn1::Neg, a)
    }

    pub fn bin(&mut self, op: Op2, a: Id, b: Id) -> Id {
        if let (Some(x), Some(y)) = (self.value(a), self.value(b)) {
            return self.constant(apply2(op, x, y));
        }
        // Commutative operations (exactly so in IEEE arithmetic) get one operand order, a
        // constant first, so `x * y` and `y * x` are one node.
        let commutes = matches!(op, Op2::Add | Op2::Mul | Op2::Min | Op2::Max);
        let (a, b) = match (self.value(a).is_some(), self.value(b).is_some()) {
            (false, true) if commutes => (b, a),
            (false, false) if commutes && a > b => (b, a),
            _ => (a, b),
        };
        let (ca, cb) = (self.value(a), self.value(b));
        match op {
            Op2::Add => {
                if ca == Some(0.0) {
                    return b;
                }
                if let Node::Un(Fn1::Neg, nb) = self.node(b) {
                    return self.sub(a, nb);
                }
                if let Node::Un(Fn1::Neg, na) = self.node(a) {
                    return self.sub(b, na);
                }
            }
            Op2::Sub => {
                if cb == Some(0.0) {
                    return a;
                }
                if ca == Some(0.0) {
                    return self.neg(b);
                }
                if a == b {
                    return self.constant(0.0);
                }
                if let Node::Un(Fn1::Neg, nb) = self.node(b) {
                    return self.add(a, nb);
                }
            }
            Op2::Mul => {
                if let Some(c) = ca {
                    if c == 0.0 {
                        return self.constant(0.0);
                    }
                    if c == 1.0 {
                        return b;
                    }
                    if c == -1.0 {
                        return self.neg(b);
                    }
                    match self.node(b) {
                        Node::Bin(Op2::Mul, l, r) if self.value(l).is_some() => {
                            let k = self.constant(c * self.value(l).unwrap_or(1.0));
                            return self.mul(k, r);
                        }
                        Node::Un(Fn1::Neg, nb) => {
                            let k = self.constant(-c);
                            return self.mul(k, nb);
                        }
                        _ => {}
                    }
                }
                if let (Node::Un(Fn1::Neg, na), Node::Un(Fn1::Neg, nb)) =
                    (self.node(a), self.node(b))
                {
                    return self.mul(na, nb);
                }
            }
            Op2::Div => {
                if cb == Some(1.0) {
                    return a;
                }
                if ca == Some(0.0) {
                    return self.constant(0.0);
                }
                if a == b {
                    return self.constant(1.0);
                }
            }
            Op2::Pow => {
                if cb == Some(1.0) {
                    return a;
                }
                if cb == Some(0.0) {
                    return self.constant(1.0);
                }
            }
            Op2::Min | Op2::Max => {
                if a == b {
                    return a;
                }
            }
        }
        self.intern(Node::Bin(op, a, b))
    }

    pub fn add(&mut self, a: Id, b: Id) -> Id {
        self.bin(Op2::Add, a, b)
    }
    pub fn sub(&mut self, a: Id, b: Id) -> Id {
        self.bin(Op2::Sub, a, b)
    }
    pub fn mul(&mut self, a: Id, b: Id) -> Id {
        self.bin(Op2::Mul, a, b)
    }
    pub fn div(&mut self, a: Id, b: Id) -> Id {
        self.bin(Op2::Div, a, b)
    }

    pub fn select(&mut self, c: Cmp, l: Id, r: Id, a: Id, b: Id) -> Id {
        if a == b {
            return a;
        }
        if let (Some(x), Some(y)) = (self.value(l), self.value(r)) {
            return if c.holds(x, y) { a } else { b };
        }
        self.intern(Node::Where(c, l, r, a, b))
    }
}

/// The operands of a node.
pub fn operands(n: Node) -> Vec<Id> {
    match n {
        Node::Const(_) | Node::X | Node::Param(_) => vec![],
        Node::Un(_, a) => vec![a],
        Node::Bin(_, a, b) => vec![a, b],
        Node::Where(_, l, r, a, b) => vec![l, r, a, b],
    }
}

/// `x` as an integer if it is one of a modest size (integer powers become products).
pub fn small_integer(x: f64) -> Option<i32> {
    (x.fract() == 0.0 && x.abs() <= 64.0).then_some(x as i32)
}

/// A one-argument function in f64 (constant folding; the scalar evaluator's reference).
pub fn apply1(f: Fn1, v: f64) -> f64 {
    super::scalar::fn1(f, v)
}

pub fn apply2(op: Op2, a: f64, b: f64) -> f64 {
    super::scalar::op2(op, a, b)
}
