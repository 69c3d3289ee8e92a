//! HMRC's error bodies: `{"code","message","paths"?}`, the `INVALID_REQUEST` wrapper for several
//! errors, and the catalogue of codes and messages per API (taken from each API's
//! `common/errors.yaml`; messages differ between APIs, so they are looked up per API).

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

/// The HMRC API a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// Obligations API v3.0.
    Obligations,
    /// Self Employment Business API v5.0.
    SelfEmployment,
    /// Property Business API v6.0.
    Property,
    /// Individuals Business End of Period Statement API v3.0.
    Eops,
    /// Individual Calculations API v8.0.
    Calculations,
    /// Business Details API v2.0.
    BusinessDetails,
    /// The API platform itself (gateway errors) and the test-support APIs.
    Platform,
}

/// One HMRC error: code, message, optional JSON paths and the HTTP status it travels with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MtdError {
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) paths: Option<Vec<String>>,
    #[serde(rename = "errorId", skip_serializing_if = "Option::is_none")]
    pub(crate) error_id: Option<String>,
    #[serde(skip)]
    pub(crate) status: StatusCode,
}

impl MtdError {
    /// An error with an explicit message.
    pub(crate) fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            paths: None,
            error_id: None,
            status: default_status(code),
        }
    }

    /// Adds one JSON path.
    pub(crate) fn with_path(mut self, path: impl Into<String>) -> Self {
        self.paths.get_or_insert_with(Vec::new).push(path.into());
        self
    }

    /// Replaces the paths.
    pub(crate) fn with_paths(mut self, paths: Vec<String>) -> Self {
        self.paths = Some(paths);
        self
    }

    /// Overrides the HTTP status.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds an `errorId` (EOPS business-validation failures).
    pub(crate) fn with_error_id(mut self, id: &str) -> Self {
        self.error_id = Some(id.to_owned());
        self
    }

    /// Overrides the message.
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The FORMAT_VALUE error for one field, with HMRC's range message.
    pub(crate) fn value_range(path: &str, min: &str, max: &str) -> Self {
        Self::new(
            "FORMAT_VALUE",
            &format!("The value must be between {min} and {max}"),
        )
        .with_path(path)
    }
}

/// The body and status HMRC sends for a set of validation errors: one error alone, or several
/// wrapped in `INVALID_REQUEST` after merging errors that share a message (their paths are
/// concatenated) and sorting by code.
pub(crate) fn error_body(errors: Vec<MtdError>) -> (StatusCode, Value) {
    let mut merged: Vec<MtdError> = Vec::new();
    for err in errors {
        match merged.iter_mut().find(|m| m.message == err.message) {
            Some(existing) => {
                existing.paths = match (existing.paths.take(), err.paths) {
                    (Some(mut a), Some(b)) => {
                        a.extend(b);
                        Some(a)
                    }
                    _ => None,
                };
            }
            None => merged.push(err),
        }
    }
    merged.sort_by(|a, b| a.code.cmp(&b.code).then_with(|| a.message.cmp(&b.message)));
    match merged.len() {
        0 => {
            let err = Api::Platform.error("INTERNAL_SERVER_ERROR");
            (err.status, to_json(&err))
        }
        1 => {
            let err = &merged[0];
            (err.status, to_json(err))
        }
        _ => (
            StatusCode::BAD_REQUEST,
            json!({
                "code": "INVALID_REQUEST",
                "message": "Invalid request",
                "errors": merged,
            }),
        ),
    }
}

fn to_json(err: &MtdError) -> Value {
    serde_json::to_value(err).unwrap_or_else(|_| json!({"code": err.code, "message": err.message}))
}

