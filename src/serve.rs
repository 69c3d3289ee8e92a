//! `mtd serve`: production wiring. Inngest Cloud (or a Dev Server, or self-hosted Inngest),
//! HMRC sandbox or production, your database, no embedded services. Settings are checked in
//! order (Inngest, HMRC, database and keys, identity, fraud-prevention values) and the first
//! problem stops the start with a message naming the flag and the environment variable.
//! Secrets are never printed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use hmrc_mtd::{
    ApiConfig, ClientSecret, Endpoints, Environment, MtdClient, OAuthClient, OAuthConfig,
};
use http::HeaderName;
use inngest::{Inngest, Mode};
use mtd_functions::{CredentialLister, Deps, ScheduledRefresh, VendorInfo};
use mtd_store::{Keyring, Store, StoreConfig};
use sha2::{Digest, Sha256};
use url::Url;

use crate::app::{App, AppSettings};
use crate::capture::{CaptureSettings, ClientAddress, MfaSource};
use crate::cli::ServeArgs;
use crate::host;
use crate::identity::Identity;

/// A setting that is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A required setting is missing.
    #[error("{what} is required: set {env} (or pass {flag})")]
    Missing {
        /// The flag.
        flag: &'static str,
        /// The environment variable.
        env: &'static str,
        /// What it is.
        what: &'static str,
    },
    /// A setting has a wrong value (the value is not repeated: it may be secret).
    #[error("{env} (--{flag}) is invalid: {message}")]
    Invalid {
        /// The flag, without dashes.
        flag: &'static str,
        /// The environment variable.
        env: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The Inngest client refused its configuration.
    #[error("Inngest: {0}")]
    Inngest(#[from] inngest::ConfigError),
    /// The HMRC clients could not be built.
    #[error("HMRC: {0}")]
    Hmrc(String),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] mtd_store::StoreError),
    /// The functions could not be configured.
    #[error("functions: {0}")]
    Functions(#[from] inngest::FunctionConfigError),
    /// The address could not be bound, or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Everything `serve` needs, checked.
#[derive(Debug)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Inngest client.
    pub inngest: Inngest,
    /// HMRC OAuth client.
    pub oauth: OAuthClient,
    /// HMRC API client.
    pub hmrc: MtdClient,
    /// Store settings.
    pub store: StoreConfig,
    /// This product and server.
    pub vendor: VendorInfo,
    /// HTTP settings.
    pub settings: AppSettings,
    /// The cron schedule of the scheduled obligations refresh (`None`: off).
    pub refresh_cron: Option<String>,
}

fn invalid(flag: &'static str, env: &'static str, message: impl Into<String>) -> ServeError {
    ServeError::Invalid {
        flag,
        env,
        message: message.into(),
    }
}

fn required<'a, T: std::ops::Deref<Target = str>>(
    value: &'a Option<T>,
    flag: &'static str,
    env: &'static str,
    what: &'static str,
) -> Result<&'a str, ServeError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ServeError::Missing { flag, env, what })
}

fn url_setting(value: &str, flag: &'static str, env: &'static str) -> Result<Url, ServeError> {
    let url = Url::parse(value).map_err(|e| invalid(flag, env, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(flag, env, "must be an http(s) URL"));
    }
    Ok(url)
}

fn header_name(
    value: &str,
    flag: &'static str,
    env: &'static str,
) -> Result<HeaderName, ServeError> {
    HeaderName::from_bytes(value.trim().as_bytes())
        .map_err(|_| invalid(flag, env, format!("{value:?} is not an HTTP header name")))
}

/// `key=value[,key=value...]`.
fn pairs(
    value: &str,
    flag: &'static str,
    env: &'static str,
) -> Result<BTreeMap<String, String>, ServeError> {
    let mut out = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| invalid(flag, env, "expected software=value[,software=value...]"))?;
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    if out.is_empty() {
        return Err(invalid(
            flag,
            env,
            "expected software=value[,software=value...]",
        ));
    }
    Ok(out)
}

