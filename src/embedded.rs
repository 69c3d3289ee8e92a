//! The embedded defaults of `mtd dev`, `mtd demo` and the end-to-end tests: the HMRC
//! simulator (with a seeded test user and this app registered), the local Inngest engine, a
//! SQLite store under a data directory (with a dev token-encryption key kept there, mode
//! 0600), and the app's HTTP server, all on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmrc_mtd::fraud::{MfaKind, MultiFactor};
use hmrc_mtd::{ApiConfig, ClientSecret, Endpoints, MtdClient, OAuthClient, OAuthConfig};
use hmrc_sandbox::{NewApplication, NewBusiness, NewTestUser, RunningSandbox, Sandbox};
use inngest::Inngest;
use inngest_local::{Engine, RunningEngine};
use mtd_functions::{Deps, Settings, VendorInfo};
use mtd_store::{CredentialStatus, EncryptionKey, Keyring, Store, StoreConfig};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{App, AppSettings};
use crate::capture::{CaptureSettings, ClientAddress, MfaSource};
use crate::host;
use crate::identity::Identity;

/// The Inngest app id (function ids are `mtd-<function id>`).
pub const APP_ID: &str = "mtd";
/// The platform user of `mtd dev` and `mtd demo`.
pub const DEMO_USER: &str = "demo-user";

/// The seeded HMRC test user: a Government Gateway sign-in with a self-employment and a UK
/// property business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoHmrcUser {
    /// The Government Gateway user ID typed on HMRC's sign-in page.
    pub gateway_user_id: String,
    /// Its password (a test credential of the local simulator).
    pub password: String,
    /// The National Insurance number.
    pub nino: String,
    /// The self-employment business id.
    pub self_employment_id: String,
    /// The UK property business id.
    pub uk_property_id: String,
}

impl Default for DemoHmrcUser {
    fn default() -> Self {
        Self {
            gateway_user_id: "mtd-demo".into(),
            password: "mtd-demo-password".into(),
            nino: "AA123456A".into(),
            self_employment_id: "XAIS12345678910".into(),
            uk_property_id: "XPIS12345678910".into(),
        }
    }
}

/// How to start the embedded stack.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// App port (0 = any free port).
    pub app_port: u16,
    /// Engine port (0 = any).
    pub engine_port: u16,
    /// HMRC simulator port (0 = any).
    pub hmrc_port: u16,
    /// Directory of the SQLite database and dev keys.
    pub data_dir: PathBuf,
    /// Engine time runs this many times faster than wall time.
    pub time_scale: f64,
    /// How long the simulator keeps a triggered calculation in progress.
    pub calculation_delay: Duration,
    /// The simulator's requests per second per client (`None`: no limit).
    pub rate_limit: Option<u32>,
    /// Where the client's address comes from.
    pub client_address: ClientAddress,
    /// `Gov-Vendor-Public-IP`.
    pub vendor_public_ip: IpAddr,
    /// Step retries of the functions.
    pub retries: u32,
    /// Who the user is (the demo user by default).
    pub identity: Identity,
}

impl EmbeddedOptions {
    /// Ephemeral ports, compressed time, a quick simulator (no rate limit, 20 ms calculations:
    /// the functions poll a calculation on engine time, which runs 600 times faster).
    pub fn demo(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            app_port: 0,
            engine_port: 0,
            hmrc_port: 0,
            data_dir: data_dir.into(),
            time_scale: 600.0,
            calculation_delay: Duration::from_millis(20),
            rate_limit: None,
            client_address: ClientAddress::Peer,
            vendor_public_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            retries: 4,
            identity: Identity::Fixed(DEMO_USER.into()),
        }
    }

    /// Fixed ports, real time, HMRC's rate limit (3/s) and a 2 s calculation.
    pub fn dev(data_dir: impl Into<PathBuf>, app: u16, engine: u16, hmrc: u16) -> Self {
        Self {
            app_port: app,
            engine_port: engine,
            hmrc_port: hmrc,
            time_scale: 1.0,
            calculation_delay: Duration::from_secs(2),
            rate_limit: Some(3),
            ..Self::demo(data_dir)
        }
    }
}

