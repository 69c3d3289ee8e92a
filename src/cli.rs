//! The command line: `mtd demo`, `mtd dev`, `mtd serve` and `mtd repair-history`.
//!
//! Every setting of `serve` is a flag and an environment variable (the flag wins). Values of
//! secret settings are never shown by `--help` or printed in errors.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Durable HMRC Making Tax Digital submissions on Inngest.
#[derive(Debug, Parser)]
#[command(name = "mtd", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole flow end to end on embedded defaults (local Inngest engine, HMRC simulator,
    /// SQLite under .mtd/) and print a report; exits 0 when every outcome is as expected.
    Demo(DemoArgs),
    /// Run the app on embedded defaults until Ctrl-C, for use in a browser.
    Dev(DevArgs),
    /// Run the app in production: Inngest Cloud (or a Dev Server / self-hosted Inngest), HMRC,
    /// and your database. No embedded services.
    Serve(Box<ServeArgs>),
    /// Find `rejected` submissions that were really authorisation failures (the history
    /// problem) and relabel them `failed`. A dry run unless --apply.
    RepairHistory(RepairArgs),
}

/// Flags of `mtd demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory of the demo's SQLite database and dev token key (created on first run).
    #[arg(long, env = "MTD_DATA_DIR", default_value = ".mtd")]
    pub data_dir: PathBuf,
    /// How many times faster than wall time the local engine's clock runs (retry backoff and
    /// sleeps).
    #[arg(long, default_value_t = 600.0)]
    pub time_scale: f64,
    /// Seconds to wait for each run before giving up.
    #[arg(long, default_value_t = 60)]
    pub run_timeout: u64,
}

/// Flags of `mtd dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port of the app (pages, HMRC connect/callback, API, Inngest serve endpoint).
    #[arg(long, env = "MTD_DEV_PORT", default_value_t = 3000)]
    pub port: u16,
    /// Port of the local Inngest engine.
    #[arg(long, env = "MTD_DEV_ENGINE_PORT", default_value_t = 8288)]
    pub engine_port: u16,
    /// Port of the HMRC simulator.
    #[arg(long, env = "MTD_DEV_HMRC_PORT", default_value_t = 9000)]
    pub hmrc_port: u16,
    /// Directory of the SQLite database and dev token key (created on first run).
    #[arg(long, env = "MTD_DATA_DIR", default_value = ".mtd")]
    pub data_dir: PathBuf,
    /// How many times faster than wall time the local engine's clock runs.
    #[arg(long, env = "MTD_DEV_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
}