/// The Inngest client from the flags (which clap also reads from `INNGEST_*`).
pub fn inngest_client(args: &ServeArgs) -> Result<Inngest, ServeError> {
    let mut builder = Inngest::builder(args.inngest_app_id.clone())
        .without_env()
        .app_version(env!("CARGO_PKG_VERSION"));
    match args.inngest_dev.as_deref().map(str::trim) {
        None | Some("") => {}
        Some(v) if v.eq_ignore_ascii_case("0") || v.eq_ignore_ascii_case("false") => {
            builder = builder.mode(Mode::Cloud);
        }
        Some(v) if v.eq_ignore_ascii_case("1") || v.eq_ignore_ascii_case("true") => {
            builder = builder.dev();
        }
        Some(url) => {
            url_setting(url, "inngest-dev", "INNGEST_DEV")?;
            builder = builder.dev_server(url);
        }
    }
    fn set<T: std::ops::Deref<Target = str>>(v: &Option<T>) -> Option<String> {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
    if let Some(v) = set(&args.inngest_signing_key) {
        builder = builder.signing_key(v);
    }
    if let Some(v) = set(&args.inngest_signing_key_fallback) {
        builder = builder.signing_key_fallback(v);
    }
    if let Some(v) = set(&args.inngest_event_key) {
        builder = builder.event_key(v);
    }
    if let Some(v) = set(&args.inngest_env) {
        builder = builder.env(v);
    }
    if let Some(v) = set(&args.inngest_base_url) {
        builder = builder.base_url(v);
    }
    if let Some(v) = set(&args.inngest_api_base_url) {
        builder = builder.api_base_url(v);
    }
    if let Some(v) = set(&args.inngest_event_api_base_url) {
        builder = builder.event_api_base_url(v);
    }
    if let Some(v) = set(&args.inngest_serve_origin) {
        builder = builder.serve_origin(v);
    }
    if let Some(v) = set(&args.inngest_serve_path) {
        builder = builder.serve_path(v);
    }
    if let Some(v) = set(&args.inngest_allow_in_band_sync) {
        let allow = match v.to_ascii_lowercase().as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => {
                return Err(invalid(
                    "inngest-allow-in-band-sync",
                    "INNGEST_ALLOW_IN_BAND_SYNC",
                    "expected true or false",
                ));
            }
        };
        builder = builder.allow_in_band_sync(allow);
    }
    Ok(builder.build()?)
}

