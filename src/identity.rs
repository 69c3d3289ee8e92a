//! Who the user is. The app sits behind the platform's own authentication: in `mtd serve` the
//! platform's proxy (or gateway) puts the authenticated user's id in a trusted header
//! (`X-Mtd-User` by default) and requests without it are refused with 401; in `mtd dev` and
//! `mtd demo` one fixed demo user is used.
//!
//! The header must be set (and any copy sent by the client removed) by the component that
//! authenticates users; the app trusts it as it is.

use http::{HeaderMap, HeaderName};

/// How the app learns the user id of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// From a header set by the platform's authentication layer.
    TrustedHeader(HeaderName),
    /// Always this user (dev and demo).
    Fixed(String),
}

/// The longest user id accepted from the trusted header.
pub const MAX_USER_ID_LEN: usize = 200;

/// Why a request has no usable user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The trusted header is absent.
    #[error(
        "no authenticated user: the {0} header set by the platform's authentication is missing"
    )]
    Missing(HeaderName),
    /// The header is empty, too long or not printable ASCII.
    #[error("the {0} header must hold a user id of 1 to 200 printable ASCII characters")]
    Invalid(HeaderName),
}

impl Identity {
    /// The user id of a request.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderName};
    /// use mtd::identity::Identity;
    /// let identity = Identity::TrustedHeader(HeaderName::from_static("x-mtd-user"));
    /// let mut headers = HeaderMap::new();
    /// assert!(identity.user(&headers).is_err());
    /// headers.insert("x-mtd-user", "user-42".parse().unwrap());
    /// assert_eq!(identity.user(&headers).unwrap(), "user-42");
    /// ```
    pub fn user(&self, headers: &HeaderMap) -> Result<String, IdentityError> {
        match self {
            Identity::Fixed(user) => Ok(user.clone()),
            Identity::TrustedHeader(name) => {
                let value = headers
                    .get(name)
                    .ok_or_else(|| IdentityError::Missing(name.clone()))?;
                let text = value
                    .to_str()
                    .map_err(|_| IdentityError::Invalid(name.clone()))?
                    .trim();
                let printable = text.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
                if text.is_empty() || text.len() > MAX_USER_ID_LEN || !printable {
                    return Err(IdentityError::Invalid(name.clone()));
                }
                Ok(text.to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_identity_ignores_headers() {
        let identity = Identity::Fixed("demo-user".into());
        let mut headers = HeaderMap::new();
        headers.insert("x-mtd-user", "someone-else".parse().unwrap());
        assert_eq!(identity.user(&headers).unwrap(), "demo-user");
    }

    #[test]
    fn the_trusted_header_must_hold_a_plausible_user_id() {
        let name = HeaderName::from_static("x-mtd-user");
        let identity = Identity::TrustedHeader(name.clone());
        let mut headers = HeaderMap::new();
        assert_eq!(
            identity.user(&headers),
            Err(IdentityError::Missing(name.clone()))
        );
        headers.insert("x-mtd-user", "   ".parse().unwrap());
        assert_eq!(
            identity.user(&headers),
            Err(IdentityError::Invalid(name.clone()))
        );
        headers.insert("x-mtd-user", "x".repeat(201).parse().unwrap());
        assert_eq!(identity.user(&headers), Err(IdentityError::Invalid(name)));
    }
}
