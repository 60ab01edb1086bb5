//! Follow-up connections for probes, through the scan's rate limiter.
//!
//! The engine opens the first connection to every (address, port); some probes need more to the
//! same service (a DICOM probe tries a random AE title in a second association, an HTTP probe
//! follows a redirect or fetches a favicon). Those must be as gentle as the first: a [`Dialer`]
//! is the engine's way of lending its pacing, connect timeout, stop signal and zero-linger close
//! to a probe, so that every connection of a scan passes the same rate limiter.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

use crate::engine::{Pace, Pacer, StopSignal};
use crate::RateLimit;

/// Opens connections for probes, paced by the scan's rate limit.
#[derive(Clone)]
pub struct Dialer {
    inner: Arc<Inner>,
}

struct Inner {
    pacer: Arc<Pacer>,
    connect_timeout: Duration,
    stop: StopSignal,
}

impl Dialer {
    /// A dialer with no rate limit (tests, and probes run outside a scan).
    pub fn unpaced(connect_timeout: Duration) -> Dialer {
        Dialer {
            inner: Arc::new(Inner {
                pacer: Arc::new(Pacer::new(RateLimit::Unlimited)),
                connect_timeout,
                stop: StopSignal::new(),
            }),
        }
    }

    /// The engine's dialer: the scan's own pacer and stop signal.
    pub(crate) fn paced(pacer: Arc<Pacer>, connect_timeout: Duration, stop: StopSignal) -> Dialer {
        Dialer {
            inner: Arc::new(Inner {
                pacer,
                connect_timeout,
                stop,
            }),
        }
    }

    /// The stop signal of the scan this dialer belongs to (never given for an unpaced one).
    pub fn stop_signal(&self) -> StopSignal {
        self.inner.stop.clone()
    }

    /// Waits for the rate limiter, then connects within the scan's connect timeout. The socket
    /// closes with a reset (no TIME_WAIT), like the engine's own.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        if self.inner.pacer.ready(&self.inner.stop).await == Pace::Stopped {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the scan is stopping",
            ));
        }
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        let stream = tokio::time::timeout(self.inner.connect_timeout, socket.connect(addr))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let _ = stream.set_zero_linger();
        Ok(stream)
    }
}

impl Default for Dialer {
    fn default() -> Dialer {
        Dialer::unpaced(Duration::from_millis(1500))
    }
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialer")
            .field("connect_timeout", &self.inner.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Two contexts are equal when they share the same dialer.
impl PartialEq for Dialer {
    fn eq(&self, other: &Dialer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Dialer {}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn paced_dialer_waits_for_the_rate_limit() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { while listener.accept().await.is_ok() {} });
        let rate = RateLimit::PerSecond(NonZeroU32::new(20).unwrap());
        let dialer = Dialer::paced(
            Arc::new(Pacer::new(rate)),
            Duration::from_secs(2),
            StopSignal::new(),
        );
        let started = Instant::now();
        for _ in 0..6 {
            dialer.connect(addr).await.unwrap();
        }
        // 20/s with a burst of 1: the sixth connection cannot come before 5 intervals (250 ms).
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_stopped_scan_dials_nothing() {
        let stop = StopSignal::new();
        let rate = RateLimit::PerSecond(NonZeroU32::new(1).unwrap());
        let dialer = Dialer::paced(
            Arc::new(Pacer::new(rate)),
            Duration::from_secs(1),
            stop.clone(),
        );
        stop.stop();
        let err = dialer
            .connect("127.0.0.1:9".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
    }

    #[test]
    fn dialers_compare_by_identity() {
        let a = Dialer::default();
        assert_eq!(a, a.clone());
        assert_ne!(a, Dialer::default());
    }
}
