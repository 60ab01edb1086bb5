//! [`SqliteStore`]: the embedded, single-file implementation of [`Store`].
//!
//! One connection, owned by the store; every write is one transaction, so the atomicity the
//! trait promises is SQLite's own. The hot path is [`Store::record`]: a /16 scan sends ~200k
//! results in batches of thousands, so it uses cached prepared statements, writes no row for
//! `closed` results (most of any large scan; they are only counted), and touches the host and
//! service tables only for open ports with an observation.
//!
//! Replays are harmless by construction: probe rows are keyed by (scan, seq) and inserted with
//! `ON CONFLICT DO NOTHING`, an outcome is counted only when its row is new (or, for `closed`
//! results, which have no row, when the stored checkpoint did not already cover its seq), and
//! the stored checkpoint only grows (it is the union of the stored one and the batch's).
//!
//! Schema and migrations live in [`migrations`]; how values are encoded in columns, and how
//! they are checked when read back, lives in [`codec`].

mod codec;
mod migrations;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use medsurface_model::classify::Classification;
use medsurface_model::{
    Observation, Outcome, OutcomeCounts, ProbeResult, ScanId, ScanMeta, ScanStatus, Service, Shard,
    Source, Timestamp,
};
use rusqlite::{params, Connection, Transaction};

use crate::{Batch, Import, NewScan, ServiceFilter, Store, StoreError, StoredService};
use codec::{checkpoint_to_sql, checkpoint_union, transport_parse, ts_to_sql, Cols};

/// How long a write waits for another connection's lock (a `stats` run reading while a scan
/// writes, say) before giving up with an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Room for every statement this module prepares, so none is ever evicted and re-prepared.
const STATEMENT_CACHE: usize = 32;

/// The SQLite store. Not `Sync`: one writer owns it (use it from one thread or task at a time).
pub struct SqliteStore {
    conn: Connection,
}

/// Why a batch was refused before anything was written. Reported as the source of
/// [`StoreError::Query`]; match on it with `downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatch {
    #[error("sequence number {0} does not fit the store (the limit is {max})", max = i64::MAX)]
    SeqTooLarge(u128),
    #[error("round-trip time {0} µs does not fit the store (the limit is {max})", max = i64::MAX)]
    RttTooLarge(u64),
    #[error("the batch's checkpoint does not cover its result with sequence number {0}")]
    NotCovered(u128),
}

fn query(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Query {
        operation,
        source: Box::new(e),
    }
}

fn invalid(operation: &'static str, why: InvalidBatch) -> StoreError {
    StoreError::Query {
        operation,
        source: Box::new(why),
    }
}

fn json_text<T: serde::Serialize>(operation: &'static str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Query {
        operation,
        source: Box::new(e),
    })
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the store at `path`, and
    /// brings its schema up to date.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] if a newer medsurface wrote it, and with
    /// [`StoreError::Open`] if it is not a SQLite file or is another program's database.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_err(Box::new(e)))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(Box::new(e)))?;
        Self::init(conn, &shown)
    }

    /// A store that lives in memory and disappears when dropped (for tests and dry runs).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".to_owned(),
            source: Box::new(e),
        })?;
        Self::init(conn, ":memory:")
    }

    fn init(mut conn: Connection, path: &str) -> Result<Self, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Durability. What we promise is that a scan killed at any instant (SIGKILL, OOM
        // killer, Ctrl-C twice) keeps every batch whose `record` returned. In WAL mode a
        // commit is an append to the -wal file, written to the OS before `record` returns, so
        // it survives the death of the process whatever `synchronous` says; `NORMAL` skips the
        // fsync per commit (it syncs at checkpoints), which is what makes small transactions
        // cheap. On power loss or an OS crash the file stays consistent (never corrupt), but
        // the last commits before the crash may be rolled back; `--resume` then redoes them.
        // WAL also lets readers (`stats`, `report`) run while a scan writes. On a file system
        // without shared memory WAL is refused and SQLite keeps its rollback journal, which
        // keeps the same promise against process death, so the answer is not checked.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrations::migrate(&mut conn, path)?;
        Ok(SqliteStore { conn })
    }

    /// The schema version this build writes (`PRAGMA user_version` of an up-to-date store).
    pub fn schema_version() -> i64 {
        migrations::known_version()
    }
}

