//! The SQLite schema, as an ordered list of migration steps.
//!
//! Step `i` (0-based) takes a store from schema version `i` to `i + 1`; the version lives in
//! `PRAGMA user_version`. Steps are append-only: a released step is never edited, a change is a
//! new step. Each step runs in its own `IMMEDIATE` transaction that re-reads the version first,
//! so two processes opening a new file at once cannot both apply it. A store whose version is
//! above the last step was written by a newer medsurface and is refused rather than guessed at.
//!
//! `PRAGMA application_id` marks the file as ours, so `--db` pointed at some other program's
//! SQLite file is refused instead of having our tables added to it.
//!
//! Enumerated names (outcome, source, status, transport) are deliberately not `CHECK`ed in SQL:
//! SQLite cannot alter a `CHECK`, so a new import format would need a table rebuild. They are
//! validated when read back instead (an unknown name is `StoreError::Corrupt`).

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// "MSUR" — marks a SQLite file as a medsurface store.
pub(crate) const APPLICATION_ID: i32 = 0x4d53_5552;

/// Schema steps, oldest first. The schema version of a store is the number of steps applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    PRAGMA application_id = 1297306962; -- APPLICATION_ID, 0x4d535552

    CREATE TABLE scans (
        id                    INTEGER PRIMARY KEY,
        args                  TEXT NOT NULL,  -- JSON array of strings
        plan                  TEXT NOT NULL,  -- JSON, owned by the binary
        seed                  TEXT NOT NULL,  -- u64, decimal (may exceed i64)
        shard_index           INTEGER NOT NULL,
        shard_count           INTEGER NOT NULL,
        total                 TEXT NOT NULL,  -- u128, decimal
        started_at            TEXT NOT NULL,
        finished_at           TEXT,
        status                TEXT NOT NULL,  -- running | completed | interrupted
        count_open            INTEGER NOT NULL DEFAULT 0,
        count_closed          INTEGER NOT NULL DEFAULT 0,
        count_filtered        INTEGER NOT NULL DEFAULT 0,
        count_unreachable     INTEGER NOT NULL DEFAULT 0,
        count_error           INTEGER NOT NULL DEFAULT 0,
        checkpoint_watermark  TEXT NOT NULL DEFAULT '0',   -- u128, decimal
        checkpoint_done_above TEXT NOT NULL DEFAULT '[]',  -- JSON array of u128 decimal strings
        CHECK (shard_count >= 1 AND shard_index >= 0 AND shard_index < shard_count)
    );

    CREATE TABLE hosts (
        ip         TEXT PRIMARY KEY,  -- canonical text form (std IpAddr Display)
        hostname   TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL
    );

    -- One row per (ip, port, transport). protocol, probe, details, source and hostname are
    -- those of the latest observation (by seen_at), so reading services needs no join.
    CREATE TABLE services (
        id         INTEGER PRIMARY KEY,
        ip         TEXT NOT NULL REFERENCES hosts (ip),
        port       INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        transport  TEXT NOT NULL,
        protocol   TEXT,
        probe      TEXT NOT NULL,
        details    TEXT NOT NULL,  -- JSON object
        source     TEXT NOT NULL,
        hostname   TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        UNIQUE (ip, port, transport)
    );

    -- Which sources have seen a service, and when (first and last sighting per source).
    CREATE TABLE service_sources (
        service_id INTEGER NOT NULL REFERENCES services (id),
        source     TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        PRIMARY KEY (service_id, source)
    ) WITHOUT ROWID;

    -- Probe results other than `closed` (closed ports are only counted in scans).
    CREATE TABLE probe_results (
        scan_id   INTEGER NOT NULL REFERENCES scans (id),
        seq       INTEGER NOT NULL CHECK (seq >= 0),  -- u128 in the model, <= i64::MAX here
        ip        TEXT NOT NULL,
        port      INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        outcome   TEXT NOT NULL,
        attempts  INTEGER NOT NULL,
        rtt_us    INTEGER,
        reason    TEXT,
        hostname  TEXT,
        PRIMARY KEY (scan_id, seq)
    ) WITHOUT ROWID;

    -- Every sighting. Scan observations point at their probe result (scan_id, seq); imports
    -- have both NULL.
    CREATE TABLE observations (
        id         INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services (id),
        scan_id    INTEGER,
        seq        INTEGER,
        source     TEXT NOT NULL,
        probe      TEXT NOT NULL,
        seen_at    TEXT NOT NULL,
        protocol   TEXT,
        hostname   TEXT,
        details    TEXT NOT NULL,  -- JSON object
        UNIQUE (scan_id, seq),
        FOREIGN KEY (scan_id, seq) REFERENCES probe_results (scan_id, seq),
        CHECK ((scan_id IS NULL) = (seq IS NULL))
    );
    CREATE INDEX observations_by_service ON observations (service_id, seen_at);
    -- Importing the same file twice adds no observation.
    CREATE UNIQUE INDEX observations_import_once
        ON observations (service_id, source, probe, seen_at) WHERE scan_id IS NULL;
    "#,
    // 2: the classifier's verdict (JSON of model::classify::Classification), kept with each
    // observation and, for the latest sighting, with the service.
    r#"
    ALTER TABLE services ADD COLUMN classification TEXT;
    ALTER TABLE observations ADD COLUMN classification TEXT;
    "#,
    // 3: each sighting is stored once. A service no longer copies protocol, probe, details,
    // source and classification from its latest observation (an import wrote its ~1 KB of
    // details twice): reads take them from that observation, the one with the greatest
    // seen_at, the later write (greatest id) winning a tie, which is the rule the copy was kept
    // by. The service keeps its host name (coalesced across sightings) and first and last
    // sighting. Observations are rebuilt without the table's UNIQUE (scan_id, seq), whose index
    // held an entry for every import (both NULL) for nothing; a partial unique index keeps the
    // guarantee for scans. Ids are kept. Foreign keys stay on: nothing references
    // observations, so dropping the old table checks nothing, and every copied row is checked.
    r#"
    -- A stored sighting imported again in v2 (the same service, source, probe and time) kept
    -- its first observation row, but if it was the latest it set the service's columns to the
    -- new import's values (a re-import after a classifier update, say). Those values are moved
    -- into that observation, the one reads now take them from.
    UPDATE observations
    SET protocol = s.protocol, details = s.details, classification = s.classification
    FROM services s
    WHERE observations.service_id = s.id
      AND observations.scan_id IS NULL
      AND observations.source = s.source
      AND observations.probe = s.probe
      AND observations.seen_at = s.last_seen
      AND (observations.protocol IS NOT s.protocol
           OR observations.details IS NOT s.details
           OR observations.classification IS NOT s.classification);

    ALTER TABLE services DROP COLUMN protocol;
    ALTER TABLE services DROP COLUMN probe;
    ALTER TABLE services DROP COLUMN details;
    ALTER TABLE services DROP COLUMN source;
    ALTER TABLE services DROP COLUMN classification;

    CREATE TABLE observations_v3 (
        id             INTEGER PRIMARY KEY,
        service_id     INTEGER NOT NULL REFERENCES services (id),
        scan_id        INTEGER,
        seq            INTEGER,
        source         TEXT NOT NULL,
        probe          TEXT NOT NULL,
        seen_at        TEXT NOT NULL,
        protocol       TEXT,
        hostname       TEXT,
        details        TEXT NOT NULL,  -- JSON object
        classification TEXT,           -- JSON of model::classify::Classification
        FOREIGN KEY (scan_id, seq) REFERENCES probe_results (scan_id, seq),
        CHECK ((scan_id IS NULL) = (seq IS NULL))
    );
    INSERT INTO observations_v3
        (id, service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
         classification)
    SELECT id, service_id, scan_id, seq, source, probe, seen_at, protocol, hostname, details,
           classification
    FROM observations ORDER BY id;
    DROP TABLE observations;
    ALTER TABLE observations_v3 RENAME TO observations;
    -- A probe result has at most one observation.
    CREATE UNIQUE INDEX observations_by_probe_result
        ON observations (scan_id, seq) WHERE scan_id IS NOT NULL;
    -- A service's sightings in time order; with the row id (the write order) last, it gives
    -- the latest observation directly (ORDER BY seen_at DESC, id DESC LIMIT 1).
    CREATE INDEX observations_by_service ON observations (service_id, seen_at);
    -- Importing the same file twice adds no observation.
    CREATE UNIQUE INDEX observations_import_once
        ON observations (service_id, source, probe, seen_at) WHERE scan_id IS NULL;
    "#,
];

