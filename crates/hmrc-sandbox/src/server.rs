//! Starting and stopping the sandbox: the builder, the router, and a TCP listener whose
//! connections can be killed mid-request (for the "dropped connection" fault).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{Request, State as AxumState};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::serve::{IncomingStream, Listener};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::{self, Admin, AdminError};
use crate::clock::{Clock, OffsetClock};
use crate::http::{self, Endpoint};
use crate::model::{Application, NewApplication, NewTestUser, TestUser};
use crate::mtd::ENDPOINTS;
use crate::oauth;
use crate::state::{Settings, Shared, State};

/// Why the sandbox could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; choose another --port or stop what uses it")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A configured user or application is not acceptable.
    #[error("the sandbox configuration is not acceptable: {0}")]
    Config(#[from] AdminError),
    /// The seed file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        /// The file.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The seed file is not valid JSON of the expected shape.
    #[error("seed file {path} is not valid: {source}")]
    SeedParse {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The server stopped with an error.
    #[error("the sandbox server failed: {0}")]
    Serve(io::Error),
}

/// What `reset` restores: the users, applications and settings the sandbox started with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seed {
    pub(crate) users: Vec<TestUser>,
    pub(crate) apps: Vec<Application>,
    pub(crate) settings: Settings,
}

/// The JSON seed file: applications and test users to create at start.
///
/// ```json
/// {"applications": [{"clientId": "app", "clientSecret": "secret",
///                    "redirectUris": ["http://localhost:3000/callback"]}],
///  "users": [{"userId": "alice", "password": "pw", "nino": "AA123456A",
///             "businesses": [{"typeOfBusiness": "self-employment",
///                             "businessId": "XAIS12345678910"}]}]}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFile {
    /// Applications to register.
    #[serde(default)]
    pub applications: Vec<NewApplication>,
    /// Test users to create.
    #[serde(default)]
    pub users: Vec<NewTestUser>,
}

impl SeedFile {
    /// Reads a seed file.
    pub fn read(path: &Path) -> Result<Self, SandboxError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| SandboxError::SeedRead {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| SandboxError::SeedParse {
            path: shown,
            source,
        })
    }
}

/// The simulator. Start one with [`Sandbox::builder`].
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with HMRC's defaults: `127.0.0.1`, an ephemeral port, a real clock that tests
    /// can move, 3 requests per second per client, a 5-second calculation delay.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            clock: Arc::new(OffsetClock::default()),
            users: Vec::new(),
            apps: Vec::new(),
            settings: Settings::default(),
        }
    }
}

/// Configures and starts a [`Sandbox`].
///
/// ```no_run
/// # async fn demo() -> Result<(), hmrc_sandbox::SandboxError> {
/// use std::time::Duration;
/// use hmrc_sandbox::{NewApplication, NewTestUser, Sandbox};
///
/// let sandbox = Sandbox::builder()
///     .application(NewApplication::new("my-app", "my-secret", "http://localhost:3000/callback"))
///     .user(NewTestUser::default().credentials("alice", "password").nino("AA123456A"))
///     .calculation_delay(Duration::ZERO)
///     .rate_limit(None)
///     .start()
///     .await?;
/// println!("HMRC sandbox at {}", sandbox.url());
/// sandbox.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SandboxBuilder {
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
    users: Vec<NewTestUser>,
    apps: Vec<NewApplication>,
    settings: Settings,
}

