//! `Check`: collects what is wrong with a request's fields, so one 422 names all of them.

use crate::error::ErrorCode;
use crate::error::{ApiError, FieldProblem};

#[derive(Default)]
pub struct Check {
    problems: Vec<FieldProblem>,
}

impl Check {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field` unless `ok`.
    pub fn rule(&mut self, field: &str, ok: bool, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.problems.push(FieldProblem { index: None, field: Some(field.to_owned()), message: message.into() });
        }
        self
    }

    /// A required text: not blank (some character that is neither whitespace nor a control
    /// character: the OpenAPI pattern `[^\s\x00-\x1f\x7f-\x9f]` says the same), at most `max`
    /// characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        let blank = value.chars().all(|c| c.is_whitespace() || c.is_control());
        self.rule(field, !blank, "must not be empty");
        self.max_len(field, value, max)
    }

    /// An optional text given: if present, not blank and at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> &mut Self {
        match value {
            Some(value) => self.text(field, value, max),
            None => self,
        }
    }

    /// Free text that may be empty, at most `max` characters.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        self.rule(field, value.chars().count() <= max, format!("must be at most {max} characters"))
    }

    /// 422 `invalid_field` listing every problem, if any.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        let problems = std::mem::take(&mut self.problems);
        match problems.first() {
            None => Ok(()),
            Some(first) => {
                let detail = format!("{}: {}", first.field.as_deref().unwrap_or("body"), first.message);
                Err(ApiError::new(ErrorCode::InvalidField, detail).with_errors(problems))
            }
        }
    }
}

/// 422 `unknown_id` naming the field that refers to something that does not exist.
pub fn unknown_id(field: &str, what: &str) -> ApiError {
    ApiError::new(ErrorCode::UnknownId, format!("{field}: no such {what}")).with_errors(vec![FieldProblem {
        index: None,
        field: Some(field.to_owned()),
        message: format!("no such {what}"),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem() {
        let error = Check::new().text("name", " ", 10).text("code", "abcdefghijk", 10).text("ok", "fine", 10).finish().expect_err("bad");
        let fields: Vec<_> = error.errors().iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(fields, ["name", "code"]);
        assert!(Check::new().optional_text("email", None, 5).max_len("d", "", 3).finish().is_ok());
    }
}