fn scan_exists(conn: &Connection, id: ScanId, operation: &'static str) -> Result<(), StoreError> {
    conn.prepare_cached("SELECT 1 FROM scans WHERE id = ?1")
        .and_then(|mut s| s.exists([id.0]))
        .map_err(query(operation))?
        .then_some(())
        .ok_or(StoreError::ScanNotFound(id))
}

const SCAN_COLUMNS: &str = "id, args, plan, seed, shard_index, shard_count, total, started_at, \
     finished_at, status, count_open, count_closed, count_filtered, count_unreachable, \
     count_error, checkpoint_watermark, checkpoint_done_above";

fn scan_from_row(c: &Cols<'_, '_>) -> Result<ScanMeta, StoreError> {
    let mut counts = OutcomeCounts::default();
    for o in Outcome::ALL {
        *counts.get_mut(o) = c.uint(&format!("count_{}", o.as_str()))?;
    }
    Ok(ScanMeta {
        id: ScanId(c.int("id")?),
        args: c.json("args")?,
        plan: c.json("plan")?,
        seed: c.decimal("seed")?,
        shard: Shard {
            index: c.uint("shard_index")?,
            count: c.uint("shard_count")?,
        },
        total: c.decimal("total")?,
        started_at: c.timestamp("started_at")?,
        finished_at: c.opt_timestamp("finished_at")?,
        status: c.name("status", ScanStatus::parse)?,
        counts,
        checkpoint: c.checkpoint("checkpoint_watermark", "checkpoint_done_above")?,
    })
}

/// Where an observation came from: a probe result of a scan, or an import.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Probe {
        scan: ScanId,
        seq: i64,
        hostname: Option<&'a str>,
    },
    Import,
}

