//! A graph back to text: in the formula language (the derivative the page shows; parsing it
//! gives the same graph) or as JAX code (the Python script an export writes).

use super::expr::{Fn1, Graph, Id, Node, Op2};
use super::grammar::FUNCTIONS;

/// Which language to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// ActLab's formula language.
    Formula,
    /// Python with `jax`, `jax.numpy as jnp` and `jax.scipy.special.erf` in scope.
    Jax,
}

// Precedence levels, loosest first.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const UNARY: u8 = 3;
const POWER: u8 = 4;
const ATOM: u8 = 5;

/// `root` of `g` as text; `params` name the parameters.
pub fn print(g: &Graph, root: Id, params: &[String], dialect: Dialect) -> String {
    let need = g.reachable(&[root]);
    let mut text: Vec<(String, u8)> = Vec::with_capacity(g.len());
    for (i, &n) in g.nodes().iter().enumerate() {
        if !need[i] {
            text.push((String::new(), ATOM));
            continue;
        }
        let at = |id: Id, min: u8| {
            let (s, level) = &text[id as usize];
            if *level >= min {
                s.clone()
            } else {
                format!("({s})")
            }
        };
        let entry = match n {
            Node::Const(bits) => number(f64::from_bits(bits), dialect),
            Node::X => ("x".into(), ATOM),
            Node::Param(p) => (
                params
                    .get(p as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("p{p}")),
                ATOM,
            ),
            Node::Un(Fn1::Neg, a) => (format!("-{}", at(a, UNARY)), UNARY),
            Node::Un(f, a) => (format!("{}({})", fn_name(f, dialect), at(a, SUM)), ATOM),
            Node::Bin(op, a, b) => match op {
                Op2::Add => (format!("{} + {}", at(a, SUM), at(b, PRODUCT)), SUM),
                Op2::Sub => (format!("{} - {}", at(a, SUM), at(b, PRODUCT)), SUM),
                Op2::Mul => (format!("{} * {}", at(a, PRODUCT), at(b, UNARY)), PRODUCT),
                Op2::Div => (format!("{} / {}", at(a, PRODUCT), at(b, UNARY)), PRODUCT),
                Op2::Pow => {
                    let op = if dialect == Dialect::Jax { "**" } else { "^" };
                    (format!("{}{op}{}", at(a, ATOM), at(b, UNARY)), POWER)
                }
                Op2::Min | Op2::Max => {
                    let name = match (op, dialect) {
                        (Op2::Min, Dialect::Formula) => "min",
                        (Op2::Max, Dialect::Formula) => "max",
                        (Op2::Min, Dialect::Jax) => "jnp.minimum",
                        _ => "jnp.maximum",
                    };
                    (format!("{name}({}, {})", at(a, SUM), at(b, SUM)), ATOM)
                }
            },
            Node::Where(c, l, r, a, b) => {
                let name = if dialect == Dialect::Jax {
                    "jnp.where"
                } else {
                    "where"
                };
                (
                    format!(
                        "{name}({} {} {}, {}, {})",
                        at(l, SUM),
                        c.symbol(),
                        at(r, SUM),
                        at(a, SUM),
                        at(b, SUM)
                    ),
                    ATOM,
                )
            }
        };
        text.push(entry);
    }
    text.swap_remove(root as usize).0
}

fn number(v: f64, dialect: Dialect) -> (String, u8) {
    let s = if v == std::f64::consts::PI {
        if dialect == Dialect::Jax {
            "jnp.pi"
        } else {
            "pi"
        }
        .to_string()
    } else if v == std::f64::consts::E {
        if dialect == Dialect::Jax {
            "jnp.e"
        } else {
            "e"
        }
        .to_string()
    } else if v.is_nan() {
        if dialect == Dialect::Jax {
            "jnp.nan"
        } else {
            "(0 / 0)"
        }
        .to_string()
    } else if v.is_infinite() {
        let inf = if dialect == Dialect::Jax {
            "jnp.inf"
        } else {
            "(1 / 0)"
        };
        if v < 0.0 {
            format!("-{inf}")
        } else {
            inf.to_string()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        // Rust's shortest round-trip form ("0.1", "1e-7"), which both languages read.
        format!("{v:?}")
    };
    let level = if s.starts_with('-') { UNARY } else { ATOM };
    (s, level)
}

fn fn_name(f: Fn1, dialect: Dialect) -> String {
    let name = FUNCTIONS
        .iter()
        .find(|(_, g)| *g == f)
        .map_or("", |(n, _)| *n);
    match dialect {
        Dialect::Formula => name.to_string(),
        Dialect::Jax => match f {
            Fn1::Sigmoid | Fn1::Softplus => format!("jax.nn.{name}"),
            Fn1::Erf => "jax.scipy.special.erf".to_string(),
            _ => format!("jnp.{name}"),
        },
    }
}
