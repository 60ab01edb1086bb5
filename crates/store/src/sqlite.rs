//! [`SqliteStore`]: the embedded, single-file implementation of [`Store`].
//!
//! One connection, owned by the store; every write is one transaction, so the atomicity the
//! trait promises is SQLite's own. The hot path is [`Store::record`]: a /16 scan sends ~200k
//! results in batches of thousands, so it uses cached prepared statements, writes no row for
//! `closed` results (most of any large scan; they are only counted), and touches the host and
//! service tables only for open ports with an observation.
//!
//! Imports arrive as [`ImportRow`]s, already encoded on the threads that parse them, so the
//! writer only binds text: four or five statements per sighting (host, service, the service's
//! id unless the upsert just made it, source history, observation), prepared once per
//! transaction, in the order of the services' index. A sighting's data (details, verdict) is
//! written once, in its observation: the service row keeps only what spans sightings, and
//! reads join it to its latest observation.
//!
//! Replays are harmless by construction: probe rows are keyed by (scan, seq) and inserted with
//! `ON CONFLICT DO NOTHING`, an outcome is counted only when its row is new (or, for `closed`
//! results, which have no row, when the stored checkpoint did not already cover its seq), and
//! the stored checkpoint only grows (it is the union of the stored one and the batch's).
//!
//! Schema and migrations live in [`migrations`]; how values are encoded in columns, and how
//! they are checked when read back, lives in [`codec`].

pub(crate) mod codec;
mod migrations;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use medsurface_model::classify::Classification;
use medsurface_model::{
    Details, Observation, Outcome, OutcomeCounts, ProbeResult, ScanId, ScanMeta, ScanStatus,
    Service, Shard, Source, Timestamp,
};
use rusqlite::{params, Connection, Transaction};

use crate::{Batch, ImportRow, NewScan, ServiceFilter, Store, StoreError, StoredService};
use codec::{checkpoint_to_sql, checkpoint_union, transport_parse, ts_to_sql, Cols};

/// How long a write waits for another connection's lock (a `stats` run reading while a scan
/// writes, say) before giving up with an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page cache's limit, in KiB (SQLite's default is 2 MiB). A large import dirties index
/// pages all over the services' and hosts' indexes in every transaction; with the default
/// cache those pages are spilled and re-read many times per transaction. Measured on a 1 GB
/// Shodan import: a third less writer time with 32 MiB and 20,000 rows a transaction. The
/// cache grows only as pages are used, so a small store costs no more memory than before.
const CACHE_KIB: i64 = 32 * 1024;

/// WAL bytes after which a commit copies the WAL back into the database (SQLite's default is
/// 1,000 pages, about 4 MiB, less than one import transaction, so every commit checkpointed).
/// Index pages rewritten by several transactions in a row are then copied once instead of each
/// time (about 10 % fewer bytes written on a 1 GB import). The WAL file may grow to this size;
/// readers are not blocked by it. SQLite counts it in pages: see [`autocheckpoint_pages`].
const WAL_AUTOCHECKPOINT_BYTES: i64 = 80 * 1024 * 1024;

/// The page size of a store made anew (SQLite's default is 4 KiB; an existing store keeps the
/// size it was made with). A sighting's row is about 1.3 KB of JSON, so a 4 KiB page held
/// three of them, and an import wrote about 200,000 WAL frames for a 1 GB Shodan file: two
/// `pwrite`s each, a `pread` and a `pwrite` more when checkpointed, a million system calls.
/// With 16 KiB pages the same import took 7.1–8.2 CPU-s against 7.9–10.7 (4 interleaved runs
/// each) and made a 6 % smaller file; `stats` read it no slower. 64 KiB pages were cheaper
/// still to write but make every random read of one row fetch 64 KiB.
const NEW_STORE_PAGE_SIZE: i64 = 16 * 1024;

/// Room for every statement this module prepares, so none is ever evicted and re-prepared.
const STATEMENT_CACHE: usize = 32;

/// The SQLite store. Not `Sync`: one writer owns it (use it from one thread or task at a time).
pub struct SqliteStore {
    conn: Connection,
    /// The file, for the import checkpointer's own connection; `None` in memory.
    path: Option<std::path::PathBuf>,
    /// Running while imports are written (see [`Checkpointer`]).
    checkpointer: Option<Checkpointer>,
}

/// Copies the WAL back into the database on a thread of its own while an import writes.
///
/// An import is bound by its one writer thread, and a checkpoint run by that thread's commit
/// (`wal_autocheckpoint`) was about an eighth of its work on a 1 GB import. During imports the
/// writer's automatic checkpoints are off and this thread runs a `PASSIVE` checkpoint, on its
/// own connection, after each commit (commits that arrive while one runs are folded into the
/// next). A passive checkpoint never blocks the writer or readers and never waits for them; the
/// writer starts the WAL over once a checkpoint has caught up, so the WAL stays about one or
/// two transactions long. The first write that is not an import stops the thread and turns
/// automatic checkpoints on again; dropping the store stops it too, and the last connection to
/// close checkpoints what is left, as always.
struct Checkpointer {
    /// Wakes the thread; dropping it ends the thread.
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Checkpoints run so far (the tests wait on it).
    #[cfg_attr(not(test), allow(dead_code))]
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread with its own connection to `path`, or `None` if that cannot be done
    /// (the writer then keeps checkpointing itself).
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(BUSY_TIMEOUT).ok()?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = std::sync::Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                for () in woken {
                    // A failed checkpoint only leaves the WAL longer; the next one, or the
                    // last close, copies it back.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    counted.fetch_add(1, std::sync::atomic::Ordering::Release);
                }
            })
            .ok()?;
        Some(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            done,
        })
    }

    /// Asks for a checkpoint (at most one waits behind the one running).
    fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
        let fresh = is_new_store_file(path);
        let conn = Connection::open(path).map_err(|e| open_err(Box::new(e)))?;
        let mut store = Self::init(conn, &shown, fresh)?;
        store.path = Some(path.to_owned());
        Ok(store)
    }

    /// A store that lives in memory and disappears when dropped (for tests and dry runs).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".to_owned(),
            source: Box::new(e),
        })?;
        Self::init(conn, ":memory:", false)
    }

    /// `fresh`: the file did not exist or was empty, with no journal or WAL beside it (see
    /// [`is_new_store_file`]).
    fn init(mut conn: Connection, path: &str, fresh: bool) -> Result<Self, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // A brand-new store is created without fsyncs (`synchronous = OFF` until its schema is
        // in place, then `NORMAL` as for any store). Otherwise the switch of the new file to
        // WAL goes through a rollback journal with four fsyncs, and the WAL's header is synced
        // too: about 20 ms before a first scan's first probe. Why nothing collected can be
        // lost:
        // - Against the death of the process (what we promise) `synchronous` changes nothing:
        //   every write has reached the OS when its call returns, with or without an fsync.
        // - Against power loss, `NORMAL` already keeps nothing written since the last
        //   checkpoint, and a new store has never been checkpointed: today its first scan can
        //   already be lost whole. What is new is that the empty schema can be lost as well.
        //   Nothing is ever collected into it before `init` returns, and by then `NORMAL` is
        //   back, so the first checkpoint syncs the WAL (header included) before it copies
        //   pages into the file and syncs that in turn, as always. A checkpoint never runs
        //   while `OFF` is on: the migrations are far below `wal_autocheckpoint`, and on an
        //   error `NORMAL` is restored before the connection closes (closing checkpoints).
        // - After such a power loss the next open finds an empty file (made anew, as here),
        //   a valid empty WAL-mode store (migrated), or, if the file system kept a torn or
        //   zeroed first page, a file SQLite refuses: `StoreError::Open`, naming the file.
        // If WAL is refused (see below), the rollback journal would need its fsyncs to keep
        // the file consistent, so `NORMAL` is set at once, as before.
        if fresh {
            conn.pragma_update(None, "synchronous", "OFF")
                .map_err(open_err)?;
            // Before the first write (the switch to WAL below), or it is ignored.
            conn.pragma_update(None, "page_size", NEW_STORE_PAGE_SIZE)
                .map_err(open_err)?;
        }
        let inited = Self::configure_and_migrate(&mut conn, path, fresh);
        // Whatever happened, the connection is left as every store's: `NORMAL`.
        let synced = conn.pragma_update(None, "synchronous", "NORMAL");
        inited?;
        synced.map_err(open_err)?;
        Ok(SqliteStore {
            conn,
            path: None,
            checkpointer: None,
        })
    }

    fn configure_and_migrate(
        conn: &mut Connection,
        path: &str,
        fresh: bool,
    ) -> Result<(), StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        };
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
        let mode = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        if !fresh || !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(open_err)?;
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        // Negative: a size in KiB rather than in pages.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(open_err)?;
        let pages = autocheckpoint_pages(conn).map_err(open_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrations::migrate(conn, path)
    }

    /// The schema version this build writes (`PRAGMA user_version` of an up-to-date store).
    pub fn schema_version() -> i64 {
        migrations::known_version()
    }
}

