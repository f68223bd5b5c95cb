//! The formula language: a lexer and a recursive-descent parser that build the expression
//! graph directly. Hand-written rather than a parser library: the language is a dozen tokens
//! and five precedence levels, and a hand-written parser says exactly what it expected at which
//! column (what the page shows under the field) at no cost in download size.
//!
//! ```text
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | power                 -x^2 is -(x^2)
//! power   := atom ("^" unary)?                 right-associative: 2^3^2 is 2^(3^2)
//! atom    := number | "x" | "pi" | "e" | param | "(" sum ")"
//!          | fn1 "(" sum ")" | ("min" | "max") "(" sum "," sum ")"
//!          | "where" "(" sum cmp sum "," sum "," sum ")"
//! cmp     := "<" | "<=" | ">" | ">="
//! ```

use crate::error::FormulaError;

use super::expr::{Cmp, Fn1, Graph, Id, Op2};

/// The grammar in one sentence (the page and the docs show it).
pub const GRAMMAR: &str = "numbers, x, parameters, pi, e, + - * / ^ (power, right-associative; \
-x^2 is -(x^2)), parentheses, exp expm1 log log1p sqrt abs sin cos tanh sigmoid softplus erf (one \
argument), min max (two), where(a < b, then, else) with < <= > >=";

/// The longest formula accepted, in characters.
pub const MAX_LEN: usize = 1000;
/// The deepest nesting accepted (parentheses, calls, unary minus and powers).
pub const MAX_DEPTH: usize = 48;

/// One-argument functions by name.
pub const FUNCTIONS: [(&str, Fn1); 12] = [
    ("exp", Fn1::Exp),
    ("expm1", Fn1::Expm1),
    ("log", Fn1::Log),
    ("log1p", Fn1::Log1p),
    ("sqrt", Fn1::Sqrt),
    ("abs", Fn1::Abs),
    ("sin", Fn1::Sin),
    ("cos", Fn1::Cos),
    ("tanh", Fn1::Tanh),
    ("sigmoid", Fn1::Sigmoid),
    ("softplus", Fn1::Softplus),
    ("erf", Fn1::Erf),
];

