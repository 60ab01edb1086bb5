//! Where results live: one storage interface, [`Store`], and its embedded SQLite
//! implementation, [`SqliteStore`].
//!
//! Stages never talk SQL. The binary hands the store whole batches (probe results plus the
//! scan's checkpoint) and each batch is committed in one transaction, so a scan killed at any
//! instant leaves a store in which every recorded result and the checkpoint agree: `--resume`
//! neither repeats a recorded probe nor loses one. PostgreSQL (a shared store and work queue for
//! many machines) will be a second implementation of the same trait; nothing outside this crate
//! may depend on SQLite.

mod sqlite;

use std::net::IpAddr;

use medsurface_model::classify::Classification;
use medsurface_model::{
    Checkpoint, Observation, Outcome, ProbeResult, ScanId, ScanMeta, ScanStatus, Service, Shard,
    Timestamp,
};

pub use sqlite::{InvalidBatch, SqliteStore};

/// Errors of the store, named after the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the store at {path} was written by a newer medsurface (schema {found}, this build knows up to {known})")]
    SchemaTooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("scan {0} does not exist in this store")]
    ScanNotFound(ScanId),
    #[error("cannot {operation}: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

/// What is known about a scan when it starts.
#[derive(Debug, Clone)]
pub struct NewScan {
    pub args: Vec<String>,
    pub plan: serde_json::Value,
    pub seed: u64,
    pub shard: Shard,
    pub total: u128,
    pub started_at: Timestamp,
}

/// One unit of progress, committed atomically: the results that finished and the checkpoint that
/// covers them (the checkpoint after these results, not a delta).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub results: &'a [ProbeResult],
    pub checkpoint: &'a Checkpoint,
}

/// An imported observation and what the classifier made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub observation: Observation,
    pub classification: Option<Classification>,
}

/// An [`Import`] encoded for storage ahead of time, so the expensive part (JSON of the details
/// and of the verdict, the text forms of address and time) can run on the threads that parse,
/// and the one writer only binds text. Build it with [`ImportRow::new`] anywhere, store it with
/// [`Store::record_import_rows`].
///
/// The encodings are portable, not SQLite's: the address in its canonical text form, the time
/// as RFC 3339 UTC with nanoseconds, details and verdict as JSON text, so a PostgreSQL store can
/// bind the same row to `inet`, `timestamptz` and `jsonb` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub(crate) ip: String,
    pub(crate) port: u16,
    pub(crate) transport: &'static str,
    pub(crate) protocol: Option<String>,
    pub(crate) probe: String,
    pub(crate) source: &'static str,
    pub(crate) seen_at: String,
    pub(crate) hostname: Option<String>,
    pub(crate) details: String,
    pub(crate) classification: Option<String>,
}

impl ImportRow {
    /// Encodes an observation and the classifier's verdict on it. Fails only if the details
    /// cannot be written as JSON (they always can: they are JSON values keyed by strings).
    pub fn new(
        observation: &Observation,
        classification: Option<&Classification>,
    ) -> Result<Self, StoreError> {
        Ok(ImportRow {
            ip: observation.ip.to_string(),
            port: observation.port,
            transport: observation.transport.as_str(),
            protocol: observation.protocol.clone(),
            probe: observation.probe.clone(),
            source: observation.source.as_str(),
            seen_at: sqlite::codec::ts_to_sql(observation.seen_at),
            hostname: observation.hostname.clone(),
            details: json_text(&observation.details)?,
            classification: classification.map(json_text).transpose()?,
        })
    }
}

thread_local! {
    /// The JSON of one value, written by [`json_text`] before it is copied out.
    static JSON_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A scratch buffer that grew past this is dropped after use rather than kept.
const JSON_SCRATCH_KEEP: usize = 64 * 1024;

/// `serde_json::to_string(value)`, in a `String` of exactly its length. An import holds two
/// batches of rows; `to_string` grows its buffer by doubling, so a row's JSON kept up to twice
/// its size (about 20 MB over two batches of a Shodan import), and the growing copied it
/// several times. Here the JSON is written into a buffer kept per thread and copied out once.
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    const OP: &str = "encode an imported observation";
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Query {
        operation: OP,
        source: e,
    };
    JSON_SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        let written = serde_json::to_writer(&mut *buf, value);
        // `to_vec` allocates exactly the length; serde_json writes UTF-8, which is checked
        // rather than assumed.
        let text = written
            .map_err(|e| fail(Box::new(e)))
            .and_then(|()| String::from_utf8(buf.to_vec()).map_err(|e| fail(Box::new(e))));
        if buf.capacity() > JSON_SCRATCH_KEEP {
            *buf = Vec::new();
        }
        text
    })
}

/// Which services to list.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    /// Only services observed by this scan.
    pub scan: Option<ScanId>,
    pub ip: Option<IpAddr>,
}

/// A service with its sighting history.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredService {
    /// The record, as of the latest sighting.
    pub service: Service,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Distinct sources that have seen it (`scan`, `shodan`, …).
    pub sources: Vec<String>,
}