/// [`WAL_AUTOCHECKPOINT_BYTES`] in the store's own pages.
fn autocheckpoint_pages(conn: &Connection) -> rusqlite::Result<i64> {
    let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    Ok(WAL_AUTOCHECKPOINT_BYTES / page.max(512))
}

/// Whether `path` is a store yet to be made: no file, or an empty one, and no rollback journal
/// or WAL beside it (those could hold a store's content, which must be opened as it always
/// was). Anything unclear (a permission error, say) counts as an existing store.
fn is_new_store_file(path: &Path) -> bool {
    let absent = |suffix: &str| {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        matches!(
            std::fs::symlink_metadata(&side),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        )
    };
    let empty = match std::fs::metadata(path) {
        Ok(m) => m.is_file() && m.len() == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    empty && absent("-journal") && absent("-wal")
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

// The service row holds only what spans its sightings; protocol, probe, details, source and
// verdict are read from its latest observation (see `LATEST_OBSERVATION`). The host name is
// kept from an older sighting when the newer one has none (the later write wins a tie): a
// scan by address must not erase the name an import knew.
const UPSERT_SERVICE: &str = "
    INSERT INTO services (ip, port, transport, hostname, first_seen, last_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
    ON CONFLICT (ip, port, transport) DO UPDATE SET
        hostname = CASE WHEN excluded.last_seen >= services.last_seen
                        THEN coalesce(excluded.hostname, services.hostname)
                        ELSE coalesce(services.hostname, excluded.hostname) END,
        first_seen = min(services.first_seen, excluded.first_seen),
        last_seen = max(services.last_seen, excluded.last_seen)";

// The id of the service just upserted. Not a `RETURNING id` on the upsert: SQLite runs a
// statement with `RETURNING` to its end into a temporary table, opened and closed on every
// execution, which cost more than the rest of the upsert (about 15,000 instructions a row);
// this reads the services' unique index alone, on the page the upsert just wrote. Only run
// when the upsert updated (a new service's id is the last inserted row id; see `Writer::write`).
const SERVICE_ID: &str = "SELECT id FROM services WHERE ip = ?1 AND port = ?2 AND transport = ?3";

const UPSERT_SOURCE: &str = "
    INSERT INTO service_sources (service_id, source, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
    ON CONFLICT (service_id, source) DO UPDATE SET
        first_seen = min(service_sources.first_seen, excluded.first_seen),
        last_seen = max(service_sources.last_seen, excluded.last_seen)";

// A scan's observation is written only with its new probe result, so it is new too (and a
// second one of the same (scan, seq) is dropped, as it always was).
const INSERT_SCAN_OBSERVATION: &str = "
    INSERT INTO observations
        (service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
         classification)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
    ON CONFLICT DO NOTHING";

// A sighting imported again (same service, source, probe and time) adds no row, but it is
// the later write: its row replaces the stored one and takes a new, greatest id, so if it is
// the latest sighting its values (a newer classifier's verdict, say) are the ones read, and a
// sighting tied with it on time that was written in between no longer wins the tie.
const INSERT_IMPORT_OBSERVATION: &str = "
    INSERT OR REPLACE INTO observations
        (service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
         classification)
    VALUES (?1, NULL, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The latest observation of the service `s`: the greatest seen_at, the later write (greatest
/// id) winning a tie. `observations_by_service` (service_id, seen_at, then the row id) gives
/// it as the first entry read backwards, without sorting.
const LATEST_OBSERVATION: &str = "(SELECT l.id FROM observations l WHERE l.service_id = s.id
     ORDER BY l.seen_at DESC, l.id DESC LIMIT 1)";

/// One sighting as the writer binds it: every value already in its column's text form.
struct Row<'a> {
    ip: &'a str,
    port: u16,
    transport: &'a str,
    protocol: Option<&'a str>,
    probe: &'a str,
    source: &'a str,
    seen: &'a str,
    /// The name kept on the host and the service (a probe result's target name if the
    /// observation has none).
    name: Option<&'a str>,
    /// The observation's own host name.
    hostname: Option<&'a str>,
    details: &'a str,
    classification: Option<&'a str>,
    /// (scan, seq) of a scan's observation; `None` for imports.
    probe_result: Option<(i64, i64)>,
}

impl<'a> Row<'a> {
    fn import(r: &'a ImportRow) -> Self {
        Row {
            ip: &r.ip,
            port: r.port,
            transport: r.transport,
            protocol: r.protocol.as_deref(),
            probe: &r.probe,
            source: r.source,
            seen: &r.seen_at,
            name: r.hostname.as_deref(),
            hostname: r.hostname.as_deref(),
            details: &r.details,
            classification: r.classification.as_deref(),
            probe_result: None,
        }
    }
}

/// The statements that store a sighting, prepared once per transaction: the host, the
/// service (and its id), the service's source history, the observation (a scan's or an
/// import's).
struct Writer<'t> {
    conn: &'t Connection,
    host: rusqlite::CachedStatement<'t>,
    service: rusqlite::CachedStatement<'t>,
    service_id: rusqlite::CachedStatement<'t>,
    source: rusqlite::CachedStatement<'t>,
    scan_observation: rusqlite::CachedStatement<'t>,
    import_observation: rusqlite::CachedStatement<'t>,
}

impl<'t> Writer<'t> {
    fn new(tx: &'t Transaction<'_>) -> rusqlite::Result<Self> {
        Ok(Writer {
            conn: tx,
            host: tx.prepare_cached(UPSERT_HOST)?,
            service: tx.prepare_cached(UPSERT_SERVICE)?,
            service_id: tx.prepare_cached(SERVICE_ID)?,
            source: tx.prepare_cached(UPSERT_SOURCE)?,
            scan_observation: tx.prepare_cached(INSERT_SCAN_OBSERVATION)?,
            import_observation: tx.prepare_cached(INSERT_IMPORT_OBSERVATION)?,
        })
    }

    /// Upserts the host, the service and its source history, and keeps the observation.
    fn write(&mut self, r: &Row<'_>) -> rusqlite::Result<()> {
        self.host.execute(params![r.ip, r.name, r.seen])?;
        let before = self.conn.last_insert_rowid();
        self.service
            .execute(params![r.ip, r.port, r.transport, r.name, r.seen])?;
        // Only an insert sets the last inserted row id (an upsert that updates leaves it as
        // it was), so a new value is the id of the service just made: most of an import's
        // sightings are a service's first, and this saves them a statement. The same value
        // is either an update or a new id equal to the host's (or the row's before): read it.
        let inserted = self.conn.last_insert_rowid();
        let service_id: i64 = if inserted != before {
            inserted
        } else {
            self.service_id
                .query_row(params![r.ip, r.port, r.transport], |row| row.get(0))?
        };
        self.source.execute(params![service_id, r.source, r.seen])?;
        match r.probe_result {
            Some((scan_id, seq)) => self.scan_observation.execute(params![
                service_id,
                scan_id,
                seq,
                r.source,
                r.probe,
                r.seen,
                r.protocol,
                r.hostname,
                r.details,
                r.classification
            ])?,
            None => self.import_observation.execute(params![
                service_id,
                r.source,
                r.probe,
                r.seen,
                r.protocol,
                r.hostname,
                r.details,
                r.classification
            ])?,
        };
        Ok(())
    }
}

/// Encodes a scan's (or an unclassified import's) observation and writes it.
fn write_observation(
    writer: &mut Writer<'_>,
    obs: &Observation,
    classification: Option<&Classification>,
    origin: Origin<'_>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let classification = classification
        .map(|c| json_text(operation, c))
        .transpose()?;
    let ip = obs.ip.to_string();
    let seen = ts_to_sql(obs.seen_at);
    let details = json_text(operation, &obs.details)?;
    let (name, probe_result) = match origin {
        Origin::Probe {
            hostname,
            scan,
            seq,
        } => (obs.hostname.as_deref().or(hostname), Some((scan.0, seq))),
        Origin::Import => (obs.hostname.as_deref(), None),
    };
    let row = Row {
        ip: &ip,
        port: obs.port,
        transport: obs.transport.as_str(),
        protocol: obs.protocol.as_deref(),
        probe: &obs.probe,
        source: obs.source.as_str(),
        seen: &seen,
        name,
        hostname: obs.hostname.as_deref(),
        details: &details,
        classification: classification.as_deref(),
        probe_result,
    };
    writer.write(&row).map_err(query(operation))
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

/// Which details a read keeps: all, or those whose key the function accepts (the others are
/// skipped while parsing, never built).
type KeepDetails<'k> = Option<&'k dyn Fn(&str) -> bool>;

/// The JSON object of a details column, keeping only the keys `keep` accepts.
struct DetailsOnly<'k>(&'k dyn Fn(&str) -> bool);

impl<'de> serde::de::Visitor<'de> for DetailsOnly<'_> {
    type Value = Details;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Details, A::Error> {
        let mut out = Details::new();
        while let Some(key) = map.next_key_seed(KeyIfKept(self.0))? {
            match key {
                Some(key) => {
                    let value = map.next_value::<serde_json::Value>()?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A details key, owned only when kept (a skipped key is looked at where it lies, never
/// copied).
struct KeyIfKept<'k>(&'k dyn Fn(&str) -> bool);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIfKept<'_> {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyIfKept<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok((self.0)(v).then(|| v.to_owned()))
    }
}

/// The details of an observation row (`c` reads the observations table).
fn details_from_row(c: &Cols<'_, '_>, keep: KeepDetails<'_>) -> Result<Details, StoreError> {
    let Some(keep) = keep else {
        return c.json("details");
    };
    let text = c.text("details")?;
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut de, DetailsOnly(keep))
        .and_then(|d| de.end().map(|()| d))
        .map_err(|e| {
            codec::corrupt(
                "observations",
                format!("column details: invalid JSON ({e})"),
            )
        })
}

/// A service from a row of [`services_sql`]: the services row's columns joined with those of
/// the service's latest observation.
fn stored_service_from_row(
    row: &rusqlite::Row<'_>,
    keep: KeepDetails<'_>,
) -> Result<StoredService, StoreError> {
    let c = &Cols::new(row, "services");
    let o = &Cols::new(row, "observations");
    // Rebuild the latest observation, with the host name kept across sightings, so the record
    // comes from the one mapping the model defines.
    let latest = Observation {
        ip: c.ip("ip")?,
        port: c.uint("port")?,
        transport: c.name("transport", transport_parse)?,
        hostname: c.opt_string("hostname")?,
        protocol: o.opt_string("protocol")?,
        probe: o.text("probe")?.to_owned(),
        source: o.name("source", Source::parse)?,
        seen_at: c.timestamp("last_seen")?,
        details: details_from_row(o, keep)?,
    };
    let last_seen = latest.seen_at;
    let mut service = Service::from_observation_owned(latest);
    if let Some(v) = o.opt_json::<Classification>("classification")? {
        service.apply_classification(&v);
    }
    Ok(StoredService {
        service,
        first_seen: c.timestamp("first_seen")?,
        last_seen,
        sources: c.json("sources")?,
    })
}

/// Every service matching the filter (?1: address, ?2: scan), with its latest observation's
/// fields, in the table's order (row id, the order services were first stored), which the
/// trait promises is the same on every read of an unchanged store. A service without an
/// observation (never written so) reads as a corrupt row, not as a gap in the list.
fn services_sql() -> String {
    format!(
        "SELECT s.ip, s.port, s.transport, s.hostname, s.first_seen, s.last_seen,
                o.protocol, o.probe, o.details, o.source, o.classification,
                (SELECT json_group_array(src.source ORDER BY src.first_seen, src.source)
                 FROM service_sources src WHERE src.service_id = s.id) AS sources
         FROM services s
         LEFT JOIN observations o ON o.id = {LATEST_OBSERVATION}
         WHERE (?1 IS NULL OR s.ip = ?1)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM observations so
                                      WHERE so.service_id = s.id AND so.scan_id = ?2))
         ORDER BY s.id"
    )
}

impl SqliteStore {
    /// Starts the import checkpointer if the store is a file and it is not running.
    fn begin_import_checkpoints(&mut self) {
        if self.checkpointer.is_some() {
            return;
        }
        let Some(path) = &self.path else { return };
        if self
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .is_err()
        {
            return;
        }
        self.checkpointer = Checkpointer::start(path);
        if self.checkpointer.is_none() {
            let _ = self.restore_autocheckpoint();
        }
    }

    /// Stops the import checkpointer, if it runs, before a write that is not an import.
    fn end_import_checkpoints(&mut self, operation: &'static str) -> Result<(), StoreError> {
        if self.checkpointer.take().is_some() {
            self.restore_autocheckpoint().map_err(query(operation))?;
        }
        Ok(())
    }

    fn restore_autocheckpoint(&self) -> rusqlite::Result<()> {
        let pages = autocheckpoint_pages(&self.conn)?;
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)
    }

    /// One batch of imported sightings in one transaction (see `record_import_rows`).
    fn write_import_rows(&mut self, rows: &[ImportRow]) -> Result<(), StoreError> {
        let q = query("record imported observations");
        let tx = self.conn.transaction().map_err(&q)?;
        {
            let mut writer = Writer::new(&tx).map_err(&q)?;
            // In the order of the services' unique index (and of the hosts' key), so that
            // the index pages a batch touches are visited one after the other instead of at
            // random. The sort is stable: sightings of one service, and of one host, keep
            // their order, which is all the history depends on (the later write wins a tie).
            let mut order: Vec<&ImportRow> = rows.iter().collect();
            order.sort_by(|a, b| (&a.ip, a.port, a.transport).cmp(&(&b.ip, b.port, b.transport)));
            for row in order {
                writer.write(&Row::import(row)).map_err(&q)?;
            }
        }
        tx.commit().map_err(q)
    }
}

impl SqliteStore {
    /// The services of `filter` in the table's order (row id: the order in which services
    /// were first stored), one cursor, each record decoded and handed over before the next row
    /// is read.
    fn stream_services(
        &self,
        filter: &ServiceFilter,
        keep: KeepDetails<'_>,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.stream_services_of(&services_sql(), filter, keep, f)
    }

    /// [`SqliteStore::stream_services`] with the query given (tests read an older schema's
    /// store with that release's query).
    fn stream_services_of(
        &self,
        sql: &str,
        filter: &ServiceFilter,
        keep: KeepDetails<'_>,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        const OP: &str = "list services";
        // One read transaction: the scan check and the rows are one snapshot.
        let tx = self.conn.unchecked_transaction().map_err(query(OP))?;
        if let Some(scan) = filter.scan {
            scan_exists(&tx, scan, OP)?;
        }
        // One cursor: a row is decoded, handed over and forgotten before the next is read.
        let mut stmt = tx.prepare_cached(sql).map_err(query(OP))?;
        let ip = filter.ip.as_ref().map(IpAddr::to_string);
        let mut rows = stmt
            .query(params![ip, filter.scan.map(|s| s.0)])
            .map_err(query(OP))?;
        while let Some(row) = rows.next().map_err(query(OP))? {
            f(stored_service_from_row(row, keep)?)?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// [`Store::record`] with foreign keys already off.
    fn record_unchecked(&mut self, scan: ScanId, batch: Batch<'_>) -> Result<(), StoreError> {
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
            let mut writer = Writer::new(&tx).map_err(&q)?;
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
                    let verdict = r.classification.as_ref();
                    write_observation(&mut writer, obs, verdict, origin, OP)?;
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
}

impl Store for SqliteStore {
    fn create_scan(&mut self, scan: &NewScan) -> Result<ScanId, StoreError> {
        const OP: &str = "create a scan";
        self.end_import_checkpoints(OP)?;
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
        self.end_import_checkpoints(OP)?;
        // Foreign keys are not checked row by row, as in `record_import_rows`: the batch's
        // transaction finds its scan first, then writes each probe result before its
        // observation, and a sighting's host, service, history and observation in that order,
        // so every reference exists by construction (the tests run `foreign_key_check` after
        // recording). A check costs a seek per reference: 7 % of `record`'s instructions on
        // a batch of open results with observations.
        self.conn
            .pragma_update(None, "foreign_keys", false)
            .map_err(query(OP))?;
        let recorded = self.record_unchecked(scan, batch);
        let restored = self.conn.pragma_update(None, "foreign_keys", true);
        recorded?;
        restored.map_err(query(OP))
    }
    fn record_observations(&mut self, observations: &[Observation]) -> Result<(), StoreError> {
        const OP: &str = "record imported observations";
        self.end_import_checkpoints(OP)?;
        let tx = self.conn.transaction().map_err(query(OP))?;
        {
            let mut writer = Writer::new(&tx).map_err(query(OP))?;
            for obs in observations {
                write_observation(&mut writer, obs, None, Origin::Import, OP)?;
            }
        }
        tx.commit().map_err(query(OP))
    }

    fn record_import_rows(&mut self, rows: &[ImportRow]) -> Result<(), StoreError> {
        const OP: &str = "record imported observations";
        let q = query(OP);
        // Foreign keys are not checked row by row here: the writer upserts a sighting's host
        // before its service, and the service before its history and observation, so every
        // reference it makes exists by construction (the tests run `foreign_key_check` after
        // imports). Checking costs a seek per reference and a statement journal per statement,
        // about a tenth of a large import. The pragma is a no-op inside a transaction, so it
        // is switched around this one, and back on whatever happens.
        self.conn
            .pragma_update(None, "foreign_keys", false)
            .map_err(&q)?;
        self.begin_import_checkpoints();
        let written = self.write_import_rows(rows);
        let restored = self.conn.pragma_update(None, "foreign_keys", true);
        written?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wake();
        }
        restored.map_err(q)
    }

    fn finish_scan(
        &mut self,
        scan: ScanId,
        status: ScanStatus,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "finish a scan";
        self.end_import_checkpoints(OP)?;
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

    fn for_each_service(
        &self,
        filter: &ServiceFilter,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.stream_services(filter, None, f)
    }

    fn for_each_service_details(
        &self,
        filter: &ServiceFilter,
        keep: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(StoredService) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.stream_services(filter, Some(keep), f)
    }

    fn services(&self, filter: &ServiceFilter) -> Result<Vec<StoredService>, StoreError> {
        let mut out = Vec::new();
        self.for_each_service(filter, &mut |s| {
            out.push(s);
            Ok(())
        })?;
        // Addresses are stored as text, whose order is not address order (192.0.2.10 < 192.0.2.9),
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
            let mut service = Service::from_observation_owned(obs);
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

    /// The integer value of `PRAGMA name` on the store's connection.
    fn pragma(store: &SqliteStore, name: &str) -> i64 {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get(0))
            .unwrap()
    }

    /// `PRAGMA synchronous = NORMAL`.
    const NORMAL: i64 = 1;

    #[test]
    fn only_a_missing_or_empty_file_with_nothing_beside_it_is_a_new_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        assert!(is_new_store_file(&path));
        std::fs::write(&path, b"").unwrap();
        assert!(is_new_store_file(&path));
        for side in ["store.db-wal", "store.db-journal"] {
            std::fs::write(dir.path().join(side), b"x").unwrap();
            assert!(!is_new_store_file(&path), "{side}");
            std::fs::remove_file(dir.path().join(side)).unwrap();
        }
        std::fs::write(&path, b"x").unwrap();
        assert!(!is_new_store_file(&path));
        assert!(!is_new_store_file(dir.path()), "a directory");
    }

    #[test]
    fn a_new_store_and_a_reopened_one_both_write_with_synchronous_normal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(pragma(&store, "synchronous"), NORMAL);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(pragma(&store, "synchronous"), NORMAL);
        assert_eq!(
            pragma(&SqliteStore::open_in_memory().unwrap(), "synchronous"),
            NORMAL
        );
    }

    /// A store made anew has 16 KiB pages; a store made before (4 KiB pages, SQLite's
    /// default) keeps its own, reads and writes as before, and counts its WAL limit in its own
    /// pages.
    #[test]
    fn new_stores_get_large_pages_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(pragma(&store, "page_size"), NEW_STORE_PAGE_SIZE);
        assert_eq!(
            pragma(&store, "wal_autocheckpoint"),
            WAL_AUTOCHECKPOINT_BYTES / NEW_STORE_PAGE_SIZE
        );
        drop(store);
        assert_eq!(
            pragma(&SqliteStore::open(&path).unwrap(), "page_size"),
            NEW_STORE_PAGE_SIZE
        );

        // An older store: a file made with SQLite's default page size before medsurface
        // first opened it (it is not empty, so it is migrated, not made anew).
        let old = dir.path().join("old.db");
        let conn = Connection::open(&old).unwrap();
        conn.pragma_update(None, "page_size", 4096).unwrap();
        conn.pragma_update(None, "user_version", 0).unwrap();
        drop(conn);
        assert!(!is_new_store_file(&old));
        let mut store = SqliteStore::open(&old).unwrap();
        assert_eq!(pragma(&store, "page_size"), 4096);
        assert_eq!(
            pragma(&store, "wal_autocheckpoint"),
            WAL_AUTOCHECKPOINT_BYTES / 4096
        );
        let i = import("192.0.2.7", "2026-03-01T00:00:00Z", None, "p");
        let row = ImportRow::new(&i.observation, i.classification.as_ref()).unwrap();
        store.record_import_rows(&[row]).unwrap();
        drop(store);
        let store = SqliteStore::open(&old).unwrap();
        assert_eq!(pragma(&store, "page_size"), 4096);
        assert_eq!(count(&store, "observations"), 1);
    }

    fn import(addr: &str, seen: &str, name: Option<&str>, product: &str) -> crate::Import {
        use medsurface_model::classify::{Category, Confidence, Evidence};
        use medsurface_model::{Details, Transport};
        let mut details = Details::new();
        details.insert(
            "banner.text".into(),
            serde_json::json!(format!("seen {seen}")),
        );
        crate::Import {
            observation: Observation {
                ip: addr.parse().unwrap(),
                port: 104,
                transport: Transport::Tcp,
                hostname: name.map(str::to_owned),
                protocol: Some("dicom".into()),
                probe: "shodan".into(),
                source: Source::Shodan,
                seen_at: seen.parse().unwrap(),
                details,
            },
            classification: Some(Classification {
                signature: "test".into(),
                category: Category::Imaging,
                vendor: "Vendor".into(),
                product: product.into(),
                version: None,
                confidence: Confidence::High,
                evidence: vec![Evidence {
                    field: "port".into(),
                    rule: "equals 104".into(),
                }],
            }),
        }
    }

    fn count(store: &SqliteStore, table: &str) -> i64 {
        store
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn rows_encoded_ahead_store_what_imports_store_and_only_once() {
        // Two sightings of one service (the older one arrives last), one of another with a
        // host name, then a third sighting of the first without a name.
        let imports = [
            import(
                "192.0.2.7",
                "2026-03-05T00:00:00Z",
                Some("pacs.example"),
                "new",
            ),
            import("192.0.2.7", "2026-03-01T00:00:00Z", None, "old"),
            import(
                "2001:db8::8",
                "2026-03-02T00:00:00.5Z",
                Some("ris.example"),
                "v6",
            ),
            import("192.0.2.7", "2026-03-06T00:00:00Z", None, "newest"),
        ];
        let rows: Vec<ImportRow> = imports
            .iter()
            .map(|i| ImportRow::new(&i.observation, i.classification.as_ref()).unwrap())
            .collect();
        let mut by_import = SqliteStore::open_in_memory().unwrap();
        for i in &imports {
            by_import.record_imports(std::slice::from_ref(i)).unwrap();
        }
        let mut by_rows = SqliteStore::open_in_memory().unwrap();
        by_rows.record_import_rows(&rows[..2]).unwrap();
        by_rows.record_import_rows(&rows[2..]).unwrap();
        let all = ServiceFilter::default();
        let services = by_rows.services(&all).unwrap();
        assert_eq!(services, by_import.services(&all).unwrap());
        assert_eq!(services.len(), 2);
        let v4 = &services[0];
        assert_eq!(v4.first_seen, "2026-03-01T00:00:00Z".parse().unwrap());
        assert_eq!(v4.last_seen, "2026-03-06T00:00:00Z".parse().unwrap());
        assert_eq!(v4.service.hostname.as_deref(), Some("pacs.example"));
        assert_eq!(v4.sources, vec!["shodan".to_owned()]);
        assert_eq!(count(&by_rows, "observations"), 4);

        // The same rows again: nothing new.
        by_rows.record_import_rows(&rows).unwrap();
        assert_eq!(by_rows.services(&all).unwrap(), services);
        assert_eq!(count(&by_rows, "observations"), 4);
        assert_eq!(count(&by_rows, "hosts"), 2);

        // Written without foreign key checks, every reference holds, and the checks are on
        // again for every other write.
        assert_eq!(foreign_key_violations(&by_rows), 0);
        let on: bool = by_rows
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(on, "foreign keys are enforced again after an import");
    }

    #[test]
    fn every_sighting_is_kept_with_its_own_service_whether_the_service_is_new_or_not() {
        // New hosts and services, new services of known hosts, and sightings of known
        // services (whose upsert updates, so their id must be read, not taken from the last
        // insert), in one batch and across batches.
        let sightings = [
            ("192.0.2.1", 104, "2026-03-01T00:00:00Z"),
            ("192.0.2.1", 11112, "2026-03-01T00:00:01Z"),
            ("192.0.2.2", 104, "2026-03-01T00:00:02Z"),
            ("192.0.2.1", 104, "2026-03-02T00:00:00Z"),
            ("192.0.2.3", 4242, "2026-03-01T00:00:03Z"),
            ("192.0.2.2", 104, "2026-02-01T00:00:00Z"),
            ("192.0.2.1", 11112, "2026-03-03T00:00:00Z"),
            ("192.0.2.3", 104, "2026-03-04T00:00:00Z"),
        ];
        let rows: Vec<ImportRow> = sightings
            .iter()
            .map(|&(addr, port, seen)| {
                let mut i = import(addr, seen, None, "p");
                i.observation.port = port;
                i.observation
                    .details
                    .insert("at".into(), serde_json::json!(format!("{addr}:{port}")));
                ImportRow::new(&i.observation, i.classification.as_ref()).unwrap()
            })
            .collect();
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.record_import_rows(&rows[..3]).unwrap();
        store.record_import_rows(&rows[3..5]).unwrap();
        store.record_import_rows(&rows[5..]).unwrap();
        assert_eq!(count(&store, "observations"), 8);
        assert_eq!(count(&store, "services"), 5);
        let misplaced: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM observations o JOIN services s ON s.id = o.service_id
                 WHERE json_extract(o.details, '$.at') <> s.ip || ':' || s.port",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(misplaced, 0);
        let history: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM service_sources src JOIN services s ON s.id = src.service_id
                 WHERE src.first_seen = s.first_seen AND src.last_seen = s.last_seen",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(history, 5);
    }

    fn foreign_key_violations(store: &SqliteStore) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn recorded_batches_leave_every_reference_whole_and_foreign_keys_on() {
        use medsurface_model::{Checkpoint, Details, Transport};
        let mut store = SqliteStore::open_in_memory().unwrap();
        let scan = store
            .create_scan(&NewScan {
                args: vec![],
                plan: serde_json::json!({}),
                seed: 0,
                shard: Shard::WHOLE,
                total: 8,
                started_at: Timestamp::UNIX_EPOCH,
            })
            .unwrap();
        let results: Vec<ProbeResult> = (0..8u128)
            .map(|seq| {
                let ip: IpAddr = format!("192.0.2.{}", seq % 3 + 1).parse().unwrap();
                let open = seq % 4 != 3;
                ProbeResult {
                    seq,
                    ip,
                    port: 104 + (seq % 2) as u16,
                    hostname: None,
                    outcome: if open {
                        Outcome::Open
                    } else {
                        Outcome::Filtered
                    },
                    attempts: 1,
                    rtt_us: Some(5),
                    reason: None,
                    observation: open.then(|| Observation {
                        ip,
                        port: 104 + (seq % 2) as u16,
                        transport: Transport::Tcp,
                        hostname: None,
                        protocol: Some("dicom".into()),
                        probe: "dicom".into(),
                        source: Source::Scan,
                        seen_at: Timestamp::from_second(seq as i64).unwrap(),
                        details: Details::new(),
                    }),
                    classification: None,
                }
            })
            .collect();
        let mut checkpoint = Checkpoint::default();
        for r in &results {
            checkpoint.mark_done(r.seq);
        }
        for _replayed in 0..2 {
            let batch = Batch {
                results: &results,
                checkpoint: &checkpoint,
            };
            store.record(scan, batch).unwrap();
        }
        assert_eq!(count(&store, "observations"), 6);
        assert_eq!(count(&store, "services"), 5, "seqs 0 and 6 are one service");
        assert_eq!(foreign_key_violations(&store), 0);
        let on: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(on, 1);
        // A scan that does not exist is still refused, before anything is written.
        let batch = Batch {
            results: &results,
            checkpoint: &checkpoint,
        };
        let err = store.record(ScanId(scan.0 + 1), batch).unwrap_err();
        assert!(matches!(err, StoreError::ScanNotFound(_)), "{err}");
    }

    /// `n` import rows of distinct services on 198.18.x.y, each with ~1 KB of details.
    fn import_rows(first: u32, n: u32) -> Vec<ImportRow> {
        (first..first + n)
            .map(|i| {
                let ip = std::net::Ipv4Addr::from(0xC612_0000 + i).to_string();
                let mut row = import(&ip, "2026-03-05T00:00:00Z", None, "p");
                row.observation
                    .details
                    .insert("http.title".into(), serde_json::json!("x".repeat(1000)));
                ImportRow::new(&row.observation, row.classification.as_ref()).unwrap()
            })
            .collect()
    }

    #[test]
    fn imports_checkpoint_on_their_own_thread_and_other_writes_turn_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let wal = dir.path().join("store.db-wal");
        let mut store = SqliteStore::open(&path).unwrap();
        let mut wal_sizes = Vec::new();
        for batch in 0..6 {
            store
                .record_import_rows(&import_rows(batch * 500, 500))
                .unwrap();
            assert_eq!(
                pragma(&store, "wal_autocheckpoint"),
                0,
                "the writer does not checkpoint"
            );
            // Wait (bounded) for the checkpoint this commit asked for.
            let checkpointer = store.checkpointer.as_ref().expect("running");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while checkpointer.done.load(std::sync::atomic::Ordering::Acquire) < batch as u64 + 1 {
                assert!(std::time::Instant::now() < deadline, "no checkpoint ran");
                std::thread::sleep(Duration::from_millis(5));
            }
            wal_sizes.push(std::fs::metadata(&wal).unwrap().len());
        }
        // Each transaction starts the WAL over once the last one is copied back, so it stays
        // about the size of one transaction instead of growing with every batch (six times).
        assert!(
            wal_sizes[5] < 2 * wal_sizes[0],
            "the WAL kept growing: {wal_sizes:?}"
        );
        assert_eq!(count(&store, "observations"), 3000);

        // A scan's write ends the import mode: automatic checkpoints are back.
        store
            .create_scan(&crate::NewScan {
                args: vec![],
                plan: serde_json::json!({}),
                seed: 1,
                shard: crate::Shard::WHOLE,
                total: 1,
                started_at: "2026-03-05T00:00:00Z".parse().unwrap(),
            })
            .unwrap();
        assert!(store.checkpointer.is_none());
        assert_eq!(
            pragma(&store, "wal_autocheckpoint"),
            WAL_AUTOCHECKPOINT_BYTES / NEW_STORE_PAGE_SIZE
        );
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(count(&again, "observations"), 3000);
        assert_eq!(foreign_key_violations(&again), 0);
    }

    #[test]
    fn a_store_in_memory_imports_without_a_checkpointer() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.record_import_rows(&import_rows(0, 10)).unwrap();
        assert!(store.checkpointer.is_none());
        assert_eq!(count(&store, "observations"), 10);
    }

    #[test]
    fn the_foreign_key_check_of_the_import_tests_sees_a_dangling_reference() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let i = import("192.0.2.9", "2026-03-05T00:00:00Z", None, "p");
        let row = ImportRow::new(&i.observation, i.classification.as_ref()).unwrap();
        store.record_import_rows(&[row]).unwrap();
        assert_eq!(foreign_key_violations(&store), 0);
        store
            .conn
            .execute_batch(
                "PRAGMA foreign_keys = OFF; DELETE FROM hosts; PRAGMA foreign_keys = ON;",
            )
            .unwrap();
        assert_eq!(
            foreign_key_violations(&store),
            1,
            "the service's host is gone"
        );
    }

    #[test]
    fn scan_columns_name_every_counter() {
        for o in Outcome::ALL {
            assert!(SCAN_COLUMNS.contains(&format!("count_{}", o.as_str())));
        }
    }

    /// The query plan of `sql` (parameters bound to 1), one line per step.
    fn plan(store: &SqliteStore, sql: &str) -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let n = stmt.parameter_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(vec![1_i64; n]), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_services_latest_observation_is_read_from_the_index_without_sorting() {
        let store = SqliteStore::open_in_memory().unwrap();
        let services = plan(&store, &services_sql());
        assert!(
            services.contains("SEARCH l USING COVERING INDEX observations_by_service"),
            "{services}"
        );
        assert!(
            services.contains("SEARCH o USING INTEGER PRIMARY KEY"),
            "{services}"
        );
        assert!(
            !services.contains("SCAN l") && !services.contains("SCAN o"),
            "{services}"
        );
        // The only sort is that of a service's few sources, as before.
        let sorts: Vec<&str> = services
            .lines()
            .filter(|l| l.contains("TEMP B-TREE"))
            .collect();
        assert_eq!(
            sorts,
            ["USE TEMP B-TREE FOR json_group_array(ORDER BY)"],
            "{services}"
        );
        // A scan's observations are found through the partial index on (scan_id, seq).
        let scan = plan(
            &store,
            "SELECT o.id FROM observations o WHERE o.scan_id = ?1",
        );
        assert!(
            scan.contains("observations_by_probe_result (scan_id=?)"),
            "{scan}"
        );
        let joined = plan(
            &store,
            "SELECT p.seq, o.id FROM probe_results p
             LEFT JOIN observations o ON o.scan_id = p.scan_id AND o.seq = p.seq
             WHERE p.scan_id = ?1",
        );
        assert!(
            joined.contains("observations_by_probe_result (scan_id=? AND seq=?)"),
            "{joined}"
        );
    }

    /// The writes and the services query of schema 2 (as of commit fe0dc9c), to build a store
    /// as that code left it and read it as that code did.
    mod v2 {
        pub(super) const UPSERT_SERVICE: &str = "
            INSERT INTO services
                (ip, port, transport, protocol, probe, details, source, hostname, first_seen,
                 last_seen, classification)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
            ON CONFLICT (ip, port, transport) DO UPDATE SET
                classification = CASE WHEN excluded.last_seen >= services.last_seen
                                      THEN excluded.classification
                                      ELSE services.classification END,
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

        pub(super) const INSERT_OBSERVATION: &str = "
            INSERT INTO observations
                (service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
                 classification)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT DO NOTHING";

        pub(super) const SERVICES: &str = "
            SELECT s.ip, s.port, s.transport, s.protocol, s.probe, s.details, s.source,
                   s.hostname, s.first_seen, s.last_seen, s.classification,
                   (SELECT json_group_array(src.source ORDER BY src.first_seen, src.source)
                    FROM service_sources src WHERE src.service_id = s.id) AS sources
            FROM services s
            WHERE (?1 IS NULL OR s.ip = ?1)
              AND (?2 IS NULL OR EXISTS (SELECT 1 FROM observations o
                                         WHERE o.service_id = s.id AND o.scan_id = ?2))
            ORDER BY s.id";
    }

    /// A sighting as schema 2's writer stored it.
    struct Sighting<'a> {
        addr: &'a str,
        port: u16,
        source: Source,
        seen: &'a str,
        protocol: Option<&'a str>,
        hostname: Option<&'a str>,
        product: Option<&'a str>,
        /// (scan, seq) of a scan's open result; `None` for an import.
        probe_result: Option<(ScanId, i64)>,
    }

    fn write_v2(conn: &Connection, s: &Sighting<'_>) {
        use medsurface_model::classify::{Category, Confidence};
        let seen = ts_to_sql(s.seen.parse().unwrap());
        let mut details = Details::new();
        details.insert("banner.text".into(), serde_json::json!(s.seen));
        details.insert("dicom.aet".into(), serde_json::json!(s.addr));
        let details = serde_json::to_string(&details).unwrap();
        let classification = s.product.map(|p| {
            serde_json::to_string(&Classification {
                signature: format!("sig-{p}"),
                category: Category::Imaging,
                vendor: "Vendor".into(),
                product: p.into(),
                version: Some("1.0".into()),
                confidence: Confidence::High,
                evidence: vec![],
            })
            .unwrap()
        });
        let probe = match s.probe_result {
            Some(_) => "dicom",
            None => s.source.as_str(),
        };
        if let Some((scan, seq)) = s.probe_result {
            conn.execute(
                "INSERT INTO probe_results (scan_id, seq, ip, port, outcome, attempts, rtt_us)
                 VALUES (?1, ?2, ?3, ?4, 'open', 1, 900)",
                params![scan.0, seq, s.addr, s.port],
            )
            .unwrap();
        }
        conn.execute(UPSERT_HOST, params![s.addr, s.hostname, seen])
            .unwrap();
        let service: i64 = conn
            .query_row(
                v2::UPSERT_SERVICE,
                params![
                    s.addr,
                    s.port,
                    "tcp",
                    s.protocol,
                    probe,
                    details,
                    s.source.as_str(),
                    s.hostname,
                    seen,
                    classification
                ],
                |r| r.get(0),
            )
            .unwrap();
        conn.execute(UPSERT_SOURCE, params![service, s.source.as_str(), seen])
            .unwrap();
        let (scan, seq) = s.probe_result.map(|(scan, seq)| (scan.0, seq)).unzip();
        conn.execute(
            v2::INSERT_OBSERVATION,
            params![
                service,
                scan,
                seq,
                s.source.as_str(),
                probe,
                seen,
                s.protocol,
                s.hostname,
                details,
                classification
            ],
        )
        .unwrap();
    }

    /// Everything a reader can get out of a store.
    #[derive(Debug, PartialEq)]
    struct Reads {
        services: Vec<StoredService>,
        by_ip: Vec<StoredService>,
        by_scan: Vec<StoredService>,
        streamed: Vec<StoredService>,
        details_only: Vec<StoredService>,
        scan_services: Vec<Service>,
        probe_results: Vec<ProbeResult>,
        scans: Vec<ScanMeta>,
    }

    /// What the store's readers return; with `services_sql`, services are read with that
    /// query instead of this build's (as the release that wrote it did).
    fn reads(store: &SqliteStore, scan: ScanId, services_sql: Option<&str>) -> Reads {
        let sql = services_sql.map_or_else(super::services_sql, str::to_owned);
        let stream = |filter: &ServiceFilter, keep: KeepDetails<'_>| {
            let mut out = Vec::new();
            store
                .stream_services_of(&sql, filter, keep, &mut |s| {
                    out.push(s);
                    Ok(())
                })
                .unwrap();
            out
        };
        let sorted = |mut v: Vec<StoredService>| {
            v.sort_by(|a, b| {
                let key = |s: &StoredService| {
                    (s.service.ip, s.service.port, s.service.transport.as_str())
                };
                key(a).cmp(&key(b))
            });
            v
        };
        let all = ServiceFilter::default();
        let by_ip = ServiceFilter {
            ip: Some("192.0.2.7".parse().unwrap()),
            ..ServiceFilter::default()
        };
        let by_scan = ServiceFilter {
            scan: Some(scan),
            ..ServiceFilter::default()
        };
        let dicom_only = |k: &str| k.starts_with("dicom.");
        let (services, streamed, details_only) = if services_sql.is_some() {
            (
                sorted(stream(&all, None)),
                stream(&all, None),
                stream(&all, Some(&dicom_only)),
            )
        } else {
            let mut streamed = Vec::new();
            store
                .for_each_service(&all, &mut |s| {
                    streamed.push(s);
                    Ok(())
                })
                .unwrap();
            let mut details_only = Vec::new();
            store
                .for_each_service_details(&all, &dicom_only, &mut |s| {
                    details_only.push(s);
                    Ok(())
                })
                .unwrap();
            (store.services(&all).unwrap(), streamed, details_only)
        };
        Reads {
            services,
            by_ip: sorted(stream(&by_ip, None)),
            by_scan: sorted(stream(&by_scan, None)),
            streamed,
            details_only,
            scan_services: store.scan_services(scan).unwrap(),
            probe_results: store.probe_results(scan, None).unwrap(),
            scans: store.scans().unwrap(),
        }
    }

    fn ids(store: &SqliteStore, sql: &str) -> Vec<(i64, i64)> {
        let mut stmt = store.conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_schema_2_store_reads_the_same_after_migrating() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        migrations::migrate_through(&mut conn, ":memory:", &migrations::MIGRATIONS[..2]).unwrap();
        let mut store = SqliteStore {
            conn,
            path: None,
            checkpointer: None,
        };
        let scan = store
            .create_scan(&NewScan {
                args: vec!["medsurface".into(), "scan".into()],
                plan: serde_json::json!({}),
                seed: 7,
                shard: Shard::WHOLE,
                total: 3,
                started_at: "2026-03-04T00:00:00Z".parse().unwrap(),
            })
            .unwrap();
        let sighting = |addr, source, seen, product| Sighting {
            addr,
            port: 104,
            source,
            seen,
            protocol: Some("dicom"),
            hostname: None,
            product,
            probe_result: None,
        };
        let sightings = [
            // .7: an import naming the host, then a newer scan without a name, then an older
            // import that changes nothing.
            Sighting {
                hostname: Some("pacs.example"),
                ..sighting(
                    "192.0.2.7",
                    Source::Shodan,
                    "2026-03-01T00:00:00Z",
                    Some("a"),
                )
            },
            Sighting {
                protocol: None,
                probe_result: Some((scan, 0)),
                ..sighting("192.0.2.7", Source::Scan, "2026-03-04T00:00:01Z", None)
            },
            sighting(
                "192.0.2.7",
                Source::Censys,
                "2026-02-01T00:00:00Z",
                Some("old"),
            ),
            // .8: two sources tied on time, the later write wins; the scan saw it earlier.
            Sighting {
                probe_result: Some((scan, 1)),
                ..sighting("192.0.2.8", Source::Scan, "2026-03-04T00:00:02Z", Some("s"))
            },
            sighting(
                "192.0.2.8",
                Source::Shodan,
                "2026-03-05T00:00:00Z",
                Some("first"),
            ),
            sighting(
                "192.0.2.8",
                Source::Censys,
                "2026-03-05T00:00:00Z",
                Some("second"),
            ),
            // .9: imported twice, the second time with a newer verdict (same key), then an
            // identical copy of an older sighting.
            sighting(
                "192.0.2.9",
                Source::Shodan,
                "2026-03-02T00:00:00Z",
                Some("older"),
            ),
            sighting(
                "192.0.2.9",
                Source::Shodan,
                "2026-03-06T00:00:00Z",
                Some("v1"),
            ),
            sighting(
                "192.0.2.9",
                Source::Shodan,
                "2026-03-06T00:00:00Z",
                Some("v2"),
            ),
            sighting(
                "192.0.2.9",
                Source::Shodan,
                "2026-03-02T00:00:00Z",
                Some("older"),
            ),
        ];
        for s in &sightings {
            write_v2(&store.conn, s);
        }
        store
            .conn
            .execute(
                "INSERT INTO probe_results (scan_id, seq, ip, port, outcome, attempts)
                 VALUES (?1, 2, '192.0.2.10', 104, 'filtered', 2)",
                [scan.0],
            )
            .unwrap();
        let before = reads(&store, scan, Some(v2::SERVICES));
        let services_before = ids(&store, "SELECT id, port FROM services ORDER BY id");
        let observations_before = ids(
            &store,
            "SELECT id, service_id FROM observations ORDER BY id",
        );

        migrations::migrate(&mut store.conn, ":memory:").unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
        let after = reads(&store, scan, None);
        assert_eq!(after, before);
        assert_eq!(
            ids(&store, "SELECT id, port FROM services ORDER BY id"),
            services_before
        );
        assert_eq!(
            ids(
                &store,
                "SELECT id, service_id FROM observations ORDER BY id"
            ),
            observations_before
        );
        let violations: i64 = store
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);

        // What the stores hold, so that equal reads are not equally empty.
        let product = |s: &StoredService| s.service.product.clone();
        let got: Vec<_> = after
            .services
            .iter()
            .map(|s| (s.service.source, s.service.hostname.clone(), product(s)))
            .collect();
        assert_eq!(
            got,
            [
                (Source::Scan, Some("pacs.example".to_owned()), None),
                (Source::Censys, None, Some("second".to_owned())),
                (Source::Shodan, None, Some("v2".to_owned())),
            ]
        );
        assert_eq!(after.scan_services.len(), 2);
        assert_eq!(after.by_ip.len(), 1);
        assert_eq!(after.by_scan.len(), 2);
        assert_eq!(after.probe_results.len(), 3);
        assert_eq!(after.details_only[0].service.details.len(), 1);

        // Written on by this build, it keeps the rules: an older sighting changes nothing, a
        // newer one wins.
        let newer = Sighting {
            hostname: Some("ris.example"),
            ..sighting(
                "192.0.2.8",
                Source::Shodan,
                "2026-03-07T00:00:00Z",
                Some("new"),
            )
        };
        let import = |s: &Sighting<'_>| crate::Import {
            observation: Observation {
                ip: s.addr.parse().unwrap(),
                port: s.port,
                transport: medsurface_model::Transport::Tcp,
                hostname: s.hostname.map(str::to_owned),
                protocol: s.protocol.map(str::to_owned),
                probe: s.source.as_str().into(),
                source: s.source,
                seen_at: s.seen.parse().unwrap(),
                details: Details::new(),
            },
            classification: None,
        };
        let old = sighting("192.0.2.9", Source::Censys, "2026-01-01T00:00:00Z", None);
        store
            .record_imports(&[import(&newer), import(&old)])
            .unwrap();
        let later = store.services(&ServiceFilter::default()).unwrap();
        assert_eq!(later[1].service.hostname.as_deref(), Some("ris.example"));
        assert_eq!(later[1].service.product, None);
        assert_eq!(later[2].service, after.services[2].service);
        assert_eq!(later[2].first_seen, "2026-01-01T00:00:00Z".parse().unwrap());
    }
}