/// A device id for batch work that stays the same on this machine: from `/etc/machine-id`
/// (hashed, so the machine id itself is not sent), else random.
fn stable_device_id() -> String {
    let seed = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    match seed {
        Some(seed) => {
            let digest = Sha256::digest(format!("mtd batch device\0{seed}").as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        }
        None => {
            tracing::warn!(
                "no MTD_VENDOR_DEVICE_ID and no /etc/machine-id: the batch device id changes on every start; set MTD_VENDOR_DEVICE_ID"
            );
            uuid::Uuid::new_v4().to_string()
        }
    }
}

/// Checks every setting, in order.
pub fn config(args: &ServeArgs) -> Result<ServeConfig, ServeError> {
    let inngest = inngest_client(args)?;

    let env = match required(
        &args.hmrc_env,
        "--hmrc-env",
        "HMRC_ENV",
        "the HMRC environment (sandbox or production)",
    )?
    .to_ascii_lowercase()
    .as_str()
    {
        "sandbox" => Environment::Sandbox,
        "production" => Environment::Production,
        _ => {
            return Err(invalid(
                "hmrc-env",
                "HMRC_ENV",
                "expected sandbox or production",
            ));
        }
    };
    let client_id = required(
        &args.hmrc_client_id,
        "--hmrc-client-id",
        "HMRC_CLIENT_ID",
        "the HMRC client ID",
    )?;
    let client_secret = required(
        &args.hmrc_client_secret,
        "--hmrc-client-secret",
        "HMRC_CLIENT_SECRET",
        "the HMRC client secret",
    )?;
    let redirect = url_setting(
        required(
            &args.hmrc_redirect_uri,
            "--hmrc-redirect-uri",
            "HMRC_REDIRECT_URI",
            "the HMRC redirect URI (this app's /hmrc/callback)",
        )?,
        "hmrc-redirect-uri",
        "HMRC_REDIRECT_URI",
    )?;
    if !redirect.path().ends_with("/hmrc/callback") {
        return Err(invalid(
            "hmrc-redirect-uri",
            "HMRC_REDIRECT_URI",
            "must be this app's public URL of /hmrc/callback (and registered for the application at HMRC)",
        ));
    }
    let loopback = matches!(
        redirect.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]")
    );
    if redirect.scheme() != "https" && !loopback {
        return Err(invalid(
            "hmrc-redirect-uri",
            "HMRC_REDIRECT_URI",
            "must be https (HMRC allows plain http only for localhost)",
        ));
    }
    let mut endpoints: Endpoints = env.endpoints();
    if let Some(v) = args
        .hmrc_api_base_url
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        let mut url = url_setting(v.trim(), "hmrc-api-base-url", "HMRC_API_BASE_URL")?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        endpoints.api_base = url;
    }
    if let Some(v) = args
        .hmrc_authorize_url
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        endpoints.authorize_url =
            url_setting(v.trim(), "hmrc-authorize-url", "HMRC_AUTHORIZE_URL")?;
    }
    if let Some(v) = args
        .hmrc_token_url
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        endpoints.token_url = url_setting(v.trim(), "hmrc-token-url", "HMRC_TOKEN_URL")?;
    }
    let oauth = OAuthClient::new(OAuthConfig::new(
        endpoints.clone(),
        client_id,
        ClientSecret::new(client_secret),
        redirect.clone(),
    ))
    .map_err(|e| ServeError::Hmrc(e.to_string()))?;
    let hmrc =
        MtdClient::new(ApiConfig::new(endpoints)).map_err(|e| ServeError::Hmrc(e.to_string()))?;

    let database = required(
        &args.database_url,
        "--database-url",
        "DATABASE_URL",
        "the database (a SQLite path or a postgres:// URL)",
    )?;
    let keys = required(
        &args.token_keys,
        "--token-keys",
        "MTD_TOKEN_KEYS",
        "the token-encryption keyring (id:base64key[,oldid:base64key])",
    )?;
    let keyring = Keyring::from_spec(keys)
        .map_err(|e| invalid("token-keys", "MTD_TOKEN_KEYS", e.to_string()))?;

    let identity = Identity::TrustedHeader(header_name(
        &args.user_header,
        "user-header",
        "MTD_USER_HEADER",
    )?);
    let mfa = MfaSource::Header(header_name(
        &args.mfa_header,
        "mfa-header",
        "MTD_MFA_HEADER",
    )?);
    let client_address = match args
        .client_ip_header
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        None => ClientAddress::Peer,
        Some(name) => {
            if args.trusted_proxy_hops == 0 {
                return Err(invalid(
                    "trusted-proxy-hops",
                    "MTD_TRUSTED_PROXY_HOPS",
                    "must be at least 1",
                ));
            }
            ClientAddress::Header {
                ip_header: header_name(name, "client-ip-header", "MTD_CLIENT_IP_HEADER")?,
                port_header: args
                    .client_port_header
                    .as_deref()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| header_name(v, "client-port-header", "MTD_CLIENT_PORT_HEADER"))
                    .transpose()?,
                hops: args.trusted_proxy_hops,
            }
        }
    };

    let product = args.vendor_product_name.trim();
    if product.is_empty() {
        return Err(invalid(
            "vendor-product-name",
            "MTD_VENDOR_PRODUCT_NAME",
            "must not be empty",
        ));
    }
    let public_ip: IpAddr = required(
        &args.vendor_public_ip,
        "--vendor-public-ip",
        "MTD_VENDOR_PUBLIC_IP",
        "the public IP users' browsers connect to (Gov-Vendor-Public-IP)",
    )?
    .parse()
    .map_err(|_| {
        invalid(
            "vendor-public-ip",
            "MTD_VENDOR_PUBLIC_IP",
            "not an IP address",
        )
    })?;
    let software = software_key(product);
    let mut vendor =
        VendorInfo::new(software.clone(), env!("CARGO_PKG_VERSION")).public_ip(public_ip);
    vendor.product_name = product.to_owned();
    if let Some(v) = args
        .vendor_version
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        vendor.versions = pairs(v, "vendor-version", "MTD_VENDOR_VERSION")?;
    }
    if let Some(v) = args
        .vendor_license_ids
        .as_deref()
        .filter(|v| !v.trim().is_empty())
    {
        for (name, key) in pairs(v, "vendor-license-ids", "MTD_VENDOR_LICENSE_IDS")? {
            vendor = vendor.license_id(name, key);
        }
    }
    let device_id = match args
        .vendor_device_id
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(id) => uuid::Uuid::try_parse(id)
            .map_err(|_| invalid("vendor-device-id", "MTD_VENDOR_DEVICE_ID", "must be a UUID"))?
            .to_string(),
        None => stable_device_id(),
    };
    let description = host::describe();
    vendor = vendor.batch_server(
        device_id,
        description.local_ips,
        description.mac_addresses,
        description.user_agent,
        description.os_user,
    );

    let refresh_cron = match args.obligations_refresh_cron.trim() {
        "" | "off" => None,
        cron => Some(cron.to_owned()),
    };

    Ok(ServeConfig {
        listen: args.listen,
        refresh_cron,
        inngest,
        oauth,
        hmrc,
        store: StoreConfig::new(database).keyring(keyring),
        settings: AppSettings {
            identity,
            capture: CaptureSettings {
                vendor: vendor.clone(),
                user_id_key: software,
                client_address,
                mfa,
            },
            secure_cookies: redirect.scheme() == "https",
        },
        vendor,
    })
}