impl SandboxBuilder {
    /// The interface to listen on (default `127.0.0.1`).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.addr.set_ip(host);
        self
    }

    /// The port (default 0: an ephemeral port).
    pub fn port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }

    /// The clock every expiry and tax-year rule is measured on.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Registers an application at start.
    pub fn application(mut self, app: NewApplication) -> Self {
        self.apps.push(app);
        self
    }

    /// Creates a test user at start.
    pub fn user(mut self, user: NewTestUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds the applications and users of a seed file.
    pub fn seed(mut self, seed: SeedFile) -> Self {
        self.apps.extend(seed.applications);
        self.users.extend(seed.users);
        self
    }

    /// How long a triggered calculation stays in progress (default 5 s, on the sandbox clock).
    pub fn calculation_delay(mut self, delay: Duration) -> Self {
        self.settings.calculation_delay = delay;
        self
    }

    /// How long a refresh holds its grant before rotating (default 0; raise it to race two
    /// refreshes deterministically).
    pub fn refresh_delay(mut self, delay: Duration) -> Self {
        self.settings.refresh_delay = delay;
        self
    }

    /// Requests per second per client ID (default 3); `None` disables the limit.
    pub fn rate_limit(mut self, limit: Option<u32>) -> Self {
        self.settings.rate_limit = limit;
        self
    }

    /// Binds the port and starts serving.
    pub async fn start(self) -> Result<RunningSandbox, SandboxError> {
        let mut state = State {
            settings: self.settings.clone(),
            ..State::default()
        };
        let now = self.clock.now();
        let mut seed = Seed {
            settings: self.settings,
            ..Seed::default()
        };
        for app in self.apps {
            seed.apps.push(admin::register_app(&mut state, app)?);
        }
        for user in self.users {
            seed.users.push(admin::create_user(&mut state, user, now)?);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            clock: self.clock,
            seed,
        });
        let tcp = TcpListener::bind(self.addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: self.addr,
                source,
            })?;
        let addr = tcp.local_addr().map_err(SandboxError::Serve)?;
        let admin = Admin {
            shared: shared.clone(),
        };
        let app = router(shared, admin.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let listener = KillableListener { inner: tcp };
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
        });
        tracing::info!(%addr, "HMRC sandbox listening");
        Ok(RunningSandbox {
            url: format!("http://{addr}"),
            addr,
            admin,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A started sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSandbox {
    url: String,
    addr: SocketAddr,
    admin: Admin,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSandbox {
    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). It stands in for both
    /// `https://test-api.service.hmrc.gov.uk` and `https://test-www.tax.service.gov.uk`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin handle.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Stops accepting connections and waits (up to 5 seconds) for open ones to finish.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(SandboxError::Serve(e)),
                Ok(Err(_)) => {}
                Err(_) => abort.abort(),
            }
        }
        Ok(())
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Builds the whole router.
fn router(shared: Arc<Shared>, admin: Admin) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Arc<Shared>>> = BTreeMap::new();
    for ep in ENDPOINTS {
        let method_router = by_path
            .remove(ep.path)
            .unwrap_or_else(|| MethodRouter::new().fallback(http::method_not_allowed));
        let filter = method_filter(ep);
        let handler = move |AxumState(shared): AxumState<Arc<Shared>>, request: Request| {
            http::dispatch(ep, shared, request)
        };
        by_path.insert(ep.path, method_router.merge(on(filter, handler)));
    }
    let mut api = Router::new();
    for (path, method_router) in by_path {
        api = api.route(path, method_router);
    }
    api.with_state(shared.clone())
        .merge(oauth::router(shared))
        .merge(admin::router(admin))
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn(http::correlation))
}

fn method_filter(ep: &Endpoint) -> MethodFilter {
    match ep.method.as_str() {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// One accepted connection, with a switch that makes it fail (and close) without answering.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    remote: SocketAddr,
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    /// Makes every further read and write on the connection fail, so the server drops it
    /// without sending the response.
    pub(crate) fn kill(&self) {
        tracing::debug!(remote = %self.remote, "dropping connection (fault)");
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener handing out killable streams.
pub(crate) struct KillableListener {
    inner: TcpListener,
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    let killed = Arc::new(AtomicBool::new(false));
                    return (
                        KillableStream {
                            inner: stream,
                            killed: killed.clone(),
                        },
                        ConnHandle { remote, killed },
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnHandle {
            remote: self.inner.local_addr()?,
            killed: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that starts failing once its connection is killed.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn dead(&self) -> Option<io::Error> {
        self.killed.load(Ordering::SeqCst).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by a fault",
            )
        })
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