/// A secret setting (a key, a client secret, a database URL that may carry a password): read
/// from a flag or the environment as text, and never shown by `Debug`, so printing the parsed
/// command line cannot leak it.
///
/// ```
/// let secret: mtd::cli::SecretArg = "signkey-prod-0123".parse().unwrap();
/// assert_eq!(format!("{secret:?}"), "[redacted]");
/// assert_eq!(&*secret, "signkey-prod-0123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretArg(String);

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::ops::Deref for SecretArg {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Flags of `mtd serve`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Server")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MTD_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Database: a SQLite file path (created on first run) or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretArg>,
    /// Token-encryption keyring, `id:base64key[,oldid:base64key...]` (the first key encrypts;
    /// 32-byte keys). Secret.
    #[arg(long, env = "MTD_TOKEN_KEYS", hide_env_values = true)]
    pub token_keys: Option<SecretArg>,

    /// Header holding the authenticated user's id, set by the platform's authentication.
    /// Requests without it are refused with 401.
    #[arg(
        long,
        env = "MTD_USER_HEADER",
        default_value = "x-mtd-user",
        help_heading = "Identity"
    )]
    pub user_header: String,
    /// Header holding the user's multi-factor sign-in in HMRC's Gov-Client-Multi-Factor format,
    /// set by the platform's authentication.
    #[arg(
        long,
        env = "MTD_MFA_HEADER",
        default_value = "x-mtd-mfa",
        help_heading = "Identity"
    )]
    pub mfa_header: String,

    /// HMRC environment: `sandbox` or `production`.
    #[arg(long, env = "HMRC_ENV", help_heading = "HMRC")]
    pub hmrc_env: Option<String>,
    /// The application's client ID (HMRC Developer Hub).
    #[arg(long, env = "HMRC_CLIENT_ID", help_heading = "HMRC")]
    pub hmrc_client_id: Option<String>,
    /// The application's client secret. Secret.
    #[arg(
        long,
        env = "HMRC_CLIENT_SECRET",
        hide_env_values = true,
        help_heading = "HMRC"
    )]
    pub hmrc_client_secret: Option<SecretArg>,
    /// The redirect URI registered for the application: this app's public
    /// `https://…/hmrc/callback`. Its scheme decides whether cookies are `Secure`.
    #[arg(long, env = "HMRC_REDIRECT_URI", help_heading = "HMRC")]
    pub hmrc_redirect_uri: Option<String>,
    /// Override of HMRC's API base URL (tests, stand-ins).
    #[arg(long, env = "HMRC_API_BASE_URL", help_heading = "HMRC")]
    pub hmrc_api_base_url: Option<String>,
    /// Override of HMRC's authorisation page URL.
    #[arg(long, env = "HMRC_AUTHORIZE_URL", help_heading = "HMRC")]
    pub hmrc_authorize_url: Option<String>,
    /// Override of HMRC's token endpoint URL.
    #[arg(long, env = "HMRC_TOKEN_URL", help_heading = "HMRC")]
    pub hmrc_token_url: Option<String>,

    /// Inngest app id (function ids are `<app id>-<function id>`).
    #[arg(
        long,
        env = "MTD_INNGEST_APP_ID",
        default_value = "mtd",
        help_heading = "Inngest"
    )]
    pub inngest_app_id: String,
    /// `1`/`true` = Dev Server mode, `0`/`false` = cloud mode (the default), or the Dev
    /// Server's URL.
    #[arg(long, env = "INNGEST_DEV", help_heading = "Inngest")]
    pub inngest_dev: Option<String>,
    /// Signing key (required in cloud mode). Secret.
    #[arg(
        long,
        env = "INNGEST_SIGNING_KEY",
        hide_env_values = true,
        help_heading = "Inngest"
    )]
    pub inngest_signing_key: Option<SecretArg>,
    /// Previous signing key, while rotating keys. Secret.
    #[arg(
        long,
        env = "INNGEST_SIGNING_KEY_FALLBACK",
        hide_env_values = true,
        help_heading = "Inngest"
    )]
    pub inngest_signing_key_fallback: Option<SecretArg>,
    /// Event key (required to send events in cloud mode). Secret.
    #[arg(
        long,
        env = "INNGEST_EVENT_KEY",
        hide_env_values = true,
        help_heading = "Inngest"
    )]
    pub inngest_event_key: Option<SecretArg>,
    /// Branch environment name.
    #[arg(long, env = "INNGEST_ENV", help_heading = "Inngest")]
    pub inngest_env: Option<String>,
    /// Origin of Inngest's API and event API (self-hosted Inngest).
    #[arg(long, env = "INNGEST_BASE_URL", help_heading = "Inngest")]
    pub inngest_base_url: Option<String>,
    /// Origin of Inngest's API.
    #[arg(long, env = "INNGEST_API_BASE_URL", help_heading = "Inngest")]
    pub inngest_api_base_url: Option<String>,
    /// Origin of Inngest's event API.
    #[arg(long, env = "INNGEST_EVENT_API_BASE_URL", help_heading = "Inngest")]
    pub inngest_event_api_base_url: Option<String>,
    /// Public origin Inngest uses to reach this app (behind proxies).
    #[arg(long, env = "INNGEST_SERVE_ORIGIN", help_heading = "Inngest")]
    pub inngest_serve_origin: Option<String>,
    /// Public path of the serve endpoint (default /api/inngest).
    #[arg(long, env = "INNGEST_SERVE_PATH", help_heading = "Inngest")]
    pub inngest_serve_path: Option<String>,
    /// Cron schedule of the scheduled obligations refresh of every active connection (sent
    /// with this server's BATCH_PROCESS_DIRECT headers); `off` disables it.
    #[arg(
        long,
        env = "MTD_OBLIGATIONS_REFRESH_CRON",
        default_value = "TZ=Europe/London 0 6 * * *",
        help_heading = "Inngest"
    )]
    pub obligations_refresh_cron: String,
    /// `false` forces out-of-band syncs.
    #[arg(long, env = "INNGEST_ALLOW_IN_BAND_SYNC", help_heading = "Inngest")]
    pub inngest_allow_in_band_sync: Option<String>,

    /// Header with the client's address set by trusted proxies (e.g. `x-forwarded-for`). Only
    /// set it when every request passes through a proxy that sets it; otherwise the TCP peer
    /// is used.
    #[arg(
        long,
        env = "MTD_CLIENT_IP_HEADER",
        help_heading = "Fraud-prevention headers"
    )]
    pub client_ip_header: Option<String>,
    /// Header with the client's source port set by the trusted proxy.
    #[arg(
        long,
        env = "MTD_CLIENT_PORT_HEADER",
        help_heading = "Fraud-prevention headers"
    )]
    pub client_port_header: Option<String>,
    /// How many trusted proxies append to the client address header.
    #[arg(
        long,
        env = "MTD_TRUSTED_PROXY_HOPS",
        default_value_t = 1,
        help_heading = "Fraud-prevention headers"
    )]
    pub trusted_proxy_hops: usize,
    /// Gov-Vendor-Product-Name.
    #[arg(
        long,
        env = "MTD_VENDOR_PRODUCT_NAME",
        default_value = "mtd",
        help_heading = "Fraud-prevention headers"
    )]
    pub vendor_product_name: String,
    /// Gov-Vendor-Version: `software=version[,software=version...]` (default `mtd=<this
    /// version>`).
    #[arg(
        long,
        env = "MTD_VENDOR_VERSION",
        help_heading = "Fraud-prevention headers"
    )]
    pub vendor_version: Option<String>,
    /// Gov-Vendor-License-IDs: `software=hashed-licence-key[,...]`.
    #[arg(
        long,
        env = "MTD_VENDOR_LICENSE_IDS",
        hide_env_values = true,
        help_heading = "Fraud-prevention headers"
    )]
    pub vendor_license_ids: Option<String>,
    /// Gov-Vendor-Public-IP: the public IP of the server or load balancer users connect to.
    #[arg(
        long,
        env = "MTD_VENDOR_PUBLIC_IP",
        help_heading = "Fraud-prevention headers"
    )]
    pub vendor_public_ip: Option<String>,
    /// Gov-Client-Device-ID of this server, for scheduled work no user started
    /// (BATCH_PROCESS_DIRECT): a UUID that stays the same across restarts.
    #[arg(
        long,
        env = "MTD_VENDOR_DEVICE_ID",
        help_heading = "Fraud-prevention headers"
    )]
    pub vendor_device_id: Option<String>,
}