const UPSERT_HOST: &str = "
    INSERT INTO hosts (ip, hostname, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
    ON CONFLICT (ip) DO UPDATE SET
        hostname = CASE WHEN excluded.last_seen >= hosts.last_seen
                        THEN coalesce(excluded.hostname, hosts.hostname)
                        ELSE coalesce(hosts.hostname, excluded.hostname) END,
        first_seen = min(hosts.first_seen, excluded.first_seen),
        last_seen = max(hosts.last_seen, excluded.last_seen)";

// The latest observation (by seen_at; the later write wins a tie) sets protocol, probe,
// details and source together, so they always describe one sighting. The host name is kept
// from an older sighting when the newer one has none: a scan by address must not erase the
// name an import knew.
const UPSERT_SERVICE: &str = "
    INSERT INTO services
        (ip, port, transport, protocol, probe, details, source, hostname, first_seen, last_seen,
         classification)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
    ON CONFLICT (ip, port, transport) DO UPDATE SET
        classification = CASE WHEN excluded.last_seen >= services.last_seen
                              THEN excluded.classification ELSE services.classification END,
        protocol = CASE WHEN excluded.last_seen >= services.last_seen
                        THEN excluded.protocol ELSE services.protocol END,
        probe = CASE WHEN excluded.last_seen >= services.last_seen
                     THEN excluded.probe ELSE services.probe END,
        details = CASE WHEN excluded.last_seen >= services.last_seen
                       THEN excluded.details ELSE services.details END,
        source = CASE WHEN excluded.last_seen >= services.last_seen
                      THEN excluded.source ELSE services.source END,
        hostname = CASE WHEN excluded.last_seen >= services.last_seen
                        THEN coalesce(excluded.hostname, services.hostname)
                        ELSE coalesce(services.hostname, excluded.hostname) END,
        first_seen = min(services.first_seen, excluded.first_seen),
        last_seen = max(services.last_seen, excluded.last_seen)
    RETURNING id";

const UPSERT_SOURCE: &str = "
    INSERT INTO service_sources (service_id, source, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
    ON CONFLICT (service_id, source) DO UPDATE SET
        first_seen = min(service_sources.first_seen, excluded.first_seen),
        last_seen = max(service_sources.last_seen, excluded.last_seen)";

const INSERT_OBSERVATION: &str = "
    INSERT INTO observations
        (service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
         classification)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
    ON CONFLICT DO NOTHING";

/// An observation with the classifier's verdict on it.
#[derive(Clone, Copy)]
struct Sighting<'a> {
    observation: &'a Observation,
    classification: Option<&'a Classification>,
}

/// Upserts the host, the service and its source history, and keeps the observation.
fn write_observation(
    tx: &Transaction<'_>,
    sighting: Sighting<'_>,
    origin: Origin<'_>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let q = query(operation);
    let obs = sighting.observation;
    let classification = sighting
        .classification
        .map(|c| json_text(operation, c))
        .transpose()?;
    let ip = obs.ip.to_string();
    let seen = ts_to_sql(obs.seen_at);
    let source = obs.source.as_str();
    let details = json_text(operation, &obs.details)?;
    let name = match origin {
        Origin::Probe { hostname, .. } => obs.hostname.as_deref().or(hostname),
        Origin::Import => obs.hostname.as_deref(),
    };
    tx.prepare_cached(UPSERT_HOST)
        .and_then(|mut s| s.execute(params![ip, name, seen]))
        .map_err(&q)?;
    let service_id: i64 = tx
        .prepare_cached(UPSERT_SERVICE)
        .and_then(|mut s| {
            s.query_row(
                params![
                    ip,
                    obs.port,
                    obs.transport.as_str(),
                    obs.protocol,
                    obs.probe,
                    details,
                    source,
                    name,
                    seen,
                    classification
                ],
                |r| r.get(0),
            )
        })
        .map_err(&q)?;
    tx.prepare_cached(UPSERT_SOURCE)
        .and_then(|mut s| s.execute(params![service_id, source, seen]))
        .map_err(&q)?;
    let (scan_id, seq) = match origin {
        Origin::Probe { scan, seq, .. } => (Some(scan.0), Some(seq)),
        Origin::Import => (None, None),
    };
    tx.prepare_cached(INSERT_OBSERVATION)
        .and_then(|mut s| {
            s.execute(params![
                service_id,
                scan_id,
                seq,
                source,
                obs.probe,
                seen,
                obs.protocol,
                obs.hostname,
                details,
                classification
            ])
        })
        .map_err(&q)?;
    Ok(())
}

fn probe_result_from_row(c: &Cols<'_, '_>) -> Result<ProbeResult, StoreError> {
    let seq: u64 = c.uint("seq")?;
    let observation = match c.opt_int("obs_id")? {
        None => None,
        Some(_) => Some(Observation {
            ip: c.ip("svc_ip")?,
            port: c.uint("svc_port")?,
            transport: c.name("svc_transport", transport_parse)?,
            hostname: c.opt_string("obs_hostname")?,
            protocol: c.opt_string("obs_protocol")?,
            probe: c.text("obs_probe")?.to_owned(),
            source: c.name("obs_source", Source::parse)?,
            seen_at: c.timestamp("obs_seen_at")?,
            details: c.json("obs_details")?,
        }),
    };
    Ok(ProbeResult {
        seq: u128::from(seq),
        ip: c.ip("ip")?,
        port: c.uint("port")?,
        hostname: c.opt_string("hostname")?,
        outcome: c.name("outcome", Outcome::parse)?,
        attempts: c.uint("attempts")?,
        rtt_us: c.opt_uint("rtt_us")?,
        reason: c.opt_string("reason")?,
        classification: match observation {
            Some(_) => c.opt_json("obs_classification")?,
            None => None,
        },
        observation,
    })
}

fn stored_service_from_row(c: &Cols<'_, '_>) -> Result<StoredService, StoreError> {
    // The services row holds the latest observation's fields; rebuild that observation so the
    // record comes from the one mapping the model defines.
    let latest = Observation {
        ip: c.ip("ip")?,
        port: c.uint("port")?,
        transport: c.name("transport", transport_parse)?,
        hostname: c.opt_string("hostname")?,
        protocol: c.opt_string("protocol")?,
        probe: c.text("probe")?.to_owned(),
        source: c.name("source", Source::parse)?,
        seen_at: c.timestamp("last_seen")?,
        details: c.json("details")?,
    };
    let mut service = Service::from_observation(&latest);
    if let Some(c) = c.opt_json::<Classification>("classification")? {
        service.apply_classification(&c);
    }
    Ok(StoredService {
        service,
        first_seen: c.timestamp("first_seen")?,
        last_seen: latest.seen_at,
        sources: c.json("sources")?,
    })
}

impl Store for SqliteStore {
    fn create_scan(&mut self, scan: &NewScan) -> Result<ScanId, StoreError> {
        const OP: &str = "create a scan";
        let args = json_text(OP, &scan.args)?;
        let plan = json_text(OP, &scan.plan)?;
        let id = self
            .conn
            .prepare_cached(
                "INSERT INTO scans
                    (args, plan, seed, shard_index, shard_count, total, started_at, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        args,
                        plan,
                        scan.seed.to_string(),
                        scan.shard.index,
                        scan.shard.count,
                        scan.total.to_string(),
                        ts_to_sql(scan.started_at),
                        ScanStatus::Running.as_str()
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(query(OP))?;
        Ok(ScanId(id))
    }

    fn scan(&self, id: ScanId) -> Result<ScanMeta, StoreError> {
        const OP: &str = "read a scan";
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {SCAN_COLUMNS} FROM scans WHERE id = ?1"))
            .map_err(query(OP))?;
        let mut rows = stmt.query([id.0]).map_err(query(OP))?;
        match rows.next().map_err(query(OP))? {
            Some(row) => scan_from_row(&Cols::new(row, "scans")),
            None => Err(StoreError::ScanNotFound(id)),
        }
    }

    fn scans(&self) -> Result<Vec<ScanMeta>, StoreError> {
        const OP: &str = "list scans";
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {SCAN_COLUMNS} FROM scans ORDER BY id"))
            .map_err(query(OP))?;
        let mut rows = stmt.query([]).map_err(query(OP))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query(OP))? {
            out.push(scan_from_row(&Cols::new(row, "scans"))?);
        }
        Ok(out)
    }

    fn record(&mut self, scan: ScanId, batch: Batch<'_>) -> Result<(), StoreError> {
        const OP: &str = "record a batch of probe results";
        let q = query(OP);
        // Dropping `tx` on any early return rolls the whole batch back.
        let tx = self.conn.transaction().map_err(&q)?;

        let stored = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT checkpoint_watermark, checkpoint_done_above FROM scans WHERE id = ?1",
                )
                .map_err(&q)?;
            let mut rows = stmt.query([scan.0]).map_err(&q)?;
            let row = rows
                .next()
                .map_err(&q)?
                .ok_or(StoreError::ScanNotFound(scan))?;
            Cols::new(row, "scans").checkpoint("checkpoint_watermark", "checkpoint_done_above")?
        };

        // `seen`: what was done before this batch plus what this batch has done so far, to
        // count a `closed` result (which has no row to conflict on) only once.
        let mut seen = stored.clone();
        let mut counts = OutcomeCounts::default();
        {
            let mut insert_probe = tx
                .prepare_cached(
                    "INSERT INTO probe_results
                        (scan_id, seq, ip, port, outcome, attempts, rtt_us, reason, hostname)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(&q)?;
            for r in batch.results {
                if !batch.checkpoint.is_done(r.seq) {
                    return Err(invalid(OP, InvalidBatch::NotCovered(r.seq)));
                }
                let seq = i64::try_from(r.seq)
                    .map_err(|_| invalid(OP, InvalidBatch::SeqTooLarge(r.seq)))?;
                let fresh = !seen.is_done(r.seq);
                seen.mark_done(r.seq);
                if r.outcome == Outcome::Closed {
                    if fresh {
                        counts.add(Outcome::Closed);
                    }
                    continue;
                }
                let rtt_us = r
                    .rtt_us
                    .map(|us| {
                        i64::try_from(us).map_err(|_| invalid(OP, InvalidBatch::RttTooLarge(us)))
                    })
                    .transpose()?;
                let inserted = insert_probe
                    .execute(params![
                        scan.0,
                        seq,
                        r.ip.to_string(),
                        r.port,
                        r.outcome.as_str(),
                        r.attempts,
                        rtt_us,
                        r.reason,
                        r.hostname
                    ])
                    .map_err(&q)?
                    == 1;
                if !inserted {
                    continue; // recorded by an earlier batch: a replay
                }
                counts.add(r.outcome);
                // An observation on a result that is not `open` would describe a service that
                // does not answer; the scanner does not produce one and it is not kept.
                if let (Outcome::Open, Some(obs)) = (r.outcome, &r.observation) {
                    let origin = Origin::Probe {
                        scan,
                        seq,
                        hostname: r.hostname.as_deref(),
                    };
                    let sighting = Sighting {
                        observation: obs,
                        classification: r.classification.as_ref(),
                    };
                    write_observation(&tx, sighting, origin, OP)?;
                }
            }
        }

        let (watermark, above) = checkpoint_to_sql(&checkpoint_union(&stored, batch.checkpoint));
        // A batch's count of one outcome is at most its length, so it fits an i64.
        let delta = |o: Outcome| i64::try_from(counts.get(o)).unwrap_or(i64::MAX);
        tx.prepare_cached(
            "UPDATE scans SET
                count_open = count_open + ?2,
                count_closed = count_closed + ?3,
                count_filtered = count_filtered + ?4,
                count_unreachable = count_unreachable + ?5,
                count_error = count_error + ?6,
                checkpoint_watermark = ?7,
                checkpoint_done_above = ?8
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                scan.0,
                delta(Outcome::Open),
                delta(Outcome::Closed),
                delta(Outcome::Filtered),
                delta(Outcome::Unreachable),
                delta(Outcome::Error),
                watermark,
                above
            ])
        })
        .map_err(&q)?;
        tx.commit().map_err(&q)
    }

    fn record_observations(&mut self, observations: &[Observation]) -> Result<(), StoreError> {
        const OP: &str = "record imported observations";
        let tx = self.conn.transaction().map_err(query(OP))?;
        for obs in observations {
            let sighting = Sighting {
                observation: obs,
                classification: None,
            };
            write_observation(&tx, sighting, Origin::Import, OP)?;
        }
        tx.commit().map_err(query(OP))
    }

    fn record_imports(&mut self, imports: &[Import]) -> Result<(), StoreError> {
        const OP: &str = "record imported observations";
        let tx = self.conn.transaction().map_err(query(OP))?;
        for import in imports {
            let sighting = Sighting {
                observation: &import.observation,
                classification: import.classification.as_ref(),
            };
            write_observation(&tx, sighting, Origin::Import, OP)?;
        }
        tx.commit().map_err(query(OP))
    }

    fn finish_scan(
        &mut self,
        scan: ScanId,
        status: ScanStatus,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "finish a scan";
        // `running` clears the finish time: that is how a resumed scan is marked live again.
        let finished_at = match status {
            ScanStatus::Running => None,
            ScanStatus::Completed | ScanStatus::Interrupted => Some(ts_to_sql(at)),
        };
        let changed = self
            .conn
            .prepare_cached("UPDATE scans SET status = ?2, finished_at = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![scan.0, status.as_str(), finished_at]))
            .map_err(query(OP))?;
        if changed == 0 {
            return Err(StoreError::ScanNotFound(scan));
        }
        Ok(())
    }

    fn probe_results(
        &self,
        scan: ScanId,
        outcome: Option<Outcome>,
    ) -> Result<Vec<ProbeResult>, StoreError> {
        const OP: &str = "read probe results";
        // One read transaction, so the results are one consistent snapshot.
        let tx = self.conn.unchecked_transaction().map_err(query(OP))?;
        scan_exists(&tx, scan, OP)?;
        let mut stmt = tx
            .prepare_cached(
                "SELECT p.seq, p.ip, p.port, p.outcome, p.attempts, p.rtt_us, p.reason,
                        p.hostname,
                        o.id AS obs_id, o.source AS obs_source, o.probe AS obs_probe,
                        o.seen_at AS obs_seen_at, o.protocol AS obs_protocol,
                        o.hostname AS obs_hostname, o.details AS obs_details,
                        o.classification AS obs_classification,
                        s.ip AS svc_ip, s.port AS svc_port, s.transport AS svc_transport
                 FROM probe_results p
                 LEFT JOIN observations o ON o.scan_id = p.scan_id AND o.seq = p.seq
                 LEFT JOIN services s ON s.id = o.service_id
                 WHERE p.scan_id = ?1 AND (?2 IS NULL OR p.outcome = ?2)
                 ORDER BY p.seq",
            )
            .map_err(query(OP))?;
        let mut rows = stmt
            .query(params![scan.0, outcome.map(Outcome::as_str)])
            .map_err(query(OP))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query(OP))? {
            out.push(probe_result_from_row(&Cols::new(row, "probe_results"))?);
        }
        Ok(out)
    }

    fn services(&self, filter: &ServiceFilter) -> Result<Vec<StoredService>, StoreError> {
        const OP: &str = "list services";
        let tx = self.conn.unchecked_transaction().map_err(query(OP))?;
        if let Some(scan) = filter.scan {
            scan_exists(&tx, scan, OP)?;
        }
        let mut stmt = tx
            .prepare_cached(
                "SELECT s.ip, s.port, s.transport, s.protocol, s.probe, s.details, s.source,
                        s.hostname, s.first_seen, s.last_seen, s.classification,
                        (SELECT json_group_array(src.source ORDER BY src.first_seen, src.source)
                         FROM service_sources src WHERE src.service_id = s.id) AS sources
                 FROM services s
                 WHERE (?1 IS NULL OR s.ip = ?1)
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM observations o
                                              WHERE o.service_id = s.id AND o.scan_id = ?2))",
            )
            .map_err(query(OP))?;
        let ip = filter.ip.as_ref().map(IpAddr::to_string);
        let mut rows = stmt
            .query(params![ip, filter.scan.map(|s| s.0)])
            .map_err(query(OP))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query(OP))? {
            out.push(stored_service_from_row(&Cols::new(row, "services"))?);
        }
        // Addresses are stored as text, whose order is not address order (10.0.0.10 < 10.0.0.9),
        // so the order the trait promises is made here.
        out.sort_by(|a, b| {
            let key =
                |s: &StoredService| (s.service.ip, s.service.port, s.service.transport.as_str());
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    fn scan_services(&self, scan: ScanId) -> Result<Vec<Service>, StoreError> {
        const OP: &str = "list a scan's services";
        let tx = self.conn.unchecked_transaction().map_err(query(OP))?;
        scan_exists(&tx, scan, OP)?;
        let mut stmt = tx
            .prepare_cached(
                "SELECT s.ip, s.port, s.transport, o.hostname, o.protocol, o.probe, o.source,
                        o.seen_at, o.details, o.classification
                 FROM observations o JOIN services s ON s.id = o.service_id
                 WHERE o.scan_id = ?1",
            )
            .map_err(query(OP))?;
        let mut rows = stmt.query(params![scan.0]).map_err(query(OP))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query(OP))? {
            let c = Cols::new(row, "observations");
            let obs = Observation {
                ip: c.ip("ip")?,
                port: c.uint("port")?,
                transport: c.name("transport", transport_parse)?,
                hostname: c.opt_string("hostname")?,
                protocol: c.opt_string("protocol")?,
                probe: c.text("probe")?.to_owned(),
                source: c.name("source", Source::parse)?,
                seen_at: c.timestamp("seen_at")?,
                details: c.json("details")?,
            };
            let mut service = Service::from_observation(&obs);
            if let Some(v) = c.opt_json::<Classification>("classification")? {
                service.apply_classification(&v);
            }
            out.push(service);
        }
        out.sort_by(|a, b| {
            (a.ip, a.port, a.transport.as_str()).cmp(&(b.ip, b.port, b.transport.as_str()))
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_can_move_to_a_writer_thread() {
        fn is_send<T: Send>() {}
        is_send::<SqliteStore>();
    }

    #[test]
    fn scan_columns_name_every_counter() {
        for o in Outcome::ALL {
            assert!(SCAN_COLUMNS.contains(&format!("count_{}", o.as_str())));
        }
    }
}