/// The schema [`MIGRATIONS`] leave a new store with, as SQLite keeps it: the text of every
/// `sqlite_schema` entry, in the order the steps leave them. A new, empty file is made a store
/// with this in one transaction instead of replaying the steps, which cost about 17 million
/// instructions (step 3 alone rewrites the schema five times over) and three commits before a
/// first scan could start. The store made so differs from one made by the steps only in which
/// pages hold which table (and in having no free pages). A test checks the text is the steps'
/// to the byte (`a_new_store_is_made_with_the_schema_the_steps_make`): a new step must update
/// it, and that test prints the text to paste.
pub(crate) const SCHEMA: &str = r#"
    PRAGMA application_id = 1297306962; -- APPLICATION_ID, 0x4d535552
    CREATE TABLE scans (
        id                    INTEGER PRIMARY KEY,
        args                  TEXT NOT NULL,  -- JSON array of strings
        plan                  TEXT NOT NULL,  -- JSON, owned by the binary
        seed                  TEXT NOT NULL,  -- u64, decimal (may exceed i64)
        shard_index           INTEGER NOT NULL,
        shard_count           INTEGER NOT NULL,
        total                 TEXT NOT NULL,  -- u128, decimal
        started_at            TEXT NOT NULL,
        finished_at           TEXT,
        status                TEXT NOT NULL,  -- running | completed | interrupted
        count_open            INTEGER NOT NULL DEFAULT 0,
        count_closed          INTEGER NOT NULL DEFAULT 0,
        count_filtered        INTEGER NOT NULL DEFAULT 0,
        count_unreachable     INTEGER NOT NULL DEFAULT 0,
        count_error           INTEGER NOT NULL DEFAULT 0,
        checkpoint_watermark  TEXT NOT NULL DEFAULT '0',   -- u128, decimal
        checkpoint_done_above TEXT NOT NULL DEFAULT '[]',  -- JSON array of u128 decimal strings
        CHECK (shard_count >= 1 AND shard_index >= 0 AND shard_index < shard_count)
    );
    CREATE TABLE hosts (
        ip         TEXT PRIMARY KEY,  -- canonical text form (std IpAddr Display)
        hostname   TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL
    );
    CREATE TABLE services (
        id         INTEGER PRIMARY KEY,
        ip         TEXT NOT NULL REFERENCES hosts (ip),
        port       INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        transport  TEXT NOT NULL,
        hostname   TEXT,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        UNIQUE (ip, port, transport)
    );
    CREATE TABLE service_sources (
        service_id INTEGER NOT NULL REFERENCES services (id),
        source     TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen  TEXT NOT NULL,
        PRIMARY KEY (service_id, source)
    ) WITHOUT ROWID;
    CREATE TABLE probe_results (
        scan_id   INTEGER NOT NULL REFERENCES scans (id),
        seq       INTEGER NOT NULL CHECK (seq >= 0),  -- u128 in the model, <= i64::MAX here
        ip        TEXT NOT NULL,
        port      INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        outcome   TEXT NOT NULL,
        attempts  INTEGER NOT NULL,
        rtt_us    INTEGER,
        reason    TEXT,
        hostname  TEXT,
        PRIMARY KEY (scan_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE "observations" (
        id             INTEGER PRIMARY KEY,
        service_id     INTEGER NOT NULL REFERENCES services (id),
        scan_id        INTEGER,
        seq            INTEGER,
        source         TEXT NOT NULL,
        probe          TEXT NOT NULL,
        seen_at        TEXT NOT NULL,
        protocol       TEXT,
        hostname       TEXT,
        details        TEXT NOT NULL,  -- JSON object
        classification TEXT,           -- JSON of model::classify::Classification
        FOREIGN KEY (scan_id, seq) REFERENCES probe_results (scan_id, seq),
        CHECK ((scan_id IS NULL) = (seq IS NULL))
    );
    CREATE UNIQUE INDEX observations_by_probe_result
        ON observations (scan_id, seq) WHERE scan_id IS NOT NULL;
    CREATE INDEX observations_by_service ON observations (service_id, seen_at);
    CREATE UNIQUE INDEX observations_import_once
        ON observations (service_id, source, probe, seen_at) WHERE scan_id IS NULL;
"#;

/// The schema version this build writes.
pub(crate) fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

#[derive(Debug, thiserror::Error)]
#[error("not a medsurface store (it is some other program's SQLite database)")]
struct NotAStore;

/// Brings the store up to [`known_version`], or refuses it. A new store is given [`SCHEMA`]
/// at once.
pub(crate) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    apply(conn, path, MIGRATIONS, Some(SCHEMA))
}

/// Brings the store up to the version of the last of `steps` (a prefix of [`MIGRATIONS`]),
/// one step after the other, even on a new store: tests use it to build a store as an older
/// release left it.
#[cfg(test)]
pub(crate) fn migrate_through(
    conn: &mut Connection,
    path: &str,
    steps: &[&str],
) -> Result<(), StoreError> {
    apply(conn, path, steps, None)
}

/// The steps from the store's version to the last of `steps`, each in its transaction; or, if
/// `schema` is given (the text the whole of `steps` leaves) and the store has nothing in it
/// yet, that schema and the last version in the first transaction.
fn apply(
    conn: &mut Connection,
    path: &str,
    steps: &[&str],
    schema: Option<&str>,
) -> Result<(), StoreError> {
    let open = |e: rusqlite::Error| StoreError::Open {
        path: path.to_owned(),
        source: Box::new(e),
    };
    for (step, sql) in steps.iter().enumerate() {
        let target = step as i64 + 1;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open)?;
        let app_id: i32 = tx
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(open)?;
        let objects: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(open)?;
        let ours = app_id == APPLICATION_ID || (app_id == 0 && objects == 0);
        if !ours {
            return Err(StoreError::Open {
                path: path.to_owned(),
                source: Box::new(NotAStore),
            });
        }
        if version > known_version() {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                known: known_version(),
            });
        }
        if version >= target {
            continue; // the transaction rolls back on drop: nothing was written
        }
        // Nothing at all in the file (no step, no table, no mark) is a new store: the
        // transaction that checked so makes it whole at once, so a second process opening
        // it finds either nothing or the whole schema.
        if let (0, 0, Some(schema)) = (version, objects, schema) {
            tx.execute_batch(schema).map_err(open)?;
            tx.pragma_update(None, "user_version", steps.len() as i64)
                .map_err(open)?;
            return tx.commit().map_err(open);
        }
        tx.execute_batch(sql).map_err(open)?;
        tx.pragma_update(None, "user_version", target)
            .map_err(open)?;
        tx.commit().map_err(open)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_id_in_the_first_step_matches_the_constant() {
        assert_eq!(APPLICATION_ID, 1_297_306_962);
        assert!(MIGRATIONS[0].contains(&APPLICATION_ID.to_string()));
    }

    #[test]
    fn a_new_store_gets_every_step_and_a_second_run_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, ":memory:").unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, known_version());
        assert!(known_version() >= 1);
        migrate(&mut conn, ":memory:").unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 6);
    }

    /// One `sqlite_schema` entry: type, name, table, text.
    type Entry = (String, String, String, Option<String>);

    /// The schema of a store, as SQLite keeps it, and its marks.
    fn schema_of(conn: &Connection) -> (Vec<Entry>, i64, i32) {
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid")
            .unwrap();
        let entries = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let version = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        let app_id = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        (entries, version, app_id)
    }

    #[test]
    fn a_new_store_is_made_with_the_schema_the_steps_make() {
        let mut by_steps = Connection::open_in_memory().unwrap();
        migrate_through(&mut by_steps, ":memory:", MIGRATIONS).unwrap();
        let mut at_once = Connection::open_in_memory().unwrap();
        migrate(&mut at_once, ":memory:").unwrap();
        let expected = schema_of(&by_steps);
        let made = schema_of(&at_once);
        if made != expected {
            let text: Vec<String> = expected
                .0
                .iter()
                .filter_map(|(.., sql)| sql.as_ref().map(|s| format!("    {s};")))
                .collect();
            panic!(
                "SCHEMA is not what the steps make; the steps make:\n{}",
                text.join("\n")
            );
        }
        assert_eq!(made.1, known_version());
        assert_eq!(made.2, APPLICATION_ID);
        // It was made at once: the steps leave the pages of the tables they rebuilt free.
        let free = |c: &Connection| -> i64 {
            c.pragma_query_value(None, "freelist_count", |r| r.get(0))
                .unwrap()
        };
        assert!(free(&by_steps) > 0);
        assert_eq!(free(&at_once), 0);
    }

    #[test]
    fn a_store_at_an_older_version_is_migrated_by_the_steps_not_remade() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_through(&mut conn, ":memory:", &MIGRATIONS[..1]).unwrap();
        conn.execute(
            "INSERT INTO hosts (ip, first_seen, last_seen) VALUES ('192.0.2.1', 'a', 'b')",
            [],
        )
        .unwrap();
        migrate(&mut conn, ":memory:").unwrap();
        let mut by_steps = Connection::open_in_memory().unwrap();
        migrate_through(&mut by_steps, ":memory:", MIGRATIONS).unwrap();
        assert_eq!(schema_of(&conn), schema_of(&by_steps));
        let hosts: i64 = conn
            .query_row("SELECT count(*) FROM hosts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hosts, 1);
    }

    #[test]
    fn another_programs_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE theirs (x)").unwrap();
        let err = migrate(&mut conn, "x.db").unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
        assert!(err.to_string().contains("x.db"));
    }
}
