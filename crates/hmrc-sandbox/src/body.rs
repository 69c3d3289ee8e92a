//! Request-body checking driven by declarative field specs (see [`crate::specs`]).
//!
//! The checks run in HMRC's order:
//! 1. shape: the body is a non-empty object, required fields are present and every field has
//!    the JSON type it should (Play's `Reads`); failures become one
//!    `RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED` listing the paths;
//! 2. emptiness: objects with none of their fields, and empty arrays (HMRC's
//!    `EmptinessChecker`), again `RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED` with paths;
//! 3. field formats: money ranges and two decimal places on the literal number text
//!    (`FORMAT_VALUE` with HMRC's range message), dates, patterns and enumerations.

use std::sync::LazyLock;

use regex::Regex;

use crate::api_error::{Api, MtdError};
use crate::ids::{TaxYear, parse_date};
use crate::lit::{Lit, pence};

/// A money range, written exactly as HMRC prints it in `FORMAT_VALUE` messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Money {
    pub(crate) min: &'static str,
    pub(crate) max: &'static str,
}

/// `0` to `99999999999.99`.
pub(crate) const NON_NEGATIVE: Money = Money {
    min: "0",
    max: "99999999999.99",
};
/// `-99999999999.99` to `99999999999.99`.
pub(crate) const SIGNED: Money = Money {
    min: "-99999999999.99",
    max: "99999999999.99",
};
/// `0` to `1000` (trading and property income allowances).
pub(crate) const UP_TO_1000: Money = Money {
    min: "0",
    max: "1000",
};

/// Whether a format error carries the field's JSON path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathMode {
    With,
    Without,
}

