//! The probe registry: what medsurface says to an open port, one protocol per file.
//!
//! The engine owns everything about the connection (rate limit, connect, timeouts, the total
//! time a probe may hold a socket, the exactly-one-result rule); a probe only says which ports
//! it wants and how it talks on an already connected stream, as in zgrab2's module interface.
//! A probe never opens sockets, never prints, and turns what it saw into [`Details`] keys
//! (`banner.text`, later `dicom.accepts_any_ae`, …). Parsing of what a peer sends belongs in
//! the `proto` crate as pure functions over bytes; a probe is the thin I/O shell around them.
//!
//! # Adding a protocol
//! 1. Write `probes/<name>.rs` with a unit struct implementing [`Probe`]. Every read must be
//!    capped (`ctx.banner_cap` or a protocol limit) and every wait bounded (`ctx.read_timeout`);
//!    the engine also aborts a probe after `ctx.probe_timeout` as a safety net, but a probe
//!    that relies on that loses what it saw.
//! 2. Add `mod <name>;` here and one line to [`REGISTRY`]. The first probe whose
//!    [`Probe::wants`] accepts the port runs; ports no probe wants get the [`banner`] probe.
//! 3. Add hostile-peer tests beside it (garbage, truncation, huge lengths, slow dribbling), on
//!    loopback.

pub mod banner;
pub mod db;
pub mod dicom;
pub mod dicomweb;
pub mod fhir;
pub mod hl7;
pub mod http;
mod inspect_tls;
pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use medsurface_model::Details;
use tokio::net::TcpStream;

use crate::slot::Slot;

/// Settings every probe may read. Built once per scan and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeContext {
    /// How long a probe waits for the peer to speak (for the banner probe: in total).
    pub read_timeout: Duration,
    /// Most bytes a probe reads from a peer before it stops listening.
    pub banner_cap: usize,
    /// Hard limit on the time a probe may hold a connection; enforced by the engine. Time a
    /// probe spends queueing for its probe slot after a pause ([`Slot::pause`]) is not counted.
    pub probe_timeout: Duration,
    /// How HTTP-speaking probes name themselves (a hospital must recognise the scanner).
    pub user_agent: String,
    /// The calling AE title DICOM probes use, for the same reason.
    pub ae_title: String,
    /// Opens a probe's follow-up connections through the scan's rate limiter (the engine
    /// sets it; the default is unpaced, for probes run outside a scan).
    pub dialer: crate::Dialer,
    /// Probes chosen by the user for given ports (`--probe http:24080`), over the registry's
    /// own choice. Empty: the registry decides.
    pub overrides: std::collections::BTreeMap<u16, &'static str>,
    /// Options of the DICOM probe (called AE, AE title checks, study count, TLS).
    pub dicom: dicom::DicomSettings,
    /// Options of the web probe (caps, redirects, TLS policy, FHIR/DICOMweb stages, the
    /// opt-in FHIR record count).
    pub web: http::WebSettings,
}

impl Default for ProbeContext {
    fn default() -> ProbeContext {
        ProbeContext {
            read_timeout: Duration::from_secs(2),
            banner_cap: 1024,
            probe_timeout: Duration::from_secs(10),
            user_agent: concat!(
                "medsurface/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/medsurface/medsurface)"
            )
            .to_string(),
            ae_title: "MEDSURFACE".to_string(),
            dialer: crate::Dialer::default(),
            overrides: std::collections::BTreeMap::new(),
            dicom: dicom::DicomSettings::default(),
            web: http::WebSettings::default(),
        }
    }
}

/// What a probe learnt about a service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeOutput {
    /// The application protocol established (`dicom`, `http`, …), when the probe knows.
    pub protocol: Option<String>,
    pub details: Details,
}

/// The future a probe returns: borrowed stream and context, sendable across worker threads.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = ProbeOutput> + Send + 'a>>;