/// The HTTP status HMRC sends with a code.
fn default_status(code: &str) -> StatusCode {
    match code {
        "MISSING_CREDENTIALS"
        | "INVALID_CREDENTIALS"
        | "UNAUTHORIZED"
        | "INCORRECT_ACCESS_TOKEN_TYPE" => StatusCode::UNAUTHORIZED,
        "CLIENT_OR_AGENT_NOT_AUTHORISED" | "INVALID_SCOPE" | "RESOURCE_FORBIDDEN" | "FORBIDDEN" => {
            StatusCode::FORBIDDEN
        }
        "MATCHING_RESOURCE_NOT_FOUND"
        | "NO_OBLIGATIONS_FOUND"
        | "NOT_FOUND"
        | "NO_BUSINESS_FOUND" => StatusCode::NOT_FOUND,
        "METHOD_NOT_ALLOWED" => StatusCode::METHOD_NOT_ALLOWED,
        "ACCEPT_HEADER_INVALID" => StatusCode::NOT_ACCEPTABLE,
        "INVALID_BODY_TYPE" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "MESSAGE_THROTTLED_OUT" => StatusCode::TOO_MANY_REQUESTS,
        "INTERNAL_SERVER_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
        "NOT_IMPLEMENTED" => StatusCode::NOT_IMPLEMENTED,
        "BAD_GATEWAY" => StatusCode::BAD_GATEWAY,
        "SERVER_ERROR" | "SCHEDULED_MAINTENANCE" | "SERVICE_UNAVAILABLE" => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        "GATEWAY_TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl Api {
    /// The error `code` with this API's message for it.
    pub(crate) fn error(self, code: &str) -> MtdError {
        MtdError::new(code, self.message(code))
    }

    /// This API's message for `code`.
    pub(crate) fn message(self, code: &str) -> &'static str {
        let specific = match self {
            Api::Obligations => obligations_message(code),
            Api::SelfEmployment => self_employment_message(code),
            Api::Property => property_message(code),
            Api::Eops => eops_message(code),
            Api::Calculations => calculations_message(code),
            Api::BusinessDetails => business_details_message(code),
            Api::Platform => None,
        };
        specific
            .or_else(|| platform_message(code))
            .unwrap_or(FALLBACK_MESSAGE)
    }
}

/// The message of a code no catalogue knows (never expected; a unit test checks every code the
/// endpoints use has a real message).
const FALLBACK_MESSAGE: &str = "An internal server error occurred";

/// Messages shared by every API and the platform gateway.
fn platform_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "INVALID_REQUEST" => "Invalid request",
        "MISSING_CREDENTIALS" => "Authentication information is not provided",
        "INVALID_CREDENTIALS" => "Invalid Authentication information provided",
        "INCORRECT_ACCESS_TOKEN_TYPE" => {
            "The access token type used is not supported when invoking the API"
        }
        "UNAUTHORIZED" => "Bearer token is missing or not authorized",
        "INVALID_SCOPE" => {
            "Cannot access the required resource. Ensure this token has all the required scopes."
        }
        "RESOURCE_FORBIDDEN" => "The application is not subscribed to this API",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        "METHOD_NOT_ALLOWED" => "The request method is not supported for this resource",
        "ACCEPT_HEADER_INVALID" => "The accept header is missing or invalid",
        "NOT_FOUND" => "The requested resource could not be found",
        "INVALID_BODY_TYPE" => "Expecting text/json or application/json body",
        "MESSAGE_THROTTLED_OUT" => {
            "The request for the API is throttled as you have exceeded your quota."
        }
        "INTERNAL_SERVER_ERROR" => "An internal server error occurred",
        "NOT_IMPLEMENTED" => "The API is not implemented",
        "BAD_GATEWAY" => "Bad gateway",
        "SERVER_ERROR" => "Service unavailable",
        "SCHEDULED_MAINTENANCE" => "The API is unavailable due to scheduled maintenance",
        "GATEWAY_TIMEOUT" => "The request has timed out",
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED" => "An empty or non-matching body was submitted",
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_TAX_YEAR" => "The provided tax year is invalid",
        "FORMAT_BUSINESS_ID" => "The provided Business ID is invalid",
        "FORMAT_TYPE_OF_BUSINESS" => "The provided type of business is invalid",
        "FORMAT_DATE" => "The supplied date format is not valid",
        "FORMAT_ACCOUNTING_TYPE" => "The provided accounting type is invalid",
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The tax year specified does not lie within the supported range"
        }
        "RULE_TAX_YEAR_RANGE_INVALID" => "A tax year range of one year is required",
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client or agent is not authorised",
        _ => return None,
    })
}