/// Names a parameter may not take.
pub fn reserved(name: &str) -> bool {
    matches!(name, "x" | "pi" | "e" | "min" | "max" | "where")
        || FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// Whether `name` can name a parameter: a letter or `_`, then letters, digits or `_`.
pub fn is_identifier(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

const OPERAND: &str = "a number, x, a parameter, a function or '('";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Sym(&'static str),
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    col: usize,
    text: String,
}

impl Token {
    fn describe(&self) -> String {
        match &self.tok {
            Tok::Num(_) => format!("the number {}", self.text),
            Tok::Name(n) => format!("'{n}'"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::End => "the end of the formula".into(),
        }
    }
}

fn err(col: usize, expected: impl Into<String>, found: impl Into<String>) -> FormulaError {
    FormulaError {
        column: col,
        expected: expected.into(),
        found: found.into(),
    }
}

fn lex(src: &str) -> Result<Vec<Token>, FormulaError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let digit_at = |j: usize| chars.get(j).is_some_and(|d| d.is_ascii_digit());
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && digit_at(i + 1)) {
            let start = i;
            while digit_at(i) {
                i += 1;
            }
            if chars.get(i) == Some(&'.') {
                i += 1;
                while digit_at(i) {
                    i += 1;
                }
            }
            if matches!(chars.get(i), Some('e' | 'E')) {
                let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
                if digit_at(i + 1 + sign) {
                    i += 1 + sign;
                    while digit_at(i) {
                        i += 1;
                    }
                }
            }
            if chars.get(i) == Some(&'.') {
                return Err(err(
                    i + 1,
                    "a number with at most one decimal point",
                    "a second '.'",
                ));
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text
                .parse()
                .map_err(|_| err(col, "a number", format!("'{text}'")))?;
            if !v.is_finite() {
                return Err(err(col, "a finite number", format!("'{text}'")));
            }
            out.push(Token {
                tok: Tok::Num(v),
                col,
                text,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Token {
                tok: Tok::Name(text.clone()),
                col,
                text,
            });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match (c, two.as_str()) {
                (_, "<=") => "<=",
                (_, ">=") => ">=",
                ('<', _) => "<",
                ('>', _) => ">",
                ('+', _) => "+",
                ('-', _) => "-",
                ('*', _) => "*",
                ('/', _) => "/",
                ('^', _) => "^",
                ('(', _) => "(",
                (')', _) => ")",
                (',', _) => ",",
                _ => {
                    return Err(err(
                        col,
                        "a number, a name, an operator (+ - * / ^), a comparison, ',' or a parenthesis",
                        format!("'{c}'"),
                    ));
                }
            };
            i += sym.len();
            out.push(Token {
                tok: Tok::Sym(sym),
                col,
                text: sym.into(),
            });
        }
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
        text: String::new(),
    });
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    g: &'a mut Graph,
    params: &'a [String],
}

/// Parses `src` into `g`, with `params` naming the graph's parameters (`Param(i)` is
/// `params[i]`); returns the formula's node.
pub fn parse(src: &str, params: &[String], g: &mut Graph) -> Result<Id, FormulaError> {
    let len = src.chars().count();
    if len > MAX_LEN {
        return Err(err(
            MAX_LEN + 1,
            format!("at most {MAX_LEN} characters"),
            format!("{len} characters"),
        ));
    }
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
        g,
        params,
    };
    let root = p.sum()?;
    let t = p.peek().clone();
    if t.tok != Tok::End {
        let hint = if matches!(t.tok, Tok::Sym("<" | "<=" | ">" | ">=")) {
            " (a comparison goes only in where's first argument)"
        } else {
            ""
        };
        return Err(err(
            t.col,
            format!("an operator (+ - * / ^) or the end of the formula{hint}"),
            t.describe(),
        ));
    }
    Ok(root)
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, sym: &'static str) -> bool {
        if self.peek().tok == Tok::Sym(sym) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &'static str, what: &str) -> Result<(), FormulaError> {
        if self.eat(sym) {
            Ok(())
        } else {
            let t = self.peek();
            Err(err(t.col, what, t.describe()))
        }
    }

    /// One level deeper; refused past `MAX_DEPTH` (a parser's recursion must stay bounded).
    fn enter(&mut self) -> Result<(), FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                self.peek().col,
                format!("at most {MAX_DEPTH} levels of nesting"),
                "a deeper one",
            ));
        }
        Ok(())
    }

    fn sum(&mut self) -> Result<Id, FormulaError> {
        let mut a = self.product()?;
        loop {
            let op = if self.eat("+") {
                Op2::Add
            } else if self.eat("-") {
                Op2::Sub
            } else {
                return Ok(a);
            };
            let b = self.product()?;
            a = self.g.bin(op, a, b);
        }
    }

    fn product(&mut self) -> Result<Id, FormulaError> {
        let mut a = self.unary()?;
        loop {
            let op = if self.eat("*") {
                Op2::Mul
            } else if self.eat("/") {
                Op2::Div
            } else {
                return Ok(a);
            };
            let b = self.unary()?;
            a = self.g.bin(op, a, b);
        }
    }

    fn unary(&mut self) -> Result<Id, FormulaError> {
        if self.eat("-") {
            self.enter()?;
            let a = self.unary()?;
            self.depth -= 1;
            return Ok(self.g.neg(a));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Id, FormulaError> {
        let base = self.atom()?;
        if !self.eat("^") {
            return Ok(base);
        }
        self.enter()?;
        let exp = self.unary()?;
        self.depth -= 1;
        Ok(self.g.bin(Op2::Pow, base, exp))
    }

    fn atom(&mut self) -> Result<Id, FormulaError> {
        let t = self.next();
        match &t.tok {
            Tok::Num(v) => Ok(self.g.constant(*v)),
            Tok::Sym("(") => {
                self.enter()?;
                let a = self.sum()?;
                self.expect(")", "an operator (+ - * / ^) or ')'")?;
                self.depth -= 1;
                Ok(a)
            }
            Tok::Name(name) => self.name(name, &t),
            _ => Err(err(t.col, OPERAND, t.describe())),
        }
    }

    fn name(&mut self, name: &str, t: &Token) -> Result<Id, FormulaError> {
        let call = self.peek().tok == Tok::Sym("(");
        let f1 = FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
        if let Some(f) = f1 {
            self.open(name)?;
            let a = self.sum()?;
            self.close()?;
            return Ok(self.g.un(f, a));
        }
        match name {
            "min" | "max" => {
                self.open(name)?;
                let a = self.sum()?;
                self.expect(
                    ",",
                    "an operator (+ - * / ^) or ',' (min and max take two arguments)",
                )?;
                let b = self.sum()?;
                self.close()?;
                let op = if name == "min" { Op2::Min } else { Op2::Max };
                Ok(self.g.bin(op, a, b))
            }
            "where" => {
                self.open(name)?;
                let l = self.sum()?;
                let c = self.peek().clone();
                let cmp = match c.tok {
                    Tok::Sym("<") => Cmp::Lt,
                    Tok::Sym("<=") => Cmp::Le,
                    Tok::Sym(">") => Cmp::Gt,
                    Tok::Sym(">=") => Cmp::Ge,
                    _ => {
                        return Err(err(
                            c.col,
                            "an operator or a comparison (<, <=, >, >=): where's first argument is a condition",
                            c.describe(),
                        ));
                    }
                };
                self.next();
                let r = self.sum()?;
                self.expect(
                    ",",
                    "an operator (+ - * / ^) or ',' (where takes a condition and two values)",
                )?;
                let a = self.sum()?;
                self.expect(
                    ",",
                    "an operator (+ - * / ^) or ',' (where takes a condition and two values)",
                )?;
                let b = self.sum()?;
                self.close()?;
                Ok(self.g.select(cmp, l, r, a, b))
            }
            _ if call => Err(err(
                t.col,
                format!(
                    "a function ({}, min, max, where)",
                    FUNCTIONS.map(|(n, _)| n).join(", ")
                ),
                format!("unknown function '{name}'"),
            )),
            "x" => Ok(self.g.x()),
            "pi" => Ok(self.g.constant(std::f64::consts::PI)),
            "e" => Ok(self.g.constant(std::f64::consts::E)),
            _ => match self.params.iter().position(|p| p == name) {
                Some(i) => Ok(self.g.param(i as u16)),
                None => Err(err(
                    t.col,
                    if self.params.is_empty() {
                        "x, pi, e or a parameter (this formula has none; add one to use it)".into()
                    } else {
                        format!("x, pi, e or a parameter ({})", self.params.join(", "))
                    },
                    format!("unknown name '{name}'"),
                )),
            },
        }
    }

    fn open(&mut self, name: &str) -> Result<(), FormulaError> {
        let what = format!("'(' after {name}");
        self.expect("(", &what)?;
        self.enter()
    }

    fn close(&mut self) -> Result<(), FormulaError> {
        self.expect(")", "an operator (+ - * / ^) or ')'")?;
        self.depth -= 1;
        Ok(())
    }
}