/// The key of the product in `Gov-Client-User-IDs` and `Gov-Vendor-Version`: the product name
/// in lower case with anything but letters and digits turned into `-`.
pub fn software_key(product: &str) -> String {
    let key: String = product
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let key = key.trim_matches('-').to_owned();
    if key.is_empty() {
        "mtd".to_owned()
    } else {
        key
    }
}

/// Opens the store, serves until Ctrl-C or SIGTERM.
pub async fn run(config: ServeConfig) -> Result<(), ServeError> {
    let store = Store::open(config.store).await?;
    let mut deps = Deps::new(
        store.clone(),
        config.hmrc,
        config.oauth.clone(),
        config.vendor,
    );
    if let Some(cron) = config.refresh_cron {
        deps = deps.scheduled_refresh(ScheduledRefresh::new(
            cron,
            CredentialLister::active(store.clone()),
        ));
    }
    let functions = mtd_functions::functions(deps)?;
    let mode = config.inngest.config().mode();
    let app = App::new(store.clone(), config.inngest, config.oauth, config.settings);
    let router = app.router(functions);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Serve {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Serve {
        addr: config.listen,
        source,
    })?;
    tracing::info!(%addr, mode = mode.as_str(), "mtd serve listening; Inngest serve endpoint at /api/inngest");
    println!(
        "mtd serve: listening on http://{addr} (Inngest serve endpoint /api/inngest, {} mode)",
        mode.as_str()
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|source| ServeError::Serve { addr, source })?;
    store.close().await;
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["mtd", "serve"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    const KEY: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn complete() -> Vec<&'static str> {
        vec![
            "--inngest-signing-key",
            "signkey-test-12345678",
            "--hmrc-env",
            "sandbox",
            "--hmrc-client-id",
            "id",
            "--hmrc-client-secret",
            "top-secret",
            "--hmrc-redirect-uri",
            "https://app.example.com/hmrc/callback",
            "--database-url",
            "/tmp/x.db",
            "--token-keys",
            KEY,
            "--vendor-public-ip",
            "203.0.113.6",
        ]
    }

    #[test]
    fn a_complete_configuration_is_accepted_and_cookies_are_secure_over_https() {
        let config = config(&args(&complete())).unwrap();
        assert!(config.settings.secure_cookies);
        assert_eq!(config.inngest.config().mode(), Mode::Cloud);
        let shown = format!("{config:?}");
        assert!(!shown.contains("top-secret"), "{shown}");
        assert!(!shown.contains("signkey-test-12345678"), "{shown}");
    }

    #[test]
    fn settings_are_checked_in_order_and_name_the_variable() {
        let mut argv = complete();
        argv.drain(0..2);
        let err = config(&args(&argv)).unwrap_err().to_string();
        assert!(err.contains("INNGEST_SIGNING_KEY"), "{err}");

        let mut argv = complete();
        let i = argv.iter().position(|a| *a == "--token-keys").unwrap();
        argv.drain(i..i + 2);
        let err = config(&args(&argv)).unwrap_err().to_string();
        assert!(err.contains("MTD_TOKEN_KEYS"), "{err}");

        let mut argv = complete();
        let i = argv
            .iter()
            .position(|a| *a == "--hmrc-redirect-uri")
            .unwrap();
        argv[i + 1] = "http://app.example.com/hmrc/callback";
        let err = config(&args(&argv)).unwrap_err().to_string();
        assert!(err.contains("must be https"), "{err}");
    }

    #[test]
    fn a_bad_secret_value_is_not_repeated_in_the_error() {
        let mut argv = complete();
        let i = argv.iter().position(|a| *a == "--token-keys").unwrap();
        argv[i + 1] = "not-a-keyring-secret-material";
        let err = config(&args(&argv)).unwrap_err().to_string();
        assert!(err.contains("MTD_TOKEN_KEYS"), "{err}");
        assert!(!err.contains("not-a-keyring-secret-material"), "{err}");
    }

    #[test]
    fn software_keys_are_simple_names() {
        assert_eq!(software_key("My Tax App"), "my-tax-app");
        assert_eq!(software_key("  "), "mtd");
    }
}