fn obligations_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_TAX_YEAR" => "The provided tax year is invalid",
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The tax year specified does not lie within the supported range"
        }
        "RULE_TAX_YEAR_RANGE_INVALID" => "A tax year range of one year is required",
        "FORMAT_TYPE_OF_BUSINESS" => "The provided typeOfBusiness field is invalid",
        "FORMAT_BUSINESS_ID" => "The provided businessId is invalid",
        "FORMAT_FROM_DATE" => "The provided fromDate is invalid",
        "FORMAT_TO_DATE" => "The provided toDate is invalid",
        "FORMAT_STATUS" => "The provided status is invalid",
        "MISSING_FROM_DATE" => "The From date parameter is missing",
        "MISSING_TO_DATE" => "The To date parameter is missing",
        "RANGE_TO_DATE_BEFORE_FROM_DATE" => "The To date must be after the From date",
        "MISSING_TYPE_OF_BUSINESS" => {
            "The type of business query parameter must be provided when an incomeSourceId is supplied"
        }
        "RULE_DATE_RANGE_INVALID" => "The specified date range is invalid",
        "RULE_FROM_DATE_NOT_SUPPORTED" => "The specified From date is not supported as too early",
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        "NO_OBLIGATIONS_FOUND" => "No obligations found using this filter",
        "RULE_INSOLVENT_TRADER" => "The remote endpoint has indicated that the Trader is insolvent",
        _ => return None,
    })
}

fn self_employment_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "FORMAT_NINO" => "The NINO format is invalid",
        "FORMAT_BUSINESS_ID" => "The Business ID format is invalid",
        "FORMAT_TAX_YEAR" => "The taxYear format is invalid",
        "FORMAT_VALUE" => "The value must be between 0 and 99999999999.99",
        "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED" => "An empty or non-matching body was submitted",
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The tax year specified does not lie within the supported range"
        }
        "RULE_ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE" => {
            "For advance submission end date must be the end of the period"
        }
        "RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS" => {
            "Submission end date cannot be earlier than existing submission"
        }
        "RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE" => {
            "Start date does not align to the reporting type"
        }
        "RULE_START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE" => {
            "Start date does not align to the commencement date"
        }
        "RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE" => {
            "End date does not align to the reporting type"
        }
        "RULE_MISSING_SUBMISSION_DATES" => "Submission start/end date not provided",
        "RULE_START_AND_END_DATE_NOT_ALLOWED" => {
            "Start/end date not accepted for annual/latent submission"
        }
        "RULE_OUTSIDE_AMENDMENT_WINDOW" => "You are outside the amendment window",
        "RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED" => {
            "Cannot submit data more than 10 days before end of Period"
        }
        "RULE_TAX_YEAR_RANGE_INVALID" => "A tax year range of one year is required",
        "RULE_BUILDING_NAME_NUMBER" => {
            "Postcode must be supplied along with at least one of name or number"
        }
        "FORMAT_STRING" => "The supplied string format is not valid",
        "RULE_BOTH_ALLOWANCES_SUPPLIED" => {
            "Both allowances and trading allowances must not be present at the same time"
        }
        "RULE_ALLOWANCE_NOT_SUPPORTED" => {
            "One or more of supplied allowances (electricChargePointAllowance, zeroEmissionsCarAllowance, structuredBuildingAllowance, enhancedStructuredBuildingAllowance) is not supported for the supplied tax year"
        }
        "FORMAT_DATE" => "The supplied date format is not valid",
        "FORMAT_CLASS_4_EXEMPTION_REASON" => {
            "The format of the supplied Class 4 National Insurance exemption reason is not valid"
        }
        "FORMAT_START_DATE" => "The provided Start date is invalid",
        "FORMAT_END_DATE" => "The provided End date is invalid",
        "RULE_END_DATE_BEFORE_START_DATE" => {
            "The supplied accounting period end date is before the start date"
        }
        "RULE_BOTH_EXPENSES_SUPPLIED" => {
            "Both expenses and consolidatedExpenses can not be present at the same time"
        }
        "RULE_OVERLAPPING_PERIOD" => {
            "Period summary overlaps with any of the existing period summaries"
        }
        "RULE_MISALIGNED_PERIOD" => "Period summary is not within the accounting period",
        "RULE_NOT_CONTIGUOUS_PERIOD" => "Period summaries are not contiguous",
        "RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES" => {
            "Consolidated expenses are not allowed if the accumulative turnover amount exceeds the threshold"
        }
        "RULE_OVERLAP_RELIEF_USED_NOT_ALLOWED" => {
            "The overlapReliefUsed field is not applicable for this tax year"
        }
        "RULE_DUPLICATE_SUBMISSION" => {
            "A summary has already been submitted for the period specified"
        }
        "FORMAT_PERIOD_ID" => "The provided Period ID is invalid",
        "RULE_BUSINESS_INCOME_PERIOD_RESTRICTION" => {
            "For customers with ITSA status 'Annual' or a latent business income source, submission period has to be 6 April to 5 April"
        }
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "RULE_WRONG_TPA_AMOUNT_SUBMITTED" => {
            "Transition profit acceleration value cannot be submitted without a transition profit value"
        }
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        "NO_BUSINESS_FOUND" => "No business found for given NINO and Business ID",
        _ => return None,
    })
}

