//! Local checks on request bodies: the rules HMRC would reject a body for that can be known
//! without a call, reported the way HMRC reports them (same codes, JSON pointers, entries with
//! the same message merged, sorted by code).

use serde_json::Value;

use crate::error::{ApiError, Error};

#[derive(Default)]
pub(crate) struct Checks(Vec<ApiError>);

impl Checks {
    pub(crate) fn push(&mut self, code: &str, message: &str, path: Option<&str>) {
        let mut error = ApiError::new(code, message);
        if let Some(path) = path {
            error.paths.push(path.to_owned());
        }
        self.0.push(error);
    }

    /// `FORMAT_VALUE` for every pointer in `pointers` whose value in `body` is negative.
    pub(crate) fn non_negative(&mut self, body: &Value, pointers: &[&str]) {
        for pointer in pointers {
            if let Some(number) = body.pointer(pointer).and_then(Value::as_f64)
                && number < 0.0
            {
                self.push(
                    "FORMAT_VALUE",
                    "The value must be between 0 and 99999999999.99",
                    Some(pointer),
                );
            }
        }
    }

    /// `RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED` for every pointer present in `body` that the
    /// schema of this tax year does not have.
    pub(crate) fn absent(&mut self, body: &Value, pointers: &[&str], why: &str) {
        for pointer in pointers {
            if body.pointer(pointer).is_some() {
                self.push("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED", why, Some(pointer));
            }
        }
    }

    /// `Ok` when nothing was found; otherwise a local [`Error::Rejected`] shaped like HMRC's
    /// `INVALID_REQUEST`.
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut merged: Vec<ApiError> = Vec::new();
        for error in self.0 {
            match merged
                .iter_mut()
                .find(|e| e.code == error.code && e.message == error.message)
            {
                Some(existing) => existing.paths.extend(error.paths),
                None => merged.push(error),
            }
        }
        merged.sort_by(|a, b| a.code.cmp(&b.code));
        Err(Error::rejected_locally(merged))
    }
}

/// Whether `body` is an object with no members (or not an object at all).
pub(crate) fn is_empty_object(body: &Value) -> bool {
    body.as_object().is_none_or(serde_json::Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_same_message_and_sorts_by_code() {
        let mut checks = Checks::default();
        checks.push("RULE_B", "b", Some("/x"));
        checks.push("FORMAT_VALUE", "v", Some("/a"));
        checks.push("FORMAT_VALUE", "v", Some("/b"));
        let err = checks.finish().unwrap_err();
        let errors = err.rejection_errors();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].code, "FORMAT_VALUE");
        assert_eq!(errors[0].paths, vec!["/a", "/b"]);
        assert_eq!(err.status(), None);
    }
}
