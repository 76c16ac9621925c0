//! The `calculator` tool: a small, safe arithmetic evaluator (`+ - * /`, parentheses, decimals).

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CalcError {
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Not an expression this calculator understands.
    #[error("syntax error at byte {0}")]
    Syntax(usize),
    /// Too deeply nested.
    #[error("expression nested too deeply")]
    TooDeep,
}

/// Evaluates `expr`.
///
/// ```
/// use agent_pipeline::calculator::{eval, CalcError};
/// assert_eq!(eval("2 * (3 + 4)"), Ok(14.0));
/// assert_eq!(eval("1 / 0"), Err(CalcError::DivisionByZero));
/// assert!(eval("2 +").is_err());
/// ```
pub fn eval(expr: &str) -> Result<f64, CalcError> {
    let mut p = Parser {
        s: expr.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.sum()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(CalcError::Syntax(p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn sum(&mut self) -> Result<f64, CalcError> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn product(&mut self) -> Result<f64, CalcError> {
        let mut v = self.atom()?;
        while let Some(op @ (b'*' | b'/')) = self.peek() {
            self.i += 1;
            let r = self.atom()?;
            if op == b'/' && r == 0.0 {
                return Err(CalcError::DivisionByZero);
            }
            v = if op == b'*' { v * r } else { v / r };
        }
        Ok(v)
    }
    fn atom(&mut self) -> Result<f64, CalcError> {
        match self.peek() {
            Some(b'(') => {
                self.depth += 1;
                if self.depth > 64 {
                    return Err(CalcError::TooDeep);
                }
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(CalcError::Syntax(self.i));
                }
                self.i += 1;
                self.depth -= 1;
                Ok(v)
            }
            Some(b'-') => {
                self.i += 1;
                Ok(-self.atom()?)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or(CalcError::Syntax(start))
            }
            _ => Err(CalcError::Syntax(self.i)),
        }
    }
}