fn property_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_TAX_YEAR" => "The provided tax year is invalid",
        "FORMAT_BUSINESS_ID" => "The provided Business ID is invalid",
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The specified tax year is not supported. The tax year specified is before the minimum tax year value"
        }
        "RULE_TAX_YEAR_RANGE_INVALID" => {
            "Tax year range invalid. A tax year range of one year is required"
        }
        "RULE_TYPE_OF_BUSINESS_INCORRECT" => "The businessId is for a different type of business",
        "FORMAT_VALUE" => "The value must be between 0 and 99999999999.99",
        "FORMAT_DATE" => "The supplied date format is not valid",
        "FORMAT_STRING" => "The supplied string format is not valid",
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED" => "An empty or non-matching body was submitted",
        "RULE_BOTH_ALLOWANCES_SUPPLIED" => {
            "Both allowances and property allowances must not be present at the same time"
        }
        "RULE_BUILDING_NAME_NUMBER" => {
            "Postcode must be supplied along with at least one of name or number"
        }
        "RULE_PROPERTY_INCOME_ALLOWANCE" => {
            "The propertyIncomeAllowance cannot be submitted if privateUseAdjustment is supplied"
        }
        "RULE_BOTH_EXPENSES_SUPPLIED" => {
            "Both expenses and consolidatedExpenses can not be present at the same time"
        }
        "FORMAT_FROM_DATE" => "The provided From date is invalid",
        "FORMAT_TO_DATE" => "The provided To date is invalid",
        "RULE_TO_DATE_BEFORE_FROM_DATE" => "The To date cannot be earlier than the From date",
        "RULE_OVERLAPPING_PERIOD" => {
            "Period summary overlaps with any of the existing period summaries"
        }
        "RULE_MISALIGNED_PERIOD" => "Period summary is not within the accounting period",
        "RULE_NOT_CONTIGUOUS_PERIOD" => "Period summaries are not contiguous",
        "RULE_DUPLICATE_SUBMISSION" => {
            "A summary has already been submitted for the period specified"
        }
        "FORMAT_SUBMISSION_ID" => "The provided Submission ID is invalid",
        "RULE_ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE" => {
            "For advance submission, end date must be the end of the period"
        }
        "RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS" => {
            "Submission end date cannot be earlier than existing submission"
        }
        "RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE" => {
            "Start date does not align with the reporting type"
        }
        "RULE_START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE" => {
            "Start date does not align with the commencement date"
        }
        "RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE" => {
            "End date does not align with the reporting type"
        }
        "RULE_MISSING_SUBMISSION_DATES" => "Submission start/end date not provided",
        "RULE_START_AND_END_DATE_NOT_ALLOWED" => {
            "Start/end date not accepted for annual/latent submission"
        }
        "RULE_OUTSIDE_AMENDMENT_WINDOW" => "You are outside the amendment window",
        "RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED" => {
            "Cannot submit data more than 10 days before end of period"
        }
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client and/or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        _ => return None,
    })
}