/// One application protocol's way of talking to an open port.
pub trait Probe: Send + Sync {
    /// Stable name, recorded as the observation's `probe` (`banner`, `dicom`, …).
    fn name(&self) -> &'static str;
    /// Whether this probe should talk to `port`.
    fn wants(&self, port: u16) -> bool;
    /// Talks to the peer on a connected stream. Must cap reads and bound waits itself.
    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a>;

    /// How the engine runs a probe: the probe owns the engine's connection, so it can close it
    /// as soon as it is done with it, and its probe [`Slot`], which it lends back while it
    /// waits between connections ([`Slot::pause`]). The default talks on the one connection
    /// with [`Probe::run`], then closes it and gives the slot back; a probe that pauses between
    /// connections (the DICOM probe) overrides it.
    fn run_in_slot<'a>(
        &'a self,
        stream: TcpStream,
        slot: Slot,
        ctx: &'a ProbeContext,
    ) -> ProbeFuture<'a> {
        Box::pin(async move {
            let mut stream = stream;
            let output = self.run(&mut stream, ctx).await;
            drop(stream);
            drop(slot);
            output
        })
    }
}

/// Protocol probes, tried in order. One line per protocol.
pub static REGISTRY: &[&dyn Probe] = &[
    &dicom::DicomProbe,
    &http::HttpProbe,
    &tls::TlsProbe,
    &hl7::Hl7Probe,
    &db::postgres::PostgresProbe,
    &db::mysql::MysqlProbe,
    &db::redis::RedisProbe,
    &db::mongodb::MongoProbe,
    &db::elasticsearch::ElasticsearchProbe,
];

/// The probe for ports no registered probe wants.
pub static DEFAULT_PROBE: &dyn Probe = &banner::BannerProbe;

/// Every probe a user may name: the registry's and the default.
pub fn all_probes() -> impl Iterator<Item = &'static dyn Probe> {
    REGISTRY
        .iter()
        .copied()
        .chain(std::iter::once(DEFAULT_PROBE))
}

/// The probe of that name, if there is one.
pub fn probe_named(name: &str) -> Option<&'static dyn Probe> {
    all_probes().find(|p| p.name() == name)
}

impl ProbeContext {
    /// The probe for `port` in this scan: the user's choice for it, else [`probe_for`].
    pub fn probe_for(&self, port: u16) -> &'static dyn Probe {
        self.overrides
            .get(&port)
            .and_then(|name| probe_named(name))
            .unwrap_or_else(|| probe_for(port))
    }
}

/// The probe that runs on `port`: the first registered probe that wants it, else the default.
pub fn probe_for(port: u16) -> &'static dyn Probe {
    REGISTRY
        .iter()
        .copied()
        .find(|p| p.wants(port))
        .unwrap_or(DEFAULT_PROBE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_the_default_is_banner() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|p| p.name()).collect();
        names.push(DEFAULT_PROBE.name());
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate probe names: {names:?}");
        assert_eq!(DEFAULT_PROBE.name(), "banner");
        // A port no protocol probe claims falls back to the banner probe.
        let unclaimed = (1..=u16::MAX)
            .find(|&port| !REGISTRY.iter().any(|p| p.wants(port)))
            .expect("some port is unclaimed");
        assert_eq!(probe_for(unclaimed).name(), "banner");
        // The user may name any probe for any port, the banner probe included.
        let mut ctx = ProbeContext::default();
        ctx.overrides.insert(unclaimed, "http");
        ctx.overrides.insert(104, "banner");
        assert_eq!(ctx.probe_for(unclaimed).name(), "http");
        assert_eq!(ctx.probe_for(104).name(), "banner");
        assert_eq!(ctx.probe_for(11112).name(), "dicom");
        assert!(probe_named("gopher").is_none());
    }

    #[test]
    fn default_context_is_bounded_and_names_the_scanner() {
        let ctx = ProbeContext::default();
        assert_eq!(ctx.banner_cap, 1024);
        assert!(ctx.read_timeout < ctx.probe_timeout);
        assert!(ctx.user_agent.starts_with("medsurface/"));
        assert!(!ctx.ae_title.is_empty() && ctx.ae_title.len() <= 16);
    }
}
