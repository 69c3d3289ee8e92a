//! How the executor reaches an SDK: real HTTP ([`HttpTransport`], reqwest) or an in-process
//! [`tower::Service`] such as an `axum::Router` ([`ServiceTransport`], no sockets). The
//! executor is the same either way.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};
use tower::{Service, ServiceExt};

/// Largest answer read from an SDK (Inngest's limit is 8 MiB; a little slack).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a request to an SDK did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Connection refused, reset, DNS, TLS...
    #[error(
        "could not reach the SDK at {url}: {message}; is the app running and is the URL right?"
    )]
    Connect {
        /// Target URL.
        url: String,
        /// Cause.
        message: String,
    },
    /// No answer in time.
    #[error("the SDK at {url} did not answer within {timeout:?}")]
    Timeout {
        /// Target URL.
        url: String,
        /// Limit.
        timeout: Duration,
    },
    /// The answer could not be read.
    #[error("reading the answer from {url} failed: {message}")]
    Body {
        /// Target URL.
        url: String,
        /// Cause.
        message: String,
    },
}

/// Sends one request to an SDK and returns its answer.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` (absolute URI) and waits at most `timeout` for the whole answer.
    fn send(
        &self,
        request: Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Response<Bytes>, TransportError>>;
}

/// Real HTTP through reqwest.
#[derive(Debug, Clone, Default)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport with a fresh connection pool.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Response<Bytes>, TransportError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let url = request.uri().to_string();
            let (parts, body) = request.into_parts();
            let send = client
                .request(parts.method, &url)
                .headers(parts.headers)
                .body(body)
                .timeout(timeout)
                .send();
            let resp = send.await.map_err(|e| classify(&url, timeout, &e))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_limited(resp).await.map_err(|e| match e {
                ReadError::Http(e) => classify(&url, timeout, &e),
                ReadError::TooLarge => TransportError::Body {
                    url: url.clone(),
                    message: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                },
            })?;
            let mut out = Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

enum ReadError {
    Http(reqwest::Error),
    TooLarge,
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Bytes, ReadError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn classify(url: &str, timeout: Duration, e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout {
            url: url.to_owned(),
            timeout,
        }
    } else if e.is_body() || e.is_decode() {
        TransportError::Body {
            url: url.to_owned(),
            message: full_message(e),
        }
    } else {
        TransportError::Connect {
            url: url.to_owned(),
            message: full_message(e),
        }
    }
}

fn full_message(e: &dyn StdError) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Calls a [`tower::Service`] directly: the SDK's serve handler in the same process.
///
/// Any `axum::Router` qualifies. Requests keep their absolute URI and get a matching `Host`
/// header, as a server would see them.
pub struct ServiceTransport<S> {
    service: S,
}

impl<S> fmt::Debug for ServiceTransport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceTransport")
    }
}

impl<S> ServiceTransport<S> {
    /// Wraps a service.
    pub fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S> Transport for ServiceTransport<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn send(
        &self,
        request: Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Response<Bytes>, TransportError>> {
        let service = self.service.clone();
        Box::pin(async move {
            let url = request.uri().to_string();
            let (mut parts, body) = request.into_parts();
            if let Some(authority) = parts.uri.authority().cloned()
                && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
            {
                parts.headers.entry(http::header::HOST).or_insert(host);
            }
            let req = Request::from_parts(parts, Body::from(body));
            let call = async {
                let resp = service.oneshot(req).await.map_err(|e| {
                    let e: Box<dyn StdError + Send + Sync> = e.into();
                    TransportError::Connect {
                        url: url.clone(),
                        message: full_message(&*e),
                    }
                })?;
                let (parts, body) = resp.into_parts();
                let bytes = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
                    .await
                    .map_err(|e| TransportError::Body {
                        url: url.clone(),
                        message: full_message(&e),
                    })?;
                Ok(Response::from_parts(parts, bytes))
            };
            match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => Err(TransportError::Timeout {
                    url: url.clone(),
                    timeout,
                }),
            }
        })
    }
}