/// The storage interface every stage's results go through.
///
/// Implementations must make [`Store::record`] atomic: after a crash, either the whole batch and
/// its checkpoint are visible or none of it is.
pub trait Store {
    /// Registers a scan and returns its id; its status is `running` until finished.
    fn create_scan(&mut self, scan: &NewScan) -> Result<ScanId, StoreError>;

    /// Everything known about one scan, including its counters and checkpoint.
    fn scan(&self, id: ScanId) -> Result<ScanMeta, StoreError>;

    /// All scans, oldest first.
    fn scans(&self) -> Result<Vec<ScanMeta>, StoreError>;

    /// Records a batch of finished probes and the checkpoint after them, in one transaction.
    ///
    /// Every outcome is counted in the scan's counters. Results other than `closed` are kept as
    /// rows (closed ports are only counted: on a large range they are most of the probes and
    /// say nothing about a service). Open results with an observation update the service and its
    /// host and keep the observation. A result whose (scan, seq) was recorded before is ignored,
    /// so replaying a batch never duplicates anything.
    fn record(&mut self, scan: ScanId, batch: Batch<'_>) -> Result<(), StoreError>;

    /// Stores observations that did not come from a scan (imports), unclassified.
    fn record_observations(&mut self, observations: &[Observation]) -> Result<(), StoreError>;

    /// Stores imported observations with the classifier's verdict on each, in one transaction.
    fn record_imports(&mut self, imports: &[Import]) -> Result<(), StoreError> {
        let rows = imports
            .iter()
            .map(|i| ImportRow::new(&i.observation, i.classification.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.record_import_rows(&rows)
    }

    /// [`Store::record_imports`] of observations encoded beforehand: the same rows, the same
    /// history, in one transaction. An import of rows already stored adds no observation.
    fn record_import_rows(&mut self, rows: &[ImportRow]) -> Result<(), StoreError>;

    /// Marks a scan completed or interrupted. `Running` marks a resumed scan live again and
    /// clears its finish time.
    fn finish_scan(
        &mut self,
        scan: ScanId,
        status: ScanStatus,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Recorded probe results of a scan, optionally of one outcome, in sequence order.
    fn probe_results(
        &self,
        scan: ScanId,
        outcome: Option<Outcome>,
    ) -> Result<Vec<ProbeResult>, StoreError>;

    /// Services matching the filter, ordered by address then port.
    ///
    /// With `filter.scan`, the services that scan observed; each record is still as of the
    /// service's latest sighting by any source.
    fn services(&self, filter: &ServiceFilter) -> Result<Vec<StoredService>, StoreError>;

    /// The services [`Store::services`] lists, handed to `f` one at a time as they are read, so
    /// a large store can be gone through in bounded memory. The first error (the store's, or
    /// one `f` returns) stops the read and is returned.
    ///
    /// The order is the store's own (for SQLite, the order in which services were first
    /// stored), not address order; it is the same on every read of a store that was not
    /// written in between, so two passes over an unchanged store see the same sequence.
    fn for_each_service(
        &self,
        filter: &ServiceFilter,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// [`Store::for_each_service`], each record built from only the details whose key `keep`
    /// accepts (the store skips the others unparsed where it can), so a pass that needs a few
    /// details of every service does not pay for all of them. Fields the record reads from its
    /// details (a Shodan vulnerability list, say) are then as the kept details give them.
    fn for_each_service_details(
        &self,
        filter: &ServiceFilter,
        keep: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.for_each_service(filter, &mut |mut s| {
            s.service.details.retain(|k, _| keep(k));
            f(s)
        })
    }

    /// The services one scan observed, each as that scan saw it (its own observation and
    /// verdict, not the latest sighting), ordered by address then port. What `diff` compares.
    fn scan_services(&self, scan: ScanId) -> Result<Vec<Service>, StoreError>;
}

#[cfg(test)]
mod json_text_tests {
    use super::*;
    use medsurface_model::Details;
    use serde_json::json;

    /// The text is `to_string`'s, at exactly its length, whatever the buffer held before
    /// (longer text, text past the size kept, nothing).
    #[test]
    fn json_text_is_to_string_at_its_length() {
        let mut big = Details::new();
        big.insert("banner.text".into(), json!("x".repeat(100_000)));
        let mut small = Details::new();
        small.insert(
            "http.title".into(),
            json!("Orthanc \"Explorer\" é \u{1} \u{2028}"),
        );
        small.insert("http.status".into(), json!(200));
        small.insert("net.hostnames".into(), json!(["a.example", "b.example"]));
        small.insert("x".into(), json!({"f": -1.5e300, "n": null, "t": true}));
        for value in [&small, &big, &small, &Details::new(), &small] {
            let text = json_text(value).unwrap();
            assert_eq!(text, serde_json::to_string(value).unwrap());
            assert_eq!(text.capacity(), text.len());
        }
        JSON_SCRATCH.with(|s| assert!(s.borrow().capacity() <= JSON_SCRATCH_KEEP));
    }
}