fn eops_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_START_DATE" => "The provided Start date is invalid",
        "FORMAT_END_DATE" => "The provided End date is invalid",
        "FORMAT_TYPE_OF_BUSINESS" => "The provided type of business is invalid",
        "FORMAT_BUSINESS_ID" => "The supplied business ID is invalid",
        "FORMAT_FINALISED" => "Finalised must be set to \"true\"",
        "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED" => "An empty or non-matching body was submitted",
        "RULE_END_DATE_BEFORE_START_DATE" => "The End date must be after the Start date",
        "RULE_ALREADY_SUBMITTED" => {
            "An End of Period Statement already exists for this business' accounting period"
        }
        "RULE_EARLY_SUBMISSION" => {
            "An End Of Period Statement cannot be submitted before the end of the accounting period"
        }
        "RULE_LATE_SUBMISSION" => "The period to finalise has passed",
        "RULE_NON_MATCHING_PERIOD" => {
            "An End of Period Statement without a matching accounting period cannot be submitted"
        }
        "RULE_BUSINESS_VALIDATION_FAILURE" => {
            "UK Property - UK Property - Property Income Allowance claimed cannot exceed turnover. Please amend and resubmit"
        }
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The tax year specified does not lie within the supported range"
        }
        "RULE_BUSINESS_INCOME_PERIOD_RESTRICTION" => {
            "For customers with ITSA status 'Annual' or a latent business income source, submission period has to be 6 April to 5 April"
        }
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client and/or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        _ => return None,
    })
}

fn calculations_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_TAX_YEAR" => "The provided tax year is invalid",
        "FORMAT_CALCULATION_TYPE" => "The provided calculation type is not valid",
        "RULE_OUTSIDE_AMENDMENT_WINDOW" => "You are outside the amendment window",
        "FORMAT_FINAL_DECLARATION" => "The provided finalDeclaration is invalid",
        "RULE_TAX_YEAR_NOT_SUPPORTED" => {
            "The tax year specified does not lie within the supported range"
        }
        "RULE_TAX_YEAR_RANGE_INVALID" => {
            "Tax year range invalid. A tax year range of one year is required"
        }
        "FORMAT_CALCULATION_ID" => "The provided calculationId is invalid",
        "RULE_NO_INCOME_SUBMISSIONS_EXIST" => "No income submissions exist for the tax year",
        "RULE_FINAL_DECLARATION_RECEIVED" => "Final declaration has already been received",
        "RULE_INCOME_SOURCES_CHANGED" => {
            "Income sources data has changed. Trigger a new calculation"
        }
        "RULE_RECENT_SUBMISSIONS_EXIST" => {
            "More recent submissions exist. Trigger a new calculation"
        }
        "RULE_RESIDENCY_CHANGED" => "Residency has changed. Trigger a new calculation",
        "RULE_INCOME_SOURCES_INVALID" => "No valid income sources could be found",
        "RULE_SUBMISSION_FAILED" => "The submission cannot be completed due to validation failures",
        "RULE_FINAL_DECLARATION_TAX_YEAR" => {
            "The final declaration cannot be submitted until after the end of the tax year"
        }
        "RULE_FINAL_DECLARATION_IN_PROGRESS" => {
            "There is a calculation in progress for the tax year"
        }
        "RULE_TAX_YEAR_NOT_ENDED" => "The specified tax year has not yet ended",
        "RULE_CALCULATION_IN_PROGRESS" => {
            "A calculation is in progress. Please wait before triggering a new calculation"
        }
        "RULE_BUSINESS_VALIDATION_FAILURE" => "Business validation rule failures",
        "RULE_CALCULATION_TYPE_NOT_ALLOWED" => {
            "The provided calculation type is not applicable for this tax year"
        }
        "RULE_DECLARATION_NOT_RECEIVED" => "The final declaration has not been received",
        "RULE_PREMATURE_FINALISATION" => {
            "Finalisation cannot occur until after the end of the tax year"
        }
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client and/or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        _ => return None,
    })
}

