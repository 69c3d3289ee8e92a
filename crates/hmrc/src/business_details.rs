//! Flow: list businesses (Business Details API v2.0), to find the `businessId`s the other
//! flows need: `GET /individuals/business/details/{nino}/list`.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::{
    client::{Api, ApiRequest, CallContext, MtdClient, Response},
    error::Error,
    ids::{BusinessId, Nino},
    types::TypeOfBusiness,
};

/// One business income source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessSummary {
    /// `self-employment`, `uk-property`, `foreign-property` or `property-unspecified`.
    pub type_of_business: TypeOfBusiness,
    /// Its ID.
    pub business_id: BusinessId,
    /// The trade, e.g. `Plastering` (self-employment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_type: Option<String>,
    /// The trading name (self-employment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_name: Option<String>,
}

/// The answer to [`MtdClient::list_businesses`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessList {
    /// Every business income source of the customer.
    pub list_of_businesses: Vec<BusinessSummary>,
}

impl BusinessList {
    /// The businesses of one type.
    pub fn of_type<'a>(
        &'a self,
        kind: &'a TypeOfBusiness,
    ) -> impl Iterator<Item = &'a BusinessSummary> + 'a {
        self.list_of_businesses
            .iter()
            .filter(move |b| &b.type_of_business == kind)
    }
}

impl MtdClient {
    /// Lists the customer's businesses, Business Details API v2.0:
    /// `GET /individuals/business/details/{nino}/list`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino) -> Result<(), Error> {
    /// let businesses = client.list_businesses(&call, &nino).await?;
    /// for b in businesses.body.of_type(&TypeOfBusiness::SelfEmployment) {
    ///     println!("{} {}", b.business_id, b.trading_name.as_deref().unwrap_or("(no name)"));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_businesses(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
    ) -> Result<Response<BusinessList>, Error> {
        let request = ApiRequest::new(
            Api::BusinessDetails,
            Method::GET,
            "list all businesses",
            vec!["individuals", "business", "details", nino.as_str(), "list"],
        );
        self.send(call, request).await?.json()
    }
}
