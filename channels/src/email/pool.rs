//! A pool of SMTP connections on sockets with `TCP_NODELAY`.
//!
//! lettre writes a message body and its final `.` as two writes; on a socket with Nagle's
//! algorithm on, the second waits for the server's delayed ACK (~40 ms), capping each
//! connection at ~25 messages a second. lettre's own pool cannot set the option, so this pool
//! opens the sockets itself and uses lettre's protocol implementation on them
//! (`AsyncSmtpConnection`). Implicit TLS (port 465) is the exception: lettre must open those.
//! Messages go out pipelined where the server allows it ([`super::pipeline`]).

use super::pipeline::Connection;
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How a connection is secured.
#[derive(Clone)]
pub(crate) enum Security {
    /// Plain text (local relays).
    None,
    /// STARTTLS, required or only when offered.
    StartTls {
        params: TlsParameters,
        required: bool,
    },
    /// TLS from the first byte.
    Implicit(TlsParameters),
}

/// Why a send failed: the server's answer, or no connection at all.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// lettre's error: a reply from the server or a protocol/network failure.
    Smtp(SmtpError),
    /// We could not open a connection.
    Connect(String),
}

impl From<SmtpError> for PoolError {
    fn from(e: SmtpError) -> Self {
        PoolError::Smtp(e)
    }
}

/// Connections idle longer than this are closed rather than reused (servers drop idle
/// sessions after a few minutes).
const MAX_IDLE: Duration = Duration::from_secs(50);

pub(crate) struct Pool {
    host: String,
    port: u16,
    timeout: Duration,
    hello: ClientId,
    security: Security,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(Connection, Instant)>>,
    slots: Semaphore,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({}:{})", self.host, self.port)
    }
}

impl Pool {
    pub(crate) fn new(
        host: String,
        port: u16,
        timeout: Duration,
        hello: ClientId,
        security: Security,
        credentials: Option<Credentials>,
        size: usize,
    ) -> Self {
        Pool {
            host,
            port,
            timeout,
            hello,
            security,
            credentials,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(size.max(1)),
        }
    }

    /// Opens, greets, secures and authenticates a new connection.
    pub(crate) async fn connect(&self) -> Result<Connection, PoolError> {
        let mut conn = match &self.security {
            Security::Implicit(params) => {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(params.clone()),
                    None,
                )
                .await?
            }
            _ => {
                let connect = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
                let stream = tokio::time::timeout(self.timeout, connect)
                    .await
                    .map_err(|_| {
                        PoolError::Connect(format!(
                            "connecting to {}:{} timed out",
                            self.host, self.port
                        ))
                    })?
                    .map_err(|e| PoolError::Connect(format!("{}:{}: {e}", self.host, self.port)))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| PoolError::Connect(e.to_string()))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
        };
        if let Security::StartTls { params, required } = &self.security {
            if conn.can_starttls() {
                conn.starttls(params.clone(), &self.hello).await?;
            } else if *required {
                conn.abort().await;
                return Err(PoolError::Connect(
                    "the server does not offer STARTTLS, and security = \"starttls\" requires it"
                        .into(),
                ));
            }
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await?;
        }
        Ok(Connection::new(conn, &self.hello).await?)
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE {
                return Some(conn);
            }
            // Too old to trust; dropping closes the socket.
        }
        None
    }

    fn put_back(&self, conn: Connection) {
        if !conn.has_broken() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((conn, Instant::now()));
        }
    }

    /// Sends one message, reusing an idle connection when there is one. A reused connection
    /// that turns out to be dead (the server closed it) is replaced once.
    pub(crate) async fn send(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, PoolError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| PoolError::Connect("the pool is closed".into()))?;
        if let Some(mut conn) = self.take_idle() {
            match conn.send(envelope, message).await {
                Ok(r) => {
                    self.put_back(conn);
                    return Ok(r);
                }
                // The server answered: that is the outcome (lettre has closed the connection).
                Err(e) if e.is_transient() || e.is_permanent() => return Err(PoolError::Smtp(e)),
                // No answer: the idle connection was dead; try a fresh one below.
                Err(_) => {}
            }
        }
        let mut conn = self.connect().await?;
        let response = conn.send(envelope, message).await?;
        self.put_back(conn);
        Ok(response)
    }
}
