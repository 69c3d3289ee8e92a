//! CEL expressions (trigger `expression`, wait-for-event and cancel-on `if`, concurrency and
//! idempotency keys), evaluated with the [`cel`] interpreter over JSON variables such as
//! `event` (the run's trigger event) and `async` (the incoming event).

use std::fmt;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Program, Value as Cel};
use serde_json::Value;

/// A compiled CEL expression.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
}

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ExprError {
    /// The expression is not valid CEL.
    #[error("invalid expression {expression:?}: {message}")]
    Parse {
        /// The expression text.
        expression: String,
        /// The parser's message.
        message: String,
    },
    /// Evaluation failed (for example a missing field without `has()`).
    #[error("expression {expression:?} failed: {message}")]
    Eval {
        /// The expression text.
        expression: String,
        /// The interpreter's message.
        message: String,
    },
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl Expr {
    /// Compiles `source`.
    ///
    /// ```
    /// use inngest_local::expr::Expr;
    /// let e = Expr::compile("async.data.id == event.data.id").unwrap();
    /// let event = serde_json::json!({"data": {"id": 7}});
    /// let incoming = serde_json::json!({"data": {"id": 7}});
    /// assert!(e.matches(&[("event", &event), ("async", &incoming)]).unwrap());
    /// ```
    pub fn compile(source: &str) -> Result<Self, ExprError> {
        let program = Program::compile(source).map_err(|e| ExprError::Parse {
            expression: source.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            source: source.to_owned(),
            program: Arc::new(program),
        })
    }

    /// The expression text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with the given JSON variables.
    pub fn eval(&self, vars: &[(&str, &Value)]) -> Result<Value, ExprError> {
        let mut ctx = Context::default();
        for (name, value) in vars {
            ctx.add_variable_from_value(*name, json_to_cel(value));
        }
        let out = self.program.execute(&ctx).map_err(|e| ExprError::Eval {
            expression: self.source.clone(),
            message: e.to_string(),
        })?;
        out.json().map_err(|e| ExprError::Eval {
            expression: self.source.clone(),
            message: e.to_string(),
        })
    }

    /// Evaluates to a boolean; a non-boolean result counts as `false`.
    pub fn matches(&self, vars: &[(&str, &Value)]) -> Result<bool, ExprError> {
        Ok(matches!(self.eval(vars)?, Value::Bool(true)))
    }

    /// Evaluates a key expression (concurrency, idempotency) to the string it groups by.
    pub fn key(&self, vars: &[(&str, &Value)]) -> Result<String, ExprError> {
        Ok(match self.eval(vars)? {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// Converts JSON to a CEL value: integers become `int` (or `double` when out of range).
fn json_to_cel(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Value::Object(map) => {
            let entries: std::collections::HashMap<Key, Cel> = map
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Cel::Map(Map {
                map: Arc::new(entries),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_on_failure_trigger_expression() {
        let e = Expr::compile("event.data.function_id == 'app-fn'").unwrap();
        let ev = json!({"name": "inngest/function.failed", "data": {"function_id": "app-fn"}});
        assert!(e.matches(&[("event", &ev)]).unwrap());
        let other = json!({"data": {"function_id": "app-other"}});
        assert!(!e.matches(&[("event", &other)]).unwrap());
    }

    #[test]
    fn numbers_compare_across_json_and_literals() {
        let e = Expr::compile("event.data.amount > 10 && event.data.ratio < 0.5").unwrap();
        let ev = json!({"data": {"amount": 11, "ratio": 0.25}});
        assert!(e.matches(&[("event", &ev)]).unwrap());
    }

    #[test]
    fn keys_are_plain_strings_for_strings_and_json_otherwise() {
        let e = Expr::compile("event.data.user").unwrap();
        assert_eq!(
            e.key(&[("event", &json!({"data": {"user": "u1"}}))])
                .unwrap(),
            "u1"
        );
        assert_eq!(
            e.key(&[("event", &json!({"data": {"user": 5}}))]).unwrap(),
            "5"
        );
    }

    #[test]
    fn reports_parse_and_eval_errors() {
        assert!(matches!(
            Expr::compile("event.data ==").unwrap_err(),
            ExprError::Parse { .. }
        ));
        let e = Expr::compile("event.data.missing.deeper == 1").unwrap();
        assert!(matches!(
            e.eval(&[("event", &json!({"data": {}}))]).unwrap_err(),
            ExprError::Eval { .. }
        ));
    }
}
