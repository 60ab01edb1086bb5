//! PostgreSQL: SSLRequest, then (in TLS when the server offers it) a StartupMessage for user
//! and database `medsurface`, and the server's first answers; no password, no query.
//!
//! `AuthenticationOk` → `db.auth_required = false` (trust: an unknown user was let in);
//! any other authentication request → `true`; an ErrorResponse before authentication → only
//! the product (see `medsurface_proto::db::postgres`). `db.version` only when `server_version`
//! arrives in a ParameterStatus. The probe ends the session at once: Terminate once the server
//! is past authentication, and a plain close while it waits for a password (PostgreSQL logs an
//! error for any message other than a password there, and nothing for a client that leaves).
//!
//! TLS certificates are not verified (a scanner records what the server presents and sends
//! nothing secret); the TLS facts themselves are the TLS probe's business, not recorded here.

use medsurface_model::Details;
use medsurface_proto::db::postgres::{self as pg, Message, Next, Session, SslAnswer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{profile_port, read_until, record_other, write_before, Budget, ReadEnd};
use crate::probes::inspect_tls::{connector, Alpn};
use crate::probes::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

/// The user and database named in the StartupMessage: the scanner names itself.
pub const STARTUP_NAME: &str = "medsurface";

#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresProbe;

impl Probe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "postgresql")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// Runs the PostgreSQL probe on a connected stream.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    if !write_before(stream, &pg::SSL_REQUEST, budget.next_wait()).await {
        return ProbeOutput {
            protocol: None,
            details,
        };
    }
    let mut buf = Vec::new();
    read_until(stream, &mut buf, 1, budget.next_wait(), |b| !b.is_empty()).await;
    let session = match pg::read_ssl_answer(&buf) {
        Ok(Some(SslAnswer::Unwilling)) => Some(startup(stream, &budget).await),
        Ok(Some(SslAnswer::Willing)) => match tls(stream, &budget).await {
            // The startup then runs inside TLS.
            Some(mut tls_stream) => {
                let session = startup(&mut tls_stream, &budget).await;
                // close_notify, so the server sees a clean end rather than a reset.
                let _ = timeout_at(budget.next_wait(), tls_stream.shutdown()).await;
                Some(session)
            }
            None => None,
        },
        // An ErrorResponse instead of an answer: PostgreSQL refusing us (or too old for
        // SSLRequest). Read it whole before believing it.
        Ok(Some(SslAnswer::Error)) => {
            read_until(
                stream,
                &mut buf,
                pg::MESSAGE_LIMIT,
                budget.next_wait(),
                |b| !matches!(pg::read_message(b, pg::MESSAGE_LIMIT), Ok(None)),
            )
            .await;
            let mut session = Session::new();
            if let Ok(Some((message, _))) = pg::read_message(&buf, pg::MESSAGE_LIMIT) {
                session.observe(&message);
            }
            Some(session)
        }
        Ok(None) | Err(_) => None,
    };
    // A lone `N` or `S` byte is not enough to name PostgreSQL: a backend message must follow.
    let Some(session) = session.filter(|s| s.heard) else {
        record_other(&mut details, &buf, ctx);
        return ProbeOutput {
            protocol: None,
            details,
        };
    };
    session.facts.write(&mut details);
    ProbeOutput {
        protocol: Some("postgresql".to_string()),
        details,
    }
}

/// Sends the StartupMessage and folds the answers until the verdict is known.
async fn startup<S>(stream: &mut S, budget: &Budget) -> Session
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut session = Session::new();
    let startup = pg::startup_message(STARTUP_NAME, STARTUP_NAME);
    if !write_before(stream, &startup, budget.next_wait()).await {
        return session;
    }
    let mut buf = Vec::new();
    let mut at = 0;
    let mut past_auth = false;
    'session: loop {
        let read = read_until(
            stream,
            &mut buf,
            at + pg::MESSAGE_LIMIT,
            budget.next_wait(),
            |b| !matches!(pg::read_message(&b[at..], pg::MESSAGE_LIMIT), Ok(None)),
        )
        .await;
        // Fold every complete message that arrived.
        loop {
            match pg::read_message(&buf[at..], pg::MESSAGE_LIMIT) {
                Ok(Some((message, used))) => {
                    at += used;
                    past_auth |= message == Message::Authentication(0);
                    let next = session.observe(&message);
                    if matches!(message, Message::ErrorResponse { .. }) {
                        // The server closes after a FATAL error: nothing to terminate.
                        return session;
                    }
                    if next == Next::Stop {
                        break 'session;
                    }
                }
                Ok(None) => break,
                Err(_) => break 'session,
            }
        }
        if read != ReadEnd::Done {
            break;
        }
        // Keep the buffer small: drop what was read.
        buf.drain(..at);
        at = 0;
    }
    if past_auth {
        let _ = write_before(stream, &pg::TERMINATE, budget.next_wait()).await;
    }
    session
}

/// Runs TLS over the stream after the server said `S`. `None`: the handshake failed.
async fn tls<'s>(
    stream: &'s mut TcpStream,
    budget: &Budget,
) -> Option<tokio_rustls::client::TlsStream<&'s mut TcpStream>> {
    let connector = connector(Alpn::None)?;
    let name = ServerName::IpAddress(stream.peer_addr().ok()?.ip().into());
    match timeout_at(budget.next_wait(), connector.connect(name, stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => None,
    }
}
