//! Lowering to WGSL: each distinct activation of a stack becomes a pair of functions (`f` and
//! `f'` of the pre-activation), and `act(m, x)` / `dact(m, x)` pick model `m`'s. Constants are
//! baked in, so a program's pipelines are cached by the formulas and their values.

use super::Activation;
use super::expr::{Fn1, Graph, Id, Node, Op2};

/// An f32 literal that round-trips exactly (non-finite values by their bits, which WGSL has no
/// literal for).
fn literal(v: f64) -> String {
    let f = v as f32;
    if f.is_finite() {
        let s = format!("{f:?}f");
        if f < 0.0 { format!("({s})") } else { s }
    } else {
        format!("bitcast<f32>({:#010x}u)", f.to_bits())
    }
}

/// `fn {name}(x: f32) -> f32` computing `root` of a lowered graph.
pub fn function(g: &Graph, root: Id, name: &str) -> String {
    let need = g.reachable(&[root]);
    let mut body = String::new();
    let mut names: Vec<String> = Vec::with_capacity(g.len());
    for (i, &n) in g.nodes().iter().enumerate() {
        let at = |id: Id| names[id as usize].clone();
        let expr = match n {
            _ if !need[i] => {
                names.push(String::new());
                continue;
            }
            Node::Const(bits) => {
                names.push(literal(f64::from_bits(bits)));
                continue;
            }
            Node::X => {
                names.push("x".into());
                continue;
            }
            // Parameters are bound before lowering (`lower::lower`).
            Node::Param(_) => "0.0f".into(),
            Node::Un(f, a) => match f {
                Fn1::Neg => format!("-{}", at(a)),
                Fn1::Exp => format!("exp({})", at(a)),
                Fn1::Log => format!("log({})", at(a)),
                Fn1::Sqrt => format!("sqrt({})", at(a)),
                Fn1::Abs => format!("abs({})", at(a)),
                Fn1::Sin => format!("sin({})", at(a)),
                Fn1::Cos => format!("cos({})", at(a)),
                // Not primitives: `lower` rewrote them.
                _ => "0.0f".into(),
            },
            Node::Bin(op, a, b) => {
                let (a, b) = (at(a), at(b));
                match op {
                    Op2::Add => format!("{a} + {b}"),
                    Op2::Sub => format!("{a} - {b}"),
                    Op2::Mul => format!("{a} * {b}"),
                    Op2::Div => format!("{a} / {b}"),
                    Op2::Pow => format!("pow({a}, {b})"),
                    Op2::Min => format!("min({a}, {b})"),
                    Op2::Max => format!("max({a}, {b})"),
                }
            }
            Node::Where(c, l, r, a, b) => {
                format!(
                    "select({}, {}, {} {} {})",
                    at(b),
                    at(a),
                    at(l),
                    c.symbol(),
                    at(r)
                )
            }
        };
        body += &format!("  let v{i} = {expr};\n");
        names.push(format!("v{i}"));
    }
    format!(
        "fn {name}(x: f32) -> f32 {{\n{body}  return {};\n}}\n",
        names[root as usize]
    )
}

/// `act(m, x)` and `dact(m, x)` (the derivative, of the pre-activation) for the models of a
/// stack, model `m` being `acts[m]`; each distinct activation's functions once.
pub fn stack(acts: &[Activation]) -> String {
    let mut distinct: Vec<&Activation> = Vec::new();
    let mut of_model: Vec<usize> = Vec::with_capacity(acts.len());
    for a in acts {
        let i = distinct.iter().position(|d| *d == a).unwrap_or_else(|| {
            distinct.push(a);
            distinct.len() - 1
        });
        of_model.push(i);
    }
    let mut src = String::new();
    for (i, a) in distinct.iter().enumerate() {
        let f = &a.func;
        // No user text goes into the shader: only the graph's own numbers and names.
        src += &function(&f.lowered, f.lf, &format!("act_{i}"));
        src += &function(&f.lowered, f.ldf, &format!("dact_{i}"));
    }
    for which in ["act", "dact"] {
        src += &format!("fn {which}(m: u32, x: f32) -> f32 {{\n");
        if distinct.len() <= 1 {
            src += &format!("  return {which}_0(x);\n");
        } else {
            // Every model has its case; the last activation's also takes `default`, which WGSL
            // requires (no model falls through to another's function).
            src += "  switch m {\n";
            for i in 0..distinct.len() {
                let mut cases: Vec<String> = of_model
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| **d == i)
                    .map(|(m, _)| format!("{m}u"))
                    .collect();
                if i + 1 == distinct.len() {
                    cases.push("default".into());
                }
                src += &format!(
                    "    case {}: {{ return {which}_{i}(x); }}\n",
                    cases.join(", ")
                );
            }
            src += "  }\n";
        }
        src += "}\n";
    }
    src
}
