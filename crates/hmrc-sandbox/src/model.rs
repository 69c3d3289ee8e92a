//! The sandbox's public data model: test users, their businesses and registered applications.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::TaxYear;
use crate::secret::Secret;

/// The kind of a business income source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusinessType {
    /// A sole-trader business.
    SelfEmployment,
    /// A UK property business.
    UkProperty,
    /// A foreign property business.
    ForeignProperty,
    /// A property business whose type is not yet known.
    PropertyUnspecified,
}

impl BusinessType {
    /// The wire name (`self-employment`, `uk-property`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BusinessType::SelfEmployment => "self-employment",
            BusinessType::UkProperty => "uk-property",
            BusinessType::ForeignProperty => "foreign-property",
            BusinessType::PropertyUnspecified => "property-unspecified",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "self-employment" => BusinessType::SelfEmployment,
            "uk-property" => BusinessType::UkProperty,
            "foreign-property" => BusinessType::ForeignProperty,
            "property-unspecified" => BusinessType::PropertyUnspecified,
            _ => return None,
        })
    }

    /// The second letter HMRC's test business IDs use for this type.
    pub(crate) fn id_letter(self) -> char {
        match self {
            BusinessType::SelfEmployment => 'A',
            BusinessType::UkProperty => 'P',
            BusinessType::ForeignProperty => 'F',
            BusinessType::PropertyUnspecified => 'U',
        }
    }
}

/// A business income source of a test user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    /// `X?IS` + 11 digits.
    pub business_id: String,
    /// What kind of business it is.
    pub type_of_business: BusinessType,
    /// Trading name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_name: Option<String>,
    /// When trading started; obligations and accounting periods start no earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commencement_date: Option<NaiveDate>,
}

/// A business to add to a test user; a missing `businessId` is generated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBusiness {
    /// The business ID to use; generated when absent.
    #[serde(default)]
    pub business_id: Option<String>,
    /// The business type.
    pub type_of_business: Option<BusinessType>,
    /// Trading name.
    #[serde(default)]
    pub trading_name: Option<String>,
    /// Commencement date.
    #[serde(default)]
    pub commencement_date: Option<NaiveDate>,
}

impl NewBusiness {
    /// A self-employment with a generated ID.
    pub fn self_employment() -> Self {
        Self {
            type_of_business: Some(BusinessType::SelfEmployment),
            ..Self::default()
        }
    }

    /// A UK property business with a generated ID.
    pub fn uk_property() -> Self {
        Self {
            type_of_business: Some(BusinessType::UkProperty),
            ..Self::default()
        }
    }

    /// Uses a fixed business ID.
    pub fn with_id(mut self, business_id: impl Into<String>) -> Self {
        self.business_id = Some(business_id.into());
        self
    }
}

/// A test user: a Government Gateway sign-in (user ID and password) enrolled for MTD Income Tax.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The Government Gateway user ID used to sign in on the authorise page.
    pub user_id: String,
    /// The sign-in password.
    pub password: Secret,
    /// National Insurance number.
    pub nino: String,
    /// MTD Income Tax ID.
    pub mtd_it_id: String,
    /// Self Assessment UTR.
    pub sa_utr: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Business income sources.
    pub businesses: Vec<Business>,
    /// Tax years with obligations; `None` means 2023-24 up to the current tax year.
    pub obligation_years: Option<Vec<TaxYear>>,
    /// Bumped whenever the businesses change (drives `RULE_INCOME_SOURCES_CHANGED`).
    pub(crate) sources_version: u64,
}

impl TestUser {
    /// The JSON the admin API returns for this user, password included (it is a test credential
    /// the caller needs to sign in with).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "userId": self.user_id,
            "password": self.password.expose(),
            "userFullName": format!("{} {}", self.first_name, self.last_name),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "nino": self.nino,
            "mtdItId": self.mtd_it_id,
            "saUtr": self.sa_utr,
            "businesses": self.businesses,
            "obligationYears": self.obligation_years,
        })
    }

    /// The business with this ID.
    pub fn business(&self, business_id: &str) -> Option<&Business> {
        self.businesses
            .iter()
            .find(|b| b.business_id == business_id)
    }
}

/// A test user to create; anything left out is generated (valid identifiers, a password, one
/// self-employment business).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTestUser {
    /// Government Gateway user ID.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// NINO (must pass HMRC's check).
    #[serde(default)]
    pub nino: Option<String>,
    /// MTD Income Tax ID.
    #[serde(default)]
    pub mtd_it_id: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Businesses; `None` gives one self-employment, `Some(vec![])` none.
    #[serde(default)]
    pub businesses: Option<Vec<NewBusiness>>,
    /// Tax years with obligations.
    #[serde(default)]
    pub obligation_years: Option<Vec<TaxYear>>,
}

impl NewTestUser {
    /// Sets the user ID and password.
    pub fn credentials(mut self, user_id: impl Into<String>, password: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the NINO.
    pub fn nino(mut self, nino: impl Into<String>) -> Self {
        self.nino = Some(nino.into());
        self
    }

    /// Sets the businesses.
    pub fn businesses(mut self, businesses: Vec<NewBusiness>) -> Self {
        self.businesses = Some(businesses);
        self
    }

    /// Sets the tax years that carry obligations.
    pub fn obligation_years(mut self, years: Vec<TaxYear>) -> Self {
        self.obligation_years = Some(years);
        self
    }
}

/// A registered OAuth application.
#[derive(Debug, Clone)]
pub struct Application {
    /// The client ID.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// Redirect URIs accepted by the authorise and token endpoints (at most 5).
    pub redirect_uris: Vec<String>,
    /// Display name shown on the grant page.
    pub name: String,
}

impl Application {
    /// The JSON the admin API returns, secret included (the caller registered it).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
            "redirectUris": self.redirect_uris,
            "name": self.name,
        })
    }
}

/// An application to register; a missing client ID or secret is generated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplication {
    /// Client ID.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Client secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

impl NewApplication {
    /// An application with fixed credentials and one redirect URI.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: Some(client_id.into()),
            client_secret: Some(client_secret.into()),
            redirect_uris: vec![redirect_uri.into()],
            name: None,
        }
    }
}