/// Flags of `mtd repair-history`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Change the records (default: a dry run that only reports).
    #[arg(long)]
    pub apply: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Database: a SQLite file path or a postgres:// URL (default: the dev database).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = ".mtd/mtd.db"
    )]
    pub database_url: SecretArg,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_parsed_command_line_never_shows_its_secrets() {
        let secrets = [
            "postgres://mtd:db-password@db/mtd",
            "k1:c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nISE=",
            "hmrc-client-secret-value",
            "signkey-prod-aaaaaaaa",
            "signkey-prod-bbbbbbbb",
            "event-key-value",
        ];
        let cli = Cli::try_parse_from([
            "mtd",
            "serve",
            "--database-url",
            secrets[0],
            "--token-keys",
            secrets[1],
            "--hmrc-client-secret",
            secrets[2],
            "--inngest-signing-key",
            secrets[3],
            "--inngest-signing-key-fallback",
            secrets[4],
            "--inngest-event-key",
            secrets[5],
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.hmrc_client_secret.as_deref(), Some(secrets[2]));
    }

    #[test]
    fn repair_history_is_a_dry_run_unless_told() {
        let cli = Cli::try_parse_from(["mtd", "repair-history", "--database-url", "x.db"]).unwrap();
        let Command::RepairHistory(args) = cli.command else {
            panic!("not repair-history")
        };
        assert!(!args.apply);
        assert_eq!(&*args.database_url, "x.db");
    }
}