/// What a field holds.
#[derive(Debug)]
pub(crate) enum Node {
    Obj(&'static [Field]),
    Money(Money),
    Bool,
    /// A `YYYY-MM-DD` string; a bad one is reported with this code.
    Date(&'static str, PathMode),
    /// A string matching a pattern; a mismatch is reported with this code and the path.
    Pattern(&'static LazyLock<Regex>, &'static str),
    /// One of a fixed set of strings; anything else is reported with this code and the path.
    Enum(&'static [&'static str], &'static str),
    /// Any string (the endpoint checks it).
    Text,
    Arr(&'static Node),
}

/// One member of an object.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) node: Node,
    pub(crate) required: bool,
    /// First and last tax year (start years) the field exists in.
    pub(crate) years: (i32, i32),
}

impl Field {
    /// An optional field present in every tax year.
    pub(crate) const fn opt(name: &'static str, node: Node) -> Self {
        Self {
            name,
            node,
            required: false,
            years: (0, 9999),
        }
    }

    /// A required field present in every tax year.
    pub(crate) const fn req(name: &'static str, node: Node) -> Self {
        Self {
            name,
            node,
            required: true,
            years: (0, 9999),
        }
    }

    /// Limits the field to tax years starting in `from..=until`.
    pub(crate) const fn years(mut self, from: i32, until: i32) -> Self {
        self.years = (from, until);
        self
    }

    fn applies(&self, year: Option<TaxYear>) -> bool {
        year.is_none_or(|y| y.start_year() >= self.years.0 && y.start_year() <= self.years.1)
    }
}

/// Checks the shape (and, with `non_empty`, the emptiness rules) of a body.
pub(crate) fn check_shape(
    api: Api,
    spec: &[Field],
    body: &Lit,
    year: Option<TaxYear>,
    non_empty: bool,
) -> Result<(), MtdError> {
    let empty_body = api.error("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
    match body {
        Lit::Object(members) if !members.is_empty() => {}
        _ => return Err(empty_body),
    }
    let mut wrong = Vec::new();
    shape_object(spec, body, year, "", &mut wrong);
    if !wrong.is_empty() {
        wrong.sort();
        return Err(empty_body.with_paths(wrong));
    }
    if non_empty {
        if !spec
            .iter()
            .any(|f| f.applies(year) && present(body.get(f.name)))
        {
            return Err(empty_body);
        }
        let mut empty = Vec::new();
        empty_object(spec, body, year, "", &mut empty);
        if !empty.is_empty() {
            return Err(empty_body.with_paths(empty));
        }
    }
    Ok(())
}

/// Checks money ranges, dates, patterns and enumerations; returns every failure.
pub(crate) fn check_fields(
    api: Api,
    spec: &[Field],
    body: &Lit,
    year: Option<TaxYear>,
) -> Vec<MtdError> {
    let mut errors = Vec::new();
    fields_object(api, spec, body, year, "", &mut errors);
    errors
}

fn present(value: Option<&Lit>) -> bool {
    !matches!(value, None | Some(Lit::Null))
}

fn shape_object(
    spec: &[Field],
    obj: &Lit,
    year: Option<TaxYear>,
    path: &str,
    out: &mut Vec<String>,
) {
    for field in spec.iter().filter(|f| f.applies(year)) {
        let here = format!("{path}/{}", field.name);
        match obj.get(field.name) {
            None | Some(Lit::Null) => {
                if field.required {
                    out.push(here);
                }
            }
            Some(value) => shape_node(&field.node, value, year, &here, out),
        }
    }
}

fn shape_node(node: &Node, value: &Lit, year: Option<TaxYear>, path: &str, out: &mut Vec<String>) {
    match (node, value) {
        (Node::Obj(spec), Lit::Object(_)) => shape_object(spec, value, year, path, out),
        (Node::Arr(item), Lit::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                shape_node(item, v, year, &format!("{path}/{i}"), out);
            }
        }
        (Node::Money(_), Lit::Number(_)) | (Node::Bool, Lit::Bool(_)) => {}
        (Node::Date(..) | Node::Pattern(..) | Node::Enum(..) | Node::Text, Lit::String(_)) => {}
        _ => out.push(path.to_owned()),
    }
}

fn empty_object(
    spec: &[Field],
    obj: &Lit,
    year: Option<TaxYear>,
    path: &str,
    out: &mut Vec<String>,
) {
    for field in spec.iter().filter(|f| f.applies(year)) {
        let Some(value) = obj.get(field.name).filter(|v| present(Some(v))) else {
            continue;
        };
        let here = format!("{path}/{}", field.name);
        empty_node(&field.node, value, year, &here, out);
    }
}

fn empty_node(node: &Node, value: &Lit, year: Option<TaxYear>, path: &str, out: &mut Vec<String>) {
    match (node, value) {
        (Node::Obj(spec), Lit::Object(_)) => {
            if spec
                .iter()
                .any(|f| f.applies(year) && present(value.get(f.name)))
            {
                empty_object(spec, value, year, path, out);
            } else {
                out.push(path.to_owned());
            }
        }
        (Node::Arr(item), Lit::Array(items)) => {
            if items.is_empty() {
                out.push(path.to_owned());
            }
            for (i, v) in items.iter().enumerate() {
                empty_node(item, v, year, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn fields_object(
    api: Api,
    spec: &[Field],
    obj: &Lit,
    year: Option<TaxYear>,
    path: &str,
    out: &mut Vec<MtdError>,
) {
    for field in spec.iter().filter(|f| f.applies(year)) {
        let Some(value) = obj.get(field.name) else {
            continue;
        };
        let here = format!("{path}/{}", field.name);
        fields_node(api, &field.node, value, year, &here, out);
    }
}

fn fields_node(
    api: Api,
    node: &Node,
    value: &Lit,
    year: Option<TaxYear>,
    path: &str,
    out: &mut Vec<MtdError>,
) {
    match (node, value) {
        (Node::Obj(spec), Lit::Object(_)) => fields_object(api, spec, value, year, path, out),
        (Node::Arr(item), Lit::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                fields_node(api, item, v, year, &format!("{path}/{i}"), out);
            }
        }
        (Node::Money(range), Lit::Number(text)) if !money_ok(text, *range) => {
            out.push(MtdError::value_range(path, range.min, range.max));
        }
        (Node::Date(code, mode), Lit::String(s)) if parse_date(s).is_none() => {
            let err = api.error(code);
            out.push(match mode {
                PathMode::With => err.with_path(path),
                PathMode::Without => err,
            });
        }
        (Node::Pattern(re, code), Lit::String(s)) if !re.is_match(s) => {
            out.push(api.error(code).with_path(path));
        }
        (Node::Enum(values, code), Lit::String(s)) if !values.contains(&s.as_str()) => {
            out.push(api.error(code).with_path(path));
        }
        _ => {}
    }
}

/// `true` when a number literal has at most two decimal places and lies in `range`.
pub(crate) fn money_ok(literal: &str, range: Money) -> bool {
    let (Some(value), Some(min), Some(max)) = (pence(literal), pence(range.min), pence(range.max))
    else {
        return false;
    };
    value >= min && value <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_SPEC: &[Field] = &[
        Field::req(
            "dates",
            Node::Obj(&[
                Field::req("start", Node::Date("FORMAT_START_DATE", PathMode::Without)),
                Field::req("end", Node::Date("FORMAT_END_DATE", PathMode::Without)),
            ]),
        ),
        Field::opt(
            "income",
            Node::Obj(&[
                Field::opt("turnover", Node::Money(NON_NEGATIVE)),
                Field::opt("other", Node::Money(NON_NEGATIVE)),
            ]),
        ),
        Field::opt("old", Node::Money(NON_NEGATIVE)).years(2017, 2023),
        Field::opt("flag", Node::Bool),
    ];

    fn lit(s: &str) -> Lit {
        Lit::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn empty_or_non_object_bodies_are_refused_without_paths() {
        for body in ["{}", "[]", "3"] {
            let err =
                check_shape(Api::SelfEmployment, TEST_SPEC, &lit(body), None, true).unwrap_err();
            assert_eq!(err.code, "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
            assert_eq!(err.paths, None);
        }
    }

    #[test]
    fn missing_and_mistyped_fields_are_listed_sorted() {
        let body = lit(r#"{"dates": {"start": 5}, "income": {"turnover": "10"}, "flag": 1}"#);
        let err = check_shape(Api::SelfEmployment, TEST_SPEC, &body, None, true).unwrap_err();
        assert_eq!(
            err.paths,
            Some(vec![
                "/dates/end".to_owned(),
                "/dates/start".to_owned(),
                "/flag".to_owned(),
                "/income/turnover".to_owned()
            ])
        );
    }

    #[test]
    fn empty_nested_objects_are_refused_with_paths() {
        let body = lit(r#"{"dates": {"start": "2024-04-06", "end": "2024-07-05"}, "income": {}}"#);
        let err = check_shape(Api::SelfEmployment, TEST_SPEC, &body, None, true).unwrap_err();
        assert_eq!(err.paths, Some(vec!["/income".to_owned()]));
        assert!(check_shape(Api::SelfEmployment, TEST_SPEC, &body, None, false).is_ok());
    }

    #[test]
    fn money_is_checked_on_the_literal() {
        let body = lit(r#"{"dates": {"start": "2024-04-06", "end": "x"},
                "income": {"turnover": 10.123, "other": -1}, "old": 1.5}"#);
        let errors = check_fields(Api::SelfEmployment, TEST_SPEC, &body, None);
        let codes: Vec<_> = errors
            .iter()
            .map(|e| (e.code.as_str(), e.paths.clone()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("FORMAT_END_DATE", None),
                ("FORMAT_VALUE", Some(vec!["/income/turnover".to_owned()])),
                ("FORMAT_VALUE", Some(vec!["/income/other".to_owned()])),
            ]
        );
    }

    #[test]
    fn fields_outside_their_tax_years_are_ignored() {
        let body = lit(r#"{"dates": {"start": "2024-04-06", "end": "2024-07-05"}, "old": 1.234}"#);
        assert_eq!(
            check_fields(
                Api::SelfEmployment,
                TEST_SPEC,
                &body,
                Some(TaxYear::starting(2024))
            ),
            vec![]
        );
        assert_eq!(
            check_fields(
                Api::SelfEmployment,
                TEST_SPEC,
                &body,
                Some(TaxYear::starting(2023))
            )
            .len(),
            1
        );
    }

    #[test]
    fn money_ranges() {
        assert!(money_ok("99999999999.99", NON_NEGATIVE));
        assert!(!money_ok("100000000000", NON_NEGATIVE));
        assert!(!money_ok("-0.01", NON_NEGATIVE));
        assert!(money_ok("-0.01", SIGNED));
        assert!(money_ok("1000", UP_TO_1000));
        assert!(!money_ok("1000.01", UP_TO_1000));
        assert!(!money_ok("1.001", SIGNED));
    }
}