/// Why the embedded stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The data directory or a key file could not be used.
    #[error("{path}: {message}")]
    DataDir {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The app's port could not be bound.
    #[error(
        "cannot listen on {addr} for the app: {source}; pick another --port or stop what uses it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HMRC simulator did not start.
    #[error("the HMRC simulator did not start: {0}")]
    Sandbox(#[from] hmrc_sandbox::SandboxError),
    /// The local engine did not start.
    #[error("the local Inngest engine did not start: {0}")]
    Engine(#[from] inngest_local::EngineError),
    /// The engine could not sync the app.
    #[error("the local Inngest engine could not sync the app at {url}: {message}")]
    Sync {
        /// The serve URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The store did not open.
    #[error("the database did not open: {0}")]
    Store(#[from] mtd_store::StoreError),
    /// A client could not be configured.
    #[error("could not configure {what}: {message}")]
    Config {
        /// Which client.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// The running stack.
#[derive(Debug)]
pub struct Embedded {
    /// The app's base URL, e.g. `http://127.0.0.1:3000`.
    pub app_url: String,
    /// The HMRC simulator (its admin handle switches faults, revokes grants, …).
    pub sandbox: RunningSandbox,
    /// The local Inngest engine (its run history shows attempts and outcomes).
    pub engine: RunningEngine,
    /// The store the app uses.
    pub store: Store,
    /// The app.
    pub app: App,
    /// The seeded HMRC test user.
    pub hmrc_user: DemoHmrcUser,
    server: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl Embedded {
    /// Starts everything and syncs the app with the engine.
    pub async fn start(options: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let keyring = dev_keyring(&options.data_dir)?;
        let device_id = dev_device_id(&options.data_dir)?;

        let app_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), options.app_port);
        let listener = tokio::net::TcpListener::bind(app_addr)
            .await
            .map_err(|source| EmbeddedError::Bind {
                addr: app_addr,
                source,
            })?;
        let app_addr = listener
            .local_addr()
            .map_err(|source| EmbeddedError::Bind {
                addr: app_addr,
                source,
            })?;
        let app_url = format!("http://{app_addr}");
        let redirect_uri = format!("{app_url}/hmrc/callback");

        let hmrc_user = DemoHmrcUser::default();
        let client_id = "mtd-dev";
        let client_secret = random_hex(16);
        let sandbox = Sandbox::builder()
            .port(options.hmrc_port)
            .application(NewApplication {
                name: Some("MTD (local)".into()),
                ..NewApplication::new(client_id, client_secret.clone(), redirect_uri.clone())
            })
            .user(
                NewTestUser::default()
                    .credentials(&hmrc_user.gateway_user_id, &hmrc_user.password)
                    .nino(&hmrc_user.nino)
                    .businesses(vec![
                        NewBusiness::self_employment().with_id(&hmrc_user.self_employment_id),
                        NewBusiness::uk_property().with_id(&hmrc_user.uk_property_id),
                    ]),
            )
            .calculation_delay(options.calculation_delay)
            .rate_limit(options.rate_limit)
            .start()
            .await?;

        let engine = Engine::builder()
            .bind(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                options.engine_port,
            ))
            .time_scale(options.time_scale)
            .no_poll()
            .start()
            .await?;

        let db = options.data_dir.join("mtd.db");
        let store = Store::open(StoreConfig::new(db.to_string_lossy()).keyring(keyring)).await?;
        forget_simulator_grants(&store).await?;

        let config =
            |what: &'static str| move |e: String| EmbeddedError::Config { what, message: e };
        let inngest = Inngest::builder(APP_ID)
            .without_env()
            .dev_server(engine.url())
            .app_version(env!("CARGO_PKG_VERSION"))
            .build()
            .map_err(|e| config("the Inngest client")(e.to_string()))?;
        let base: url::Url = sandbox
            .url()
            .parse()
            .map_err(|e: url::ParseError| config("the HMRC client")(e.to_string()))?;
        let endpoints = Endpoints::local(base);
        let redirect: url::Url = redirect_uri
            .parse()
            .map_err(|e: url::ParseError| config("the HMRC client")(e.to_string()))?;
        let oauth = OAuthClient::new(OAuthConfig::new(
            endpoints.clone(),
            client_id,
            ClientSecret::new(client_secret),
            redirect,
        ))
        .map_err(|e| config("the HMRC OAuth client")(e.to_string()))?;
        let hmrc = MtdClient::new(ApiConfig::new(endpoints))
            .map_err(|e| config("the HMRC API client")(e.to_string()))?;

        let description = host::describe();
        let vendor = VendorInfo::new(APP_ID, env!("CARGO_PKG_VERSION"))
            .license_id(APP_ID, sha256_hex("mtd local development licence"))
            .public_ip(options.vendor_public_ip)
            .batch_server(
                device_id,
                description.local_ips,
                description.mac_addresses,
                description.user_agent,
                description.os_user,
            );
        let mut settings = Settings::default();
        settings.retries = options.retries;
        let deps = Deps::new(store.clone(), hmrc, oauth.clone(), vendor.clone()).settings(settings);
        let functions = mtd_functions::functions(deps)
            .map_err(|e| config("the Inngest functions")(e.to_string()))?;

        let app = App::new(
            store.clone(),
            inngest,
            oauth,
            AppSettings {
                identity: options.identity.clone(),
                capture: CaptureSettings {
                    vendor,
                    user_id_key: APP_ID.into(),
                    client_address: options.client_address.clone(),
                    mfa: MfaSource::Fixed(vec![demo_mfa(Utc::now())]),
                },
                secure_cookies: false,
            },
        );
        let router = app.router(functions);
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
        });

        let serve_url = format!("{app_url}/api/inngest");
        let mut last_error = String::new();
        let mut synced = false;
        for _ in 0..20 {
            match engine.sync_app(&serve_url).await {
                Ok(_) => {
                    synced = true;
                    break;
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if !synced {
            return Err(EmbeddedError::Sync {
                url: serve_url,
                message: last_error,
            });
        }

        Ok(Self {
            app_url,
            sandbox,
            engine,
            store,
            app,
            hmrc_user,
            server: Some((tx, server)),
        })
    }

    /// Stops the engine (no new calls), then the app, the simulator and the store.
    pub async fn shutdown(self) {
        let Embedded {
            sandbox,
            engine,
            store,
            server,
            ..
        } = self;
        engine.shutdown().await;
        if let Some((tx, task)) = server {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if let Err(err) = sandbox.shutdown().await {
            tracing::warn!("the HMRC simulator did not stop cleanly: {err}");
        }
        store.close().await;
    }
}

/// The demo user's MFA into the platform (there is no real platform sign-in in dev): one TOTP
/// factor passed when the stack started.
fn demo_mfa(at: DateTime<Utc>) -> MultiFactor {
    MultiFactor {
        kind: MfaKind::Totp,
        timestamp: at,
        unique_reference: sha256_hex("mtd demo user TOTP factor"),
    }
}

/// A credential stored by an earlier run holds tokens of an earlier simulator, which forgot
/// them when it stopped: mark them expired so the dashboard offers to reconnect.
async fn forget_simulator_grants(store: &Store) -> Result<(), mtd_store::StoreError> {
    for credential in store.credentials().list_for_user(DEMO_USER).await? {
        if credential.status == CredentialStatus::Active {
            store
                .credentials()
                .expire_unless_replaced(
                    credential.id,
                    credential.version,
                    "the embedded HMRC simulator was restarted and no longer knows this grant",
                )
                .await?;
        }
    }
    Ok(())
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn data_error(path: &Path, message: impl Into<String>) -> EmbeddedError {
    EmbeddedError::DataDir {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Creates the data directory (mode 0700 on Unix) if needed.
fn ensure_dir(dir: &Path) -> Result<(), EmbeddedError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| data_error(dir, format!("cannot create the data directory: {e}")))
}

/// Reads a private file, or creates it with `make()` (mode 0600 on Unix). A file that other
/// users can read is refused.
fn private_file(
    path: &Path,
    make: impl FnOnce() -> Result<String, EmbeddedError>,
) -> Result<String, EmbeddedError> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    match std::fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(data_error(
                        path,
                        format!(
                            "holds a secret but other users may read it (mode {mode:o}); run `chmod 600` on it"
                        ),
                    ));
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .map_err(|e| data_error(path, format!("cannot be read: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let content = make()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|e| data_error(path, format!("cannot be created: {e}")))?;
            std::io::Write::write_all(&mut file, format!("{content}\n").as_bytes())
                .map_err(|e| data_error(path, format!("cannot be written: {e}")))?;
            Ok(content)
        }
        Err(e) => Err(data_error(path, format!("cannot be read: {e}"))),
    }
}

/// The dev token-encryption keyring kept in `<data dir>/token-keys` (a keyring spec, created
/// with a random key on first run).
pub fn dev_keyring(data_dir: &Path) -> Result<Keyring, EmbeddedError> {
    let path = data_dir.join("token-keys");
    let spec = private_file(&path, || {
        let key = EncryptionKey::generate().map_err(|e| {
            data_error(
                &data_dir.join("token-keys"),
                format!("cannot generate a key: {e}"),
            )
        })?;
        Ok(format!(
            "dev-{}:{}",
            Utc::now().format("%Y%m%d"),
            key.expose_base64().as_str()
        ))
    })?;
    Keyring::from_spec(&spec).map_err(|e| data_error(&path, format!("is not a keyring spec: {e}")))
}

/// The server's device id for batch work, kept in `<data dir>/device-id`.
fn dev_device_id(data_dir: &Path) -> Result<String, EmbeddedError> {
    let path = data_dir.join("device-id");
    let id = private_file(&path, || Ok(uuid::Uuid::new_v4().to_string()))?;
    uuid::Uuid::try_parse(&id)
        .map(|u| u.to_string())
        .map_err(|_| data_error(&path, "does not hold a UUID; delete it to get a new one"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_key_is_created_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".mtd");
        let first = dev_keyring(&data).unwrap();
        let again = dev_keyring(&data).unwrap();
        assert_eq!(first.current_key_id(), again.current_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(data.join("token-keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        dev_keyring(dir.path()).unwrap();
        let path = dir.path().join("token-keys");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = dev_keyring(dir.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn the_device_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            dev_device_id(dir.path()).unwrap(),
            dev_device_id(dir.path()).unwrap()
        );
    }
}