fn business_details_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "FORMAT_NINO" => "The provided NINO is invalid",
        "FORMAT_BUSINESS_ID" => "The provided Business ID is invalid",
        "FORMAT_TAX_YEAR" => "The provided tax year is invalid",
        "RULE_INCORRECT_GOV_TEST_SCENARIO" => "The supplied Gov-Test-Scenario is not valid",
        "CLIENT_OR_AGENT_NOT_AUTHORISED" => "The client or agent is not authorised",
        "MATCHING_RESOURCE_NOT_FOUND" => "Matching resource not found",
        "NO_BUSINESS_FOUND" => "No business found for given NINO and Business ID",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_error_is_sent_alone() {
        let (status, body) = error_body(vec![Api::SelfEmployment.error("FORMAT_NINO")]);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"code": "FORMAT_NINO", "message": "The NINO format is invalid"})
        );
    }

    #[test]
    fn several_errors_are_wrapped_sorted_and_merged_by_message() {
        let errors = vec![
            Api::SelfEmployment.error("RULE_BOTH_EXPENSES_SUPPLIED"),
            MtdError::value_range("/periodIncome/turnover", "0", "99999999999.99"),
            Api::SelfEmployment.error("FORMAT_BUSINESS_ID"),
            MtdError::value_range("/periodIncome/other", "0", "99999999999.99"),
        ];
        let (status, body) = error_body(errors);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({
                "code": "INVALID_REQUEST",
                "message": "Invalid request",
                "errors": [
                    {"code": "FORMAT_BUSINESS_ID", "message": "The Business ID format is invalid"},
                    {"code": "FORMAT_VALUE", "message": "The value must be between 0 and 99999999999.99",
                     "paths": ["/periodIncome/turnover", "/periodIncome/other"]},
                    {"code": "RULE_BOTH_EXPENSES_SUPPLIED",
                     "message": "Both expenses and consolidatedExpenses can not be present at the same time"}
                ]
            })
        );
    }

    #[test]
    fn merged_errors_with_a_pathless_member_lose_their_paths() {
        let errors = vec![
            Api::SelfEmployment.error("FORMAT_VALUE").with_path("/a"),
            Api::SelfEmployment.error("FORMAT_VALUE"),
        ];
        let (_, body) = error_body(errors);
        assert_eq!(
            body,
            json!({"code": "FORMAT_VALUE", "message": "The value must be between 0 and 99999999999.99"})
        );
    }

    #[test]
    fn every_scenario_error_has_a_message_of_its_api() {
        for ep in crate::mtd::ENDPOINTS {
            for (name, scenario) in ep.scenarios {
                if let crate::http::Scenario::Error(code) = scenario {
                    assert_ne!(
                        ep.api.message(code),
                        FALLBACK_MESSAGE,
                        "{} {name} -> {code}",
                        ep.id
                    );
                }
            }
        }
    }

    #[test]
    fn statuses_follow_the_code() {
        assert_eq!(
            Api::Obligations.error("NO_OBLIGATIONS_FOUND").status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            Api::Calculations
                .error("CLIENT_OR_AGENT_NOT_AUTHORISED")
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            Api::Platform.error("MESSAGE_THROTTLED_OUT").status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
