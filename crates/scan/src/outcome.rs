//! How a failed connection attempt becomes an [`Outcome`] and a short, stable reason.
//!
//! Failures are data (habit 4): every attempt ends in one outcome of the closed set, and
//! unreachable or error outcomes carry the errno's name (`EHOSTUNREACH`, `EADDRNOTAVAIL`, …)
//! so that results can be counted and compared across machines and locales. The mapping looks
//! at the OS error number first and the [`io::ErrorKind`] second; it never reads the text of an
//! error message, which varies by platform and language.

use std::borrow::Cow;
use std::io;

use medsurface_model::Outcome;

/// An outcome with the reason to record for it (only unreachable and error outcomes have one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    pub reason: Option<Cow<'static, str>>,
}

/// Maps a connection error to its outcome by errno, then by kind.
pub fn classify_io_error(err: &io::Error) -> Classified {
    if let Some(code) = err.raw_os_error() {
        let outcome = match code {
            libc::ECONNREFUSED => Outcome::Closed,
            libc::ETIMEDOUT => Outcome::Filtered,
            libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ENETDOWN => {
                Outcome::Unreachable
            }
            _ => Outcome::Error,
        };
        let reason = match outcome {
            Outcome::Unreachable | Outcome::Error => Some(match errno_name(code) {
                Some(name) => Cow::Borrowed(name),
                None => Cow::Owned(format!("errno-{code}")),
            }),
            _ => None,
        };
        return Classified { outcome, reason };
    }
    let (outcome, reason) = match err.kind() {
        io::ErrorKind::ConnectionRefused => (Outcome::Closed, None),
        io::ErrorKind::TimedOut => (Outcome::Filtered, None),
        io::ErrorKind::HostUnreachable => (Outcome::Unreachable, Some("EHOSTUNREACH")),
        io::ErrorKind::NetworkUnreachable => (Outcome::Unreachable, Some("ENETUNREACH")),
        io::ErrorKind::NetworkDown => (Outcome::Unreachable, Some("ENETDOWN")),
        io::ErrorKind::AddrNotAvailable => (Outcome::Error, Some("EADDRNOTAVAIL")),
        io::ErrorKind::PermissionDenied => (Outcome::Error, Some("EACCES")),
        io::ErrorKind::ConnectionReset => (Outcome::Error, Some("ECONNRESET")),
        io::ErrorKind::OutOfMemory => (Outcome::Error, Some("ENOMEM")),
        _ => (Outcome::Error, Some("io-error")),
    };
    Classified {
        outcome,
        reason: reason.map(Cow::Borrowed),
    }
}

/// The symbolic name of an errno that a connect, read or socket call can return.
pub fn errno_name(code: i32) -> Option<&'static str> {
    Some(match code {
        libc::EACCES => "EACCES",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EAGAIN => "EAGAIN",
        libc::EALREADY => "EALREADY",
        libc::EBADF => "EBADF",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EINTR => "EINTR",
        libc::EINVAL => "EINVAL",
        libc::EIO => "EIO",
        libc::EISCONN => "EISCONN",
        libc::EMFILE => "EMFILE",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETRESET => "ENETRESET",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::ENOTCONN => "ENOTCONN",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPERM => "EPERM",
        libc::EPIPE => "EPIPE",
        libc::EPROTO => "EPROTO",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> Classified {
        classify_io_error(&io::Error::from_raw_os_error(code))
    }

    #[test]
    fn errno_decides() {
        assert_eq!(os(libc::ECONNREFUSED).outcome, Outcome::Closed);
        assert_eq!(os(libc::ECONNREFUSED).reason, None);
        assert_eq!(os(libc::ETIMEDOUT).outcome, Outcome::Filtered);
        for code in [
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::EHOSTDOWN,
            libc::ENETDOWN,
        ] {
            let c = os(code);
            assert_eq!(c.outcome, Outcome::Unreachable);
            assert_eq!(c.reason.as_deref(), errno_name(code));
        }
        let c = os(libc::EADDRNOTAVAIL);
        assert_eq!(
            (c.outcome, c.reason.as_deref()),
            (Outcome::Error, Some("EADDRNOTAVAIL"))
        );
        assert_eq!(os(libc::EMFILE).reason.as_deref(), Some("EMFILE"));
        assert_eq!(os(9999).reason.as_deref(), Some("errno-9999"));
    }

    #[test]
    fn kind_decides_without_errno_and_message_text_is_ignored() {
        let lying = io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "host unreachable, timed out",
        );
        assert_eq!(classify_io_error(&lying).outcome, Outcome::Closed);
        let t = io::Error::new(io::ErrorKind::TimedOut, "connection refused");
        assert_eq!(classify_io_error(&t).outcome, Outcome::Filtered);
        let u = io::Error::from(io::ErrorKind::HostUnreachable);
        assert_eq!(classify_io_error(&u).outcome, Outcome::Unreachable);
        let n = io::Error::from(io::ErrorKind::NetworkUnreachable);
        assert_eq!(classify_io_error(&n).reason.as_deref(), Some("ENETUNREACH"));
        let other = io::Error::other("whatever");
        assert_eq!(classify_io_error(&other).outcome, Outcome::Error);
    }
}
