//! Behaviour of `SqliteStore` through the `Store` trait: round trips, counters, replays,
//! service history, schema versions, corrupt files, and durability across a dropped writer and
//! a real SIGKILL.
//!
//! All tests are hermetic: in-memory stores or files in a fresh temporary directory.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use medsurface_model::{
    Checkpoint, Details, Observation, Outcome, OutcomeCounts, ProbeResult, ScanId, ScanStatus,
    Shard, Source, Timestamp, Transport,
};
use medsurface_store::{
    Batch, ImportRow, InvalidBatch, NewScan, ServiceFilter, SqliteStore, Store, StoreError,
    StoredService,
};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn new_scan(total: u128) -> NewScan {
    NewScan {
        args: vec!["medsurface".into(), "scan".into(), "192.0.2.0/24".into()],
        plan: serde_json::json!({"ports": [104, 2575], "rate": 100}),
        seed: u64::MAX - 3, // above i64::MAX on purpose
        shard: Shard { index: 1, count: 4 },
        total,
        started_at: ts("2026-03-01T10:00:00Z"),
    }
}

fn observation(
    addr: &str,
    port: u16,
    source: Source,
    seen_at: &str,
    protocol: &str,
) -> Observation {
    let mut details = Details::new();
    details.insert(
        "banner.text".into(),
        serde_json::json!(format!("{protocol} at {seen_at}")),
    );
    Observation {
        ip: ip(addr),
        port,
        transport: Transport::Tcp,
        hostname: None,
        protocol: Some(protocol.into()),
        probe: if source == Source::Scan {
            "banner".into()
        } else {
            source.as_str().into()
        },
        source,
        seen_at: ts(seen_at),
        details,
    }
}

fn result(seq: u128, addr: &str, port: u16, outcome: Outcome) -> ProbeResult {
    ProbeResult {
        seq,
        ip: ip(addr),
        port,
        hostname: None,
        outcome,
        attempts: 1,
        rtt_us: (outcome == Outcome::Open).then_some(1234),
        reason: (outcome == Outcome::Unreachable).then(|| "EHOSTUNREACH".to_owned()),
        observation: None,
        classification: None,
    }
}

fn open_result(seq: u128, obs: Observation) -> ProbeResult {
    let mut r = result(seq, &obs.ip.to_string(), obs.port, Outcome::Open);
    r.observation = Some(obs);
    r
}

/// A checkpoint with every number below `watermark` done.
fn upto(watermark: u128) -> Checkpoint {
    Checkpoint {
        watermark,
        done_above: BTreeSet::new(),
    }
}

fn counts(open: u64, closed: u64, filtered: u64, unreachable: u64, error: u64) -> OutcomeCounts {
    OutcomeCounts {
        open,
        closed,
        filtered,
        unreachable,
        error,
    }
}

fn query_source(err: &StoreError) -> Option<&InvalidBatch> {
    match err {
        StoreError::Query { source, .. } => source.downcast_ref::<InvalidBatch>(),
        _ => None,
    }
}

/// A raw connection to a store file, to look at or damage what the trait does not expose.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

#[test]
fn scan_round_trip_keeps_a_checkpoint_above_2_pow_64() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let total = 1u128 << 100;
    let id = store.create_scan(&new_scan(total)).unwrap();

    let meta = store.scan(id).unwrap();
    assert_eq!(meta.status, ScanStatus::Running);
    assert_eq!(meta.total, total);
    assert_eq!(meta.seed, u64::MAX - 3);
    assert_eq!(meta.shard, Shard { index: 1, count: 4 });
    assert_eq!(meta.args[2], "192.0.2.0/24");
    assert_eq!(meta.plan["rate"], 100);
    assert_eq!(meta.started_at, ts("2026-03-01T10:00:00Z"));
    assert_eq!(meta.finished_at, None);
    assert_eq!(meta.checkpoint, Checkpoint::default());

    let big = (1u128 << 64) + 5;
    let checkpoint = Checkpoint {
        watermark: big,
        done_above: BTreeSet::from([big + 2, (1u128 << 100) - 1]),
    };
    let results = [result(3, "192.0.2.1", 104, Outcome::Filtered)];
    store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &checkpoint,
            },
        )
        .unwrap();

    let meta = store.scan(id).unwrap();
    assert_eq!(meta.checkpoint, checkpoint);
    assert_eq!(meta.counts, counts(0, 0, 1, 0, 0));
    assert_eq!(store.scans().unwrap(), vec![meta]);
}

#[test]
fn scans_are_listed_oldest_first_and_finish_sets_status_and_time() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let a = store.create_scan(&new_scan(10)).unwrap();
    let b = store.create_scan(&new_scan(20)).unwrap();
    store
        .finish_scan(a, ScanStatus::Interrupted, ts("2026-03-01T11:00:00.25Z"))
        .unwrap();
    let scans = store.scans().unwrap();
    assert_eq!(scans.iter().map(|s| s.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(scans[0].status, ScanStatus::Interrupted);
    assert_eq!(scans[0].finished_at, Some(ts("2026-03-01T11:00:00.25Z")));
    assert_eq!(scans[1].status, ScanStatus::Running);

    // A resumed scan is marked running again, without a finish time.
    store
        .finish_scan(a, ScanStatus::Running, ts("2026-03-02T00:00:00Z"))
        .unwrap();
    let meta = store.scan(a).unwrap();
    assert_eq!((meta.status, meta.finished_at), (ScanStatus::Running, None));
    store
        .finish_scan(a, ScanStatus::Completed, ts("2026-03-02T01:00:00Z"))
        .unwrap();
    assert_eq!(store.scan(a).unwrap().status, ScanStatus::Completed);
}

#[test]
fn an_unknown_scan_is_scan_not_found_everywhere() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let missing = ScanId(42);
    let is_not_found =
        |r: Result<(), StoreError>| matches!(r, Err(StoreError::ScanNotFound(ScanId(42))));
    assert!(is_not_found(store.scan(missing).map(drop)));
    assert!(is_not_found(store.probe_results(missing, None).map(drop)));
    assert!(is_not_found(
        store
            .services(&ServiceFilter {
                scan: Some(missing),
                ip: None
            })
            .map(drop)
    ));
    assert!(is_not_found(store.finish_scan(
        missing,
        ScanStatus::Completed,
        ts("2026-03-01T00:00:00Z")
    )));
    let results = [result(0, "192.0.2.1", 104, Outcome::Closed)];
    assert!(is_not_found(store.record(
        missing,
        Batch {
            results: &results,
            checkpoint: &upto(1)
        }
    )));
}

#[test]
fn counters_count_every_outcome_but_rows_skip_closed() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(8)).unwrap();
    let results = [
        open_result(
            0,
            observation(
                "192.0.2.1",
                104,
                Source::Scan,
                "2026-03-01T10:00:01Z",
                "dicom",
            ),
        ),
        result(1, "192.0.2.1", 2575, Outcome::Closed),
        result(2, "192.0.2.2", 104, Outcome::Closed),
        result(3, "192.0.2.2", 2575, Outcome::Filtered),
        result(4, "192.0.2.3", 104, Outcome::Unreachable),
        result(5, "192.0.2.3", 2575, Outcome::Error),
        result(6, "192.0.2.4", 104, Outcome::Open), // open without an observation
        result(7, "192.0.2.4", 2575, Outcome::Closed),
    ];
    store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &upto(8),
            },
        )
        .unwrap();

    assert_eq!(store.scan(id).unwrap().counts, counts(2, 3, 1, 1, 1));
    let rows = store.probe_results(id, None).unwrap();
    let seqs: Vec<u128> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        vec![0, 3, 4, 5, 6],
        "closed results are counted, not kept"
    );
    assert_eq!(
        store.probe_results(id, Some(Outcome::Closed)).unwrap(),
        vec![]
    );
    // Only the open result with an observation made a service.
    let services = store.services(&ServiceFilter::default()).unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].service.protocol.as_deref(), Some("dicom"));
}

#[test]
fn probe_results_round_trip_with_their_observation_in_seq_order() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(20)).unwrap();
    let mut obs = observation(
        "2001:db8::7",
        4242,
        Source::Scan,
        "2026-03-01T10:00:01.123456789Z",
        "dicom",
    );
    obs.hostname = Some("pacs.example.org".into());
    obs.details
        .insert("dicom.accepts_any_ae".into(), serde_json::json!(true));
    let mut open = open_result(10, obs);
    open.hostname = Some("pacs.example.org".into());
    open.attempts = 2;
    let mut filtered = result(9, "2001:db8::8", 104, Outcome::Filtered);
    filtered.attempts = 3;
    let unreachable = result(2, "2001:db8::9", 104, Outcome::Unreachable);
    let results = vec![open.clone(), filtered.clone(), unreachable.clone()];
    let checkpoint = Checkpoint {
        watermark: 0,
        done_above: BTreeSet::from([2, 9, 10]),
    };
    store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &checkpoint,
            },
        )
        .unwrap();

    // Numeric order (2, 9, 10), not text order, and every field back as it went in.
    assert_eq!(
        store.probe_results(id, None).unwrap(),
        vec![unreachable, filtered.clone(), open.clone()]
    );
    assert_eq!(
        store.probe_results(id, Some(Outcome::Filtered)).unwrap(),
        vec![filtered]
    );
    assert_eq!(
        store.probe_results(id, Some(Outcome::Open)).unwrap(),
        vec![open]
    );
}

#[test]
fn replaying_a_batch_duplicates_nothing() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(6)).unwrap();
    let results = [
        open_result(
            0,
            observation(
                "192.0.2.1",
                104,
                Source::Scan,
                "2026-03-01T10:00:01Z",
                "dicom",
            ),
        ),
        result(1, "192.0.2.1", 2575, Outcome::Closed),
        result(2, "192.0.2.2", 104, Outcome::Filtered),
        result(3, "192.0.2.2", 2575, Outcome::Closed),
    ];
    let batch = Batch {
        results: &results,
        checkpoint: &upto(4),
    };
    store.record(id, batch).unwrap();
    let meta = store.scan(id).unwrap();
    let rows = store.probe_results(id, None).unwrap();
    let services = store.services(&ServiceFilter::default()).unwrap();
    assert_eq!(meta.counts, counts(1, 2, 1, 0, 0));

    store.record(id, batch).unwrap();
    assert_eq!(
        store.scan(id).unwrap(),
        meta,
        "counts and checkpoint unchanged"
    );
    assert_eq!(store.probe_results(id, None).unwrap(), rows);
    assert_eq!(store.services(&ServiceFilter::default()).unwrap(), services);

    // A batch that repeats a seq inside itself counts it once too.
    let twice = [
        result(4, "192.0.2.3", 104, Outcome::Closed),
        result(4, "192.0.2.3", 104, Outcome::Closed),
    ];
    store
        .record(
            id,
            Batch {
                results: &twice,
                checkpoint: &upto(5),
            },
        )
        .unwrap();
    assert_eq!(store.scan(id).unwrap().counts, counts(1, 3, 1, 0, 0));
}

#[test]
fn an_older_batch_replayed_late_does_not_move_the_checkpoint_back() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(10)).unwrap();
    let first = [
        result(0, "192.0.2.1", 104, Outcome::Closed),
        result(1, "192.0.2.1", 105, Outcome::Filtered),
    ];
    let first_cp = upto(2);
    let second = [
        result(2, "192.0.2.2", 104, Outcome::Closed),
        result(5, "192.0.2.2", 105, Outcome::Closed),
    ];
    let second_cp = Checkpoint {
        watermark: 3,
        done_above: BTreeSet::from([5]),
    };
    store
        .record(
            id,
            Batch {
                results: &first,
                checkpoint: &first_cp,
            },
        )
        .unwrap();
    store
        .record(
            id,
            Batch {
                results: &second,
                checkpoint: &second_cp,
            },
        )
        .unwrap();
    store
        .record(
            id,
            Batch {
                results: &first,
                checkpoint: &first_cp,
            },
        )
        .unwrap();
    let meta = store.scan(id).unwrap();
    assert_eq!(meta.checkpoint, second_cp);
    assert_eq!(meta.counts, counts(0, 3, 1, 0, 0));
}

#[test]
fn a_seq_above_i64_max_is_refused_and_nothing_of_the_batch_is_written() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(u128::MAX)).unwrap();
    let too_big = u128::from(i64::MAX as u64) + 1;
    let results = [
        result(0, "192.0.2.1", 104, Outcome::Filtered),
        result(too_big, "192.0.2.1", 105, Outcome::Filtered),
    ];
    let checkpoint = Checkpoint {
        watermark: 1,
        done_above: BTreeSet::from([too_big]),
    };
    let err = store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &checkpoint,
            },
        )
        .unwrap_err();
    assert_eq!(
        query_source(&err),
        Some(&InvalidBatch::SeqTooLarge(too_big)),
        "{err}"
    );
    let meta = store.scan(id).unwrap();
    assert_eq!(
        (meta.counts, meta.checkpoint),
        (OutcomeCounts::default(), Checkpoint::default())
    );
    assert_eq!(
        store.probe_results(id, None).unwrap(),
        vec![],
        "the first result was rolled back"
    );
}

#[test]
fn a_batch_whose_checkpoint_does_not_cover_its_results_is_refused() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let id = store.create_scan(&new_scan(10)).unwrap();
    let results = [
        result(0, "192.0.2.1", 104, Outcome::Filtered),
        result(7, "192.0.2.1", 105, Outcome::Closed),
    ];
    let err = store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &upto(1),
            },
        )
        .unwrap_err();
    assert_eq!(
        query_source(&err),
        Some(&InvalidBatch::NotCovered(7)),
        "{err}"
    );
    assert_eq!(store.probe_results(id, None).unwrap(), vec![]);
}

#[test]
fn services_keep_history_across_two_scans_and_an_import() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let first = store.create_scan(&new_scan(1)).unwrap();
    let second = store.create_scan(&new_scan(1)).unwrap();
    let at = |s| observation("192.0.2.7", 104, Source::Scan, s, "dicom");

    let r1 = [open_result(0, at("2026-03-01T10:00:00Z"))];
    store
        .record(
            first,
            Batch {
                results: &r1,
                checkpoint: &upto(1),
            },
        )
        .unwrap();
    let mut shodan = observation(
        "192.0.2.7",
        104,
        Source::Shodan,
        "2026-03-05T00:00:00Z",
        "dicom",
    );
    shodan.hostname = Some("pacs.example.org".into());
    shodan.details.insert(
        "dicom.implementation_class_uid".into(),
        serde_json::json!("1.2.3"),
    );
    store
        .record_observations(std::slice::from_ref(&shodan))
        .unwrap();
    let r2 = [open_result(0, at("2026-03-08T10:00:00Z"))];
    store
        .record(
            second,
            Batch {
                results: &r2,
                checkpoint: &upto(1),
            },
        )
        .unwrap();

    let all = store.services(&ServiceFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "one service, seen three times");
    let s = &all[0];
    assert_eq!(s.first_seen, ts("2026-03-01T10:00:00Z"));
    assert_eq!(s.last_seen, ts("2026-03-08T10:00:00Z"));
    assert_eq!(s.sources, vec!["scan".to_owned(), "shodan".to_owned()]);
    // The record is the latest sighting (the second scan), keeping the name the import knew.
    assert_eq!(s.service.source, Source::Scan);
    assert_eq!(s.service.seen_at, ts("2026-03-08T10:00:00Z"));
    assert_eq!(s.service.details, at("2026-03-08T10:00:00Z").details);
    assert_eq!(s.service.hostname.as_deref(), Some("pacs.example.org"));

    // Each scan sees it; the filter by scan finds it through that scan's observation.
    for scan in [first, second] {
        let by_scan = store
            .services(&ServiceFilter {
                scan: Some(scan),
                ip: None,
            })
            .unwrap();
        assert_eq!(by_scan, all);
    }
    let third = store.create_scan(&new_scan(1)).unwrap();
    assert_eq!(
        store
            .services(&ServiceFilter {
                scan: Some(third),
                ip: None
            })
            .unwrap(),
        vec![]
    );
}

#[test]
fn an_older_import_does_not_replace_the_latest_sighting() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let scan = store.create_scan(&new_scan(1)).unwrap();
    let live = observation(
        "192.0.2.7",
        8080,
        Source::Scan,
        "2026-03-08T10:00:00Z",
        "fhir",
    );
    store
        .record(
            scan,
            Batch {
                results: &[open_result(0, live.clone())],
                checkpoint: &upto(1),
            },
        )
        .unwrap();
    let old = observation(
        "192.0.2.7",
        8080,
        Source::Censys,
        "2025-11-01T00:00:00Z",
        "http",
    );
    store.record_observations(&[old]).unwrap();

    let s = &store.services(&ServiceFilter::default()).unwrap()[0];
    assert_eq!(s.service.protocol.as_deref(), Some("fhir"));
    assert_eq!(s.service.source, Source::Scan);
    assert_eq!(s.service.details, live.details);
    assert_eq!(s.first_seen, ts("2025-11-01T00:00:00Z"));
    assert_eq!(s.last_seen, ts("2026-03-08T10:00:00Z"));
    assert_eq!(
        s.sources,
        vec!["censys".to_owned(), "scan".to_owned()],
        "ordered by first sighting"
    );
}

#[test]
fn importing_the_same_file_twice_adds_no_observation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let file = [
        observation(
            "192.0.2.7",
            104,
            Source::Shodan,
            "2026-03-05T00:00:00Z",
            "dicom",
        ),
        observation(
            "192.0.2.8",
            104,
            Source::Shodan,
            "2026-03-05T00:00:00Z",
            "dicom",
        ),
    ];
    store.record_observations(&file).unwrap();
    let services = store.services(&ServiceFilter::default()).unwrap();
    store.record_observations(&file).unwrap();
    assert_eq!(store.services(&ServiceFilter::default()).unwrap(), services);
    let n: i64 = raw(&path)
        .query_row("SELECT count(*) FROM observations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn services_are_ordered_by_address_and_filtered_by_address() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let seen = "2026-03-05T00:00:00Z";
    store
        .record_observations(&[
            observation("2001:db8::1", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.10", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.9", 11112, Source::Shodan, seen, "dicom"),
            observation("192.0.2.9", 104, Source::Shodan, seen, "dicom"),
        ])
        .unwrap();
    let order: Vec<(IpAddr, u16)> = store
        .services(&ServiceFilter::default())
        .unwrap()
        .iter()
        .map(|s| (s.service.ip, s.service.port))
        .collect();
    assert_eq!(
        order,
        vec![
            (ip("192.0.2.9"), 104),
            (ip("192.0.2.9"), 11112),
            (ip("192.0.2.10"), 104),
            (ip("2001:db8::1"), 104)
        ]
    );
    let one = store
        .services(&ServiceFilter {
            scan: None,
            ip: Some(ip("192.0.2.9")),
        })
        .unwrap();
    assert_eq!(
        one.iter().map(|s| s.service.port).collect::<Vec<_>>(),
        vec![104, 11112]
    );
}

/// Every service [`Store::for_each_service`] hands over, in its order.
fn streamed(store: &SqliteStore, filter: &ServiceFilter) -> Vec<StoredService> {
    let mut out = Vec::new();
    store
        .for_each_service(filter, &mut |s| {
            out.push(s);
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn streamed_services_are_the_listed_ones_in_first_stored_order_every_time() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let seen = "2026-03-05T00:00:00Z";
    // Stored in an order that is neither address order nor text order.
    store
        .record_observations(&[
            observation("2001:db8::1", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.10", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.9", 11112, Source::Shodan, seen, "dicom"),
            observation("198.51.100.3", 2575, Source::Shodan, seen, "hl7"),
            observation("192.0.2.9", 104, Source::Shodan, seen, "dicom"),
        ])
        .unwrap();
    // A later sighting of a stored service updates it in place: it keeps its position.
    store
        .record_observations(&[observation(
            "192.0.2.10",
            104,
            Source::Censys,
            "2026-03-06T00:00:00Z",
            "dicom",
        )])
        .unwrap();

    let all = streamed(&store, &ServiceFilter::default());
    let order: Vec<(IpAddr, u16)> = all.iter().map(|s| (s.service.ip, s.service.port)).collect();
    assert_eq!(
        order,
        vec![
            (ip("2001:db8::1"), 104),
            (ip("192.0.2.10"), 104),
            (ip("192.0.2.9"), 11112),
            (ip("198.51.100.3"), 2575),
            (ip("192.0.2.9"), 104),
        ]
    );
    assert_eq!(
        all[1].sources,
        vec!["shodan".to_owned(), "censys".to_owned()]
    );
    assert_eq!(all[1].last_seen, ts("2026-03-06T00:00:00Z"));
    // The same records as services(), which sorts them by address and port.
    let mut sorted = all.clone();
    sorted.sort_by_key(|s| (s.service.ip, s.service.port));
    assert_eq!(sorted, store.services(&ServiceFilter::default()).unwrap());
    // A second pass over the unchanged store sees the same sequence.
    assert_eq!(streamed(&store, &ServiceFilter::default()), all);
    // Filters apply as in services().
    let one = ServiceFilter {
        scan: None,
        ip: Some(ip("192.0.2.9")),
    };
    assert_eq!(
        streamed(&store, &one)
            .iter()
            .map(|s| s.service.port)
            .collect::<Vec<_>>(),
        vec![11112, 104]
    );
    let none = store.create_scan(&new_scan(1)).unwrap();
    let by_scan = ServiceFilter {
        scan: Some(none),
        ip: None,
    };
    assert!(streamed(&store, &by_scan).is_empty());
    let missing = ServiceFilter {
        scan: Some(ScanId(none.0 + 100)),
        ip: None,
    };
    assert!(matches!(
        store.for_each_service(&missing, &mut |_| Ok(())),
        Err(StoreError::ScanNotFound(_))
    ));
}

#[test]
fn an_error_from_the_callback_stops_the_stream_and_is_returned() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let seen = "2026-03-05T00:00:00Z";
    store
        .record_observations(&[
            observation("192.0.2.1", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.2", 104, Source::Shodan, seen, "dicom"),
            observation("192.0.2.3", 104, Source::Shodan, seen, "dicom"),
        ])
        .unwrap();
    let mut calls = 0;
    let err = store
        .for_each_service(&ServiceFilter::default(), &mut |_| {
            calls += 1;
            if calls == 2 {
                Err(StoreError::Corrupt {
                    table: "services",
                    detail: "stop here".into(),
                })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(calls, 2);
    assert!(err.to_string().contains("stop here"), "{err}");
}

#[test]
fn streaming_some_details_keeps_exactly_those_and_reports_bad_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let seen = "2026-03-05T00:00:00Z";
    let mut rich = observation("192.0.2.1", 104, Source::Shodan, seen, "dicom");
    for (k, v) in [
        ("dicom.max_pdu_length", serde_json::json!(16382)),
        ("dicom.accepts_any_ae", serde_json::json!(true)),
        ("http.status", serde_json::json!(200.5e-3)),
        ("shodan.vulns", serde_json::json!(["CVE-2026-0001"])),
        (
            "shodan.raw",
            serde_json::json!({"nested": [1, {"a": "\u{e9}\"q\""}], "n": null}),
        ),
        ("z.escaped \"key\"", serde_json::json!("v")),
    ] {
        rich.details.insert(k.into(), v);
    }
    store
        .record_observations(&[
            rich,
            observation("192.0.2.2", 2575, Source::Shodan, seen, "hl7"),
        ])
        .unwrap();
    let keep = |k: &str| k.starts_with("dicom.") || k == "banner.text" || k.starts_with("z.");
    let mut cut = Vec::new();
    store
        .for_each_service_details(&ServiceFilter::default(), &keep, &mut |s| {
            cut.push(s);
            Ok(())
        })
        .unwrap();
    // The same as reading everything and dropping the other keys afterwards.
    let mut expected = streamed(&store, &ServiceFilter::default());
    for s in &mut expected {
        s.service.details.retain(|k, _| keep(k));
    }
    assert_eq!(cut.len(), 2);
    assert_eq!(
        cut.iter().map(|s| &s.service.details).collect::<Vec<_>>(),
        expected
            .iter()
            .map(|s| &s.service.details)
            .collect::<Vec<_>>()
    );
    let keys: Vec<&str> = cut[0].service.details.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "banner.text",
            "dicom.accepts_any_ae",
            "dicom.max_pdu_length",
            "z.escaped \"key\""
        ]
    );
    assert_eq!(
        cut[0].service.details["dicom.max_pdu_length"],
        serde_json::json!(16382)
    );
    // Fields read from details follow the kept ones: no Shodan vulnerability list here.
    assert!(cut[0].service.vulnerabilities.is_empty());
    assert_eq!(
        expected[0].service.vulnerabilities.len(),
        1,
        "the full read has it"
    );
    assert_eq!(cut[0].service.category, expected[0].service.category);

    // Bad details JSON is a corrupt row, not a panic, whether a key is kept or skipped.
    for bad in [
        "{\"dicom.x\": [1,",
        "{\"other\": {\"a\": }",
        "[1, 2]",
        "{} trailing",
    ] {
        raw(&path)
            .execute(
                "UPDATE observations SET details = ?1
                 WHERE service_id = (SELECT id FROM services WHERE ip = '192.0.2.2')",
                [bad],
            )
            .unwrap();
        let err = store
            .for_each_service_details(&ServiceFilter::default(), &keep, &mut |_| Ok(()))
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { table: "observations", detail } if detail.contains("details")),
            "{bad}: {err}"
        );
    }
}

#[test]
fn open_creates_parent_directories_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    drop(store);
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
}

/// A new store is made without fsyncs (see `SqliteStore::init`), so after a power loss during
/// its first moments the file may be found in any state its unsynced writes could leave: each
/// must open as a store or be refused with an error naming the file.
#[test]
fn what_a_crash_while_creating_a_store_can_leave_opens_or_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    {
        let mut store = SqliteStore::open(&reference).unwrap();
        let id = store.create_scan(&new_scan(1)).unwrap();
        let results = [result(0, "192.0.2.1", 104, Outcome::Filtered)];
        let batch = Batch {
            results: &results,
            checkpoint: &upto(1),
        };
        store.record(id, batch).unwrap();
        // Kept open: its WAL is what a crash before the first checkpoint leaves.
        let wal = std::fs::read(dir.path().join("reference.db-wal")).unwrap();
        let head = std::fs::read(&reference).unwrap();
        assert!(!wal.is_empty() && head.len() >= 4096);

        let opens = |name: &str, db: &[u8], wal: Option<&[u8]>| {
            let path = dir.path().join(name);
            std::fs::write(&path, db).unwrap();
            if let Some(wal) = wal {
                let mut side = path.clone().into_os_string();
                side.push("-wal");
                std::fs::write(side, wal).unwrap();
            }
            let opened = SqliteStore::open(&path);
            if let Ok(store) = &opened {
                // Whatever survived, the store is whole and usable.
                assert!(store.scans().unwrap().len() <= 1, "{name}");
            }
            opened.map(drop).map_err(|e| e.to_string())
        };
        // Nothing reached the disk but the file's name: a new store, made now.
        assert_eq!(opens("empty.db", b"", None), Ok(()));
        // The WAL did, the file's first page did not: SQLite drops such a WAL.
        assert_eq!(opens("empty-with-wal.db", b"", Some(&wal)), Ok(()));
        // The first page did, the WAL did not: the empty store as the switch to WAL left it.
        assert_eq!(opens("no-wal.db", &head[..4096], None), Ok(()));
        // Both did, the WAL torn: the commits before the tear.
        assert_eq!(
            opens("torn-wal.db", &head[..4096], Some(&wal[..wal.len() / 2])),
            Ok(())
        );
        // The file's first page came back zeroed or torn: with the whole WAL, which holds a
        // newer copy of that page, the store is whole; otherwise it is refused, naming the file.
        let mut torn = head[..4096].to_vec();
        torn[..16].fill(0);
        let zeroed_wal = vec![0; wal.len()];
        for (name, db) in [("zeroed.db", vec![0; 4096]), ("torn.db", torn)] {
            assert_eq!(opens(&format!("wal-{name}"), &db, Some(&wal)), Ok(()));
            for (case, wal) in [
                ("no-wal", None),
                ("torn-wal", Some(&wal[..wal.len() / 2])),
                ("zeroed-wal", Some(&zeroed_wal[..])),
            ] {
                let file = format!("{case}-{name}");
                let err = opens(&file, &db, wal).expect_err(&file);
                assert!(err.contains(&file), "{file}: {err}");
            }
        }
        drop(store);
    }
}

#[test]
fn a_store_written_by_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(SqliteStore::open(&path).unwrap());
    let newer = SqliteStore::schema_version() + 1;
    raw(&path)
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew {
            found,
            known,
            path: shown,
        }) => {
            assert_eq!((found, known), (newer, SqliteStore::schema_version()));
            assert!(shown.ends_with("store.db"), "{shown}");
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("expected SchemaTooNew, the store opened"),
    }
}

#[test]
fn a_file_that_is_not_a_store_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("notes.txt");
    std::fs::write(
        &garbage,
        b"this is not a database, just some text long enough to look like a header",
    )
    .unwrap();
    assert!(matches!(
        SqliteStore::open(&garbage),
        Err(StoreError::Open { .. })
    ));

    let theirs = dir.path().join("theirs.db");
    raw(&theirs)
        .execute_batch("CREATE TABLE contacts (name TEXT)")
        .unwrap();
    let err = SqliteStore::open(&theirs)
        .err()
        .expect("another program's database is refused");
    assert!(err.to_string().contains("not a medsurface store"), "{err}");
    let tables: i64 = raw(&theirs)
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to it");
}

#[test]
fn corrupt_values_are_reported_as_corrupt_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let id = store.create_scan(&new_scan(4)).unwrap();
    let results = [
        open_result(
            0,
            observation(
                "192.0.2.1",
                104,
                Source::Scan,
                "2026-03-01T10:00:01Z",
                "dicom",
            ),
        ),
        result(1, "192.0.2.2", 104, Outcome::Filtered),
    ];
    store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &upto(2),
            },
        )
        .unwrap();
    let damage = |sql: &str| raw(&path).execute_batch(sql).unwrap();
    let corrupt_table = |r: Result<(), StoreError>| match r {
        Err(StoreError::Corrupt { table, detail }) => Some((table, detail)),
        _ => None,
    };

    damage("UPDATE scans SET total = '12abc'");
    let (table, detail) = corrupt_table(store.scan(id).map(drop)).expect("corrupt total");
    assert_eq!(table, "scans");
    assert!(
        detail.contains("total") && detail.contains("12abc"),
        "{detail}"
    );
    damage("UPDATE scans SET total = '4', checkpoint_done_above = '[\"1\"]', checkpoint_watermark = '2'");
    assert!(
        corrupt_table(store.scans().map(drop)).is_some(),
        "done_above below the watermark"
    );
    damage("UPDATE scans SET checkpoint_done_above = '[]', started_at = 'yesterday'");
    assert!(
        corrupt_table(store.scan(id).map(drop)).is_some(),
        "bad timestamp"
    );
    damage("UPDATE scans SET started_at = '2026-03-01T10:00:00Z', count_open = -1");
    assert!(
        corrupt_table(store.scan(id).map(drop)).is_some(),
        "negative counter"
    );
    damage("UPDATE scans SET count_open = 1");
    store.scan(id).expect("repaired");

    damage("UPDATE probe_results SET outcome = 'bogus\x1b[2J' WHERE seq = 1");
    let (table, detail) =
        corrupt_table(store.probe_results(id, None).map(drop)).expect("bad outcome");
    assert_eq!(table, "probe_results");
    assert!(
        !detail.contains('\x1b'),
        "file text is sanitized in the message: {detail}"
    );
    damage("UPDATE probe_results SET outcome = 'filtered', ip = 'not-an-ip' WHERE seq = 1");
    assert!(corrupt_table(store.probe_results(id, None).map(drop)).is_some());
    damage("UPDATE probe_results SET ip = '192.0.2.2', attempts = 300 WHERE seq = 1");
    assert!(
        corrupt_table(store.probe_results(id, None).map(drop)).is_some(),
        "attempts above u8"
    );
    damage("UPDATE probe_results SET attempts = 1");
    store.probe_results(id, None).expect("repaired");

    // A service's details, source and verdict are its latest observation's.
    damage("UPDATE observations SET details = '{not json'");
    let (table, _) =
        corrupt_table(store.services(&ServiceFilter::default()).map(drop)).expect("bad JSON");
    assert_eq!(table, "observations");
    damage("UPDATE observations SET details = '{}', source = 'fofa'");
    assert!(
        corrupt_table(store.services(&ServiceFilter::default()).map(drop)).is_some(),
        "unknown source"
    );
    damage(
        "PRAGMA ignore_check_constraints = ON; UPDATE observations SET source = 'scan';
         UPDATE services SET port = 70000",
    );
    assert!(
        corrupt_table(store.services(&ServiceFilter::default()).map(drop)).is_some(),
        "port above u16"
    );
    damage("PRAGMA ignore_check_constraints = ON; UPDATE services SET port = X'00'");
    assert!(
        corrupt_table(store.services(&ServiceFilter::default()).map(drop)).is_some(),
        "blob port"
    );
}

/// The batches the durability tests record: `PER_BATCH` results each, a tenth of them open
/// with an observation, a few filtered, unreachable or failed, most closed.
const PER_BATCH: u128 = 50;

fn crash_batch(k: u128) -> (Vec<ProbeResult>, Checkpoint) {
    let results = (k * PER_BATCH..(k + 1) * PER_BATCH)
        .map(|seq| {
            let addr = format!(
                "10.{}.{}.{}",
                (seq >> 16) & 0xff,
                (seq >> 8) & 0xff,
                seq & 0xff
            );
            match seq % 10 {
                0 => {
                    let secs = i64::try_from(seq).unwrap();
                    let seen = Timestamp::from_second(1_772_000_000 + secs).unwrap();
                    let mut obs = observation(&addr, 104, Source::Scan, &seen.to_string(), "dicom");
                    obs.details
                        .insert("seq".into(), serde_json::json!(seq.to_string()));
                    open_result(seq, obs)
                }
                1 | 2 => result(seq, &addr, 104, Outcome::Filtered),
                3 => result(seq, &addr, 104, Outcome::Unreachable),
                4 => result(seq, &addr, 104, Outcome::Error),
                _ => result(seq, &addr, 104, Outcome::Closed),
            }
        })
        .collect();
    (results, upto((k + 1) * PER_BATCH))
}

/// Checks that the store holds exactly batches `0..batches` of [`crash_batch`], nothing more,
/// nothing less, and that counters and checkpoint agree with them.
fn assert_holds_exactly(store: &SqliteStore, id: ScanId, batches: u128) {
    let meta = store.scan(id).unwrap();
    assert_eq!(meta.checkpoint, upto(batches * PER_BATCH));
    let mut expected_rows = Vec::new();
    let mut expected_counts = OutcomeCounts::default();
    for k in 0..batches {
        for r in crash_batch(k).0 {
            expected_counts.add(r.outcome);
            if r.outcome != Outcome::Closed {
                expected_rows.push(r);
            }
        }
    }
    assert_eq!(meta.counts, expected_counts);
    let rows = store.probe_results(id, None).unwrap();
    assert_eq!(rows.len(), expected_rows.len());
    assert!(
        rows == expected_rows,
        "probe results differ from the committed batches"
    );
    let services = store
        .services(&ServiceFilter {
            scan: Some(id),
            ip: None,
        })
        .unwrap();
    assert_eq!(services.len() as u64, expected_counts.open);
}

#[test]
fn a_store_dropped_without_finish_keeps_every_committed_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let id = {
        let mut store = SqliteStore::open(&path).unwrap();
        let id = store.create_scan(&new_scan(10 * PER_BATCH)).unwrap();
        for k in 0..3 {
            let (results, checkpoint) = crash_batch(k);
            store
                .record(
                    id,
                    Batch {
                        results: &results,
                        checkpoint: &checkpoint,
                    },
                )
                .unwrap();
        }
        id
        // dropped here, like a scan that never reached finish_scan
    };
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.scan(id).unwrap().status, ScanStatus::Running);
    assert_holds_exactly(&store, id, 3);

    // Resuming writes on top of what was there.
    let (results, checkpoint) = crash_batch(3);
    store
        .record(
            id,
            Batch {
                results: &results,
                checkpoint: &checkpoint,
            },
        )
        .unwrap();
    assert_holds_exactly(&store, id, 4);
}

const CRASH_DB_ENV: &str = "MEDSURFACE_STORE_CRASH_DB";
const CRASH_SCAN_ENV: &str = "MEDSURFACE_STORE_CRASH_SCAN";
const CRASH_CHILD: &str = "crash_child_records_batches_until_killed";
const COMMITTED: &str = "medsurface-crash-committed=";

/// Not a test: the child process of `sigkill_mid_scan_keeps_every_committed_batch`. It records
/// batches in a loop and reports each commit on stdout until it is killed. It does nothing
/// unless the parent test set its environment.
#[test]
#[ignore = "helper process of sigkill_mid_scan_keeps_every_committed_batch"]
fn crash_child_records_batches_until_killed() {
    let (Some(path), Some(id)) = (
        std::env::var_os(CRASH_DB_ENV),
        std::env::var_os(CRASH_SCAN_ENV),
    ) else {
        return;
    };
    let id = ScanId(id.to_str().and_then(|s| s.parse().ok()).expect("scan id"));
    let mut store = SqliteStore::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout(); // not print!: libtest captures that
                                     // Bounded, so an orphaned child stops on its own; it also stops when the parent hangs up.
    for k in 0..100_000 {
        let (results, checkpoint) = crash_batch(k);
        store
            .record(
                id,
                Batch {
                    results: &results,
                    checkpoint: &checkpoint,
                },
            )
            .unwrap();
        if writeln!(out, "{COMMITTED}{k}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn sigkill_mid_scan_keeps_every_committed_batch() {
    const KILL_AFTER: u128 = 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let id = {
        let mut store = SqliteStore::open(&path).unwrap();
        store.create_scan(&new_scan(100_000 * PER_BATCH)).unwrap()
    };

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CRASH_CHILD, "--exact", "--ignored", "--test-threads=1"])
        .env(CRASH_DB_ENV, &path)
        .env(CRASH_SCAN_ENV, id.0.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_reported = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest's own lines share the pipe; the marker may follow them on the same line.
        if let Some(pos) = line.find(COMMITTED) {
            let k: u128 = line[pos + COMMITTED.len()..].trim().parse().unwrap();
            last_reported = Some(k);
            if k + 1 >= KILL_AFTER {
                break;
            }
        }
    }
    // SIGKILL on Unix: no destructor, no rollback, no flush runs in the child.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child was killed, it did not finish: {status:?}"
    );
    let reported = last_reported.expect("the child reported commits before it was killed") + 1;
    assert!(
        reported >= KILL_AFTER,
        "the child stopped after {reported} batches"
    );

    // Every batch it reported is there; it may have committed more after its last report, but
    // only whole batches, with counters and checkpoint to match.
    let store = SqliteStore::open(&path).unwrap();
    let meta = store.scan(id).unwrap();
    assert!(
        meta.checkpoint.done_above.is_empty(),
        "{:?}",
        meta.checkpoint
    );
    assert_eq!(
        meta.checkpoint.watermark % PER_BATCH,
        0,
        "a batch was torn: {:?}",
        meta.checkpoint
    );
    let committed = meta.checkpoint.watermark / PER_BATCH;
    assert!(
        committed >= reported,
        "{committed} batches stored, {reported} reported"
    );
    assert_holds_exactly(&store, id, committed);
}

/// The classifier's verdict is kept with the observation and, for the latest sighting, sets
/// the service's product fields.
#[test]
fn classification_is_kept_with_the_observation_and_the_service() {
    use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
    let mut store = SqliteStore::open_in_memory().unwrap();
    let scan = store.create_scan(&new_scan(4)).unwrap();
    let verdict = Classification {
        signature: "orthanc-explorer".into(),
        category: Category::Imaging,
        vendor: "Osimis".into(),
        product: "Orthanc".into(),
        version: Some("1.10.1".into()),
        confidence: Confidence::High,
        evidence: vec![Evidence {
            field: "http.title".into(),
            rule: "equals Orthanc Explorer".into(),
        }],
    };
    let mut r = open_result(
        0,
        observation(
            "192.0.2.5",
            8042,
            Source::Scan,
            "2026-01-01T00:00:00Z",
            "http",
        ),
    );
    r.classification = Some(verdict.clone());
    let plain = open_result(
        1,
        observation(
            "192.0.2.6",
            8042,
            Source::Scan,
            "2026-01-01T00:00:00Z",
            "http",
        ),
    );
    store
        .record(
            scan,
            Batch {
                results: &[r, plain],
                checkpoint: &upto(2),
            },
        )
        .unwrap();
    let back = store.probe_results(scan, Some(Outcome::Open)).unwrap();
    assert_eq!(back[0].classification.as_ref(), Some(&verdict));
    assert_eq!(back[1].classification, None);
    let services = store.services(&ServiceFilter::default()).unwrap();
    let s = &services[0].service;
    assert_eq!(
        (
            s.category.as_deref(),
            s.product.as_deref(),
            s.version.as_deref(),
            s.signature.as_deref()
        ),
        (
            Some("imaging"),
            Some("Orthanc"),
            Some("1.10.1"),
            Some("orthanc-explorer")
        )
    );
    assert_eq!(services[1].service.category, None);
}

#[test]
fn scan_services_are_each_scans_own_view() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let first = store.create_scan(&new_scan(2)).unwrap();
    let second = store.create_scan(&new_scan(2)).unwrap();
    let r1 = [
        open_result(
            0,
            observation(
                "192.0.2.9",
                104,
                Source::Scan,
                "2026-03-01T10:00:00Z",
                "dicom",
            ),
        ),
        open_result(
            1,
            observation(
                "192.0.2.10",
                80,
                Source::Scan,
                "2026-03-01T10:00:01Z",
                "http",
            ),
        ),
    ];
    store
        .record(
            first,
            Batch {
                results: &r1,
                checkpoint: &upto(2),
            },
        )
        .unwrap();
    // The second scan sees the DICOM service again, answering differently, and not the web one.
    let r2 = [open_result(
        0,
        observation(
            "192.0.2.9",
            104,
            Source::Scan,
            "2026-03-08T10:00:00Z",
            "dicom-tls",
        ),
    )];
    store
        .record(
            second,
            Batch {
                results: &r2,
                checkpoint: &upto(2),
            },
        )
        .unwrap();

    let a = store.scan_services(first).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].ip, ip("192.0.2.9"), "ordered by address, not text");
    assert_eq!(
        a[0].protocol.as_deref(),
        Some("dicom"),
        "as the first scan saw it"
    );
    assert_eq!(a[1].port, 80);
    let b = store.scan_services(second).unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].protocol.as_deref(), Some("dicom-tls"));
    assert_eq!(b[0].seen_at, ts("2026-03-08T10:00:00Z"));
    assert!(matches!(
        store.scan_services(ScanId(99)),
        Err(StoreError::ScanNotFound(_))
    ));
}

/// A Shodan-like import row of 192.0.2.7:104 with a verdict naming `product`.
fn verdict_import(source: Source, seen_at: &str, product: &str) -> ImportRow {
    use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
    let obs = observation("192.0.2.7", 104, source, seen_at, product);
    let verdict = Classification {
        signature: format!("sig-{product}"),
        category: Category::Imaging,
        vendor: "Vendor".into(),
        product: product.into(),
        version: None,
        confidence: Confidence::High,
        evidence: vec![Evidence {
            field: "port".into(),
            rule: "equals 104".into(),
        }],
    };
    ImportRow::new(&obs, Some(&verdict)).unwrap()
}

/// What a reader sees of the one service: (source, protocol, product, banner).
fn latest_of_the_one_service(store: &SqliteStore) -> (Source, String, String, String) {
    let all = store.services(&ServiceFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    let s = &all[0].service;
    (
        s.source,
        s.protocol.clone().unwrap_or_default(),
        s.product.clone().unwrap_or_default(),
        s.details["banner.text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn observation_count(path: &Path) -> i64 {
    raw(path)
        .query_row("SELECT count(*) FROM observations", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_older_sighting_imported_after_a_newer_one_does_not_replace_it() {
    let newer = verdict_import(Source::Shodan, "2026-03-05T00:00:00Z", "newer");
    let older = verdict_import(Source::Censys, "2026-03-01T00:00:00Z", "older");
    let expected = (
        Source::Shodan,
        "newer".to_owned(),
        "newer".to_owned(),
        "newer at 2026-03-05T00:00:00Z".to_owned(),
    );
    // In two transactions, and in one (where the older row is written second).
    let mut apart = SqliteStore::open_in_memory().unwrap();
    apart
        .record_import_rows(std::slice::from_ref(&newer))
        .unwrap();
    apart
        .record_import_rows(std::slice::from_ref(&older))
        .unwrap();
    assert_eq!(latest_of_the_one_service(&apart), expected);
    let mut together = SqliteStore::open_in_memory().unwrap();
    together.record_import_rows(&[newer, older]).unwrap();
    assert_eq!(latest_of_the_one_service(&together), expected);
    let s = &apart.services(&ServiceFilter::default()).unwrap()[0];
    assert_eq!(s.first_seen, ts("2026-03-01T00:00:00Z"));
    assert_eq!(s.last_seen, ts("2026-03-05T00:00:00Z"));
}

#[test]
fn sightings_tied_on_time_are_won_by_the_later_write() {
    let at = "2026-03-05T00:00:00Z";
    let shodan = verdict_import(Source::Shodan, at, "first");
    let censys = verdict_import(Source::Censys, at, "second");
    let second = |src| {
        (
            src,
            "second".to_owned(),
            "second".to_owned(),
            format!("second at {at}"),
        )
    };
    let first = |src| {
        (
            src,
            "first".to_owned(),
            "first".to_owned(),
            format!("first at {at}"),
        )
    };

    let mut apart = SqliteStore::open_in_memory().unwrap();
    apart
        .record_import_rows(std::slice::from_ref(&shodan))
        .unwrap();
    apart
        .record_import_rows(std::slice::from_ref(&censys))
        .unwrap();
    assert_eq!(latest_of_the_one_service(&apart), second(Source::Censys));

    let mut together = SqliteStore::open_in_memory().unwrap();
    together
        .record_import_rows(&[shodan.clone(), censys.clone()])
        .unwrap();
    assert_eq!(latest_of_the_one_service(&together), second(Source::Censys));

    // The first sighting imported again is now the later write, though it adds no row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .record_import_rows(std::slice::from_ref(&shodan))
        .unwrap();
    store.record_import_rows(&[censys]).unwrap();
    store.record_import_rows(&[shodan]).unwrap();
    assert_eq!(latest_of_the_one_service(&store), first(Source::Shodan));
    assert_eq!(observation_count(&path), 2);
}

#[test]
fn a_sighting_imported_again_with_new_values_shows_them_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let at = "2026-03-05T00:00:00Z";
    let older = verdict_import(Source::Shodan, "2026-03-01T00:00:00Z", "older");
    store
        .record_import_rows(&[older.clone(), verdict_import(Source::Shodan, at, "v1")])
        .unwrap();
    let before = store.services(&ServiceFilter::default()).unwrap();

    // The same file again: nothing new, nothing changed.
    store
        .record_import_rows(&[older, verdict_import(Source::Shodan, at, "v1")])
        .unwrap();
    assert_eq!(store.services(&ServiceFilter::default()).unwrap(), before);
    assert_eq!(observation_count(&path), 2);

    // The same file as a newer release reads and classifies it: the latest sighting shows
    // the new values; an older sighting's new values change nothing a reader sees.
    store
        .record_import_rows(&[
            verdict_import(Source::Shodan, "2026-03-01T00:00:00Z", "older-v2"),
            verdict_import(Source::Shodan, at, "v2"),
        ])
        .unwrap();
    let after = store.services(&ServiceFilter::default()).unwrap();
    assert_eq!(after[0].service.product.as_deref(), Some("v2"));
    assert_eq!(after[0].service.protocol.as_deref(), Some("v2"));
    assert_eq!(after[0].first_seen, before[0].first_seen);
    assert_eq!(after[0].last_seen, before[0].last_seen);
    assert_eq!(observation_count(&path), 2);
}

#[test]
fn a_second_observation_of_one_probe_result_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let scan = store.create_scan(&new_scan(1)).unwrap();
    let obs = observation(
        "192.0.2.7",
        104,
        Source::Scan,
        "2026-03-05T00:00:00Z",
        "dicom",
    );
    store
        .record(
            scan,
            Batch {
                results: &[open_result(0, obs)],
                checkpoint: &upto(1),
            },
        )
        .unwrap();
    let copy = "INSERT INTO observations
                    (service_id, scan_id, seq, source, probe, seen_at, protocol, details)
                SELECT service_id, scan_id, seq, source, probe, ?1, protocol, details
                FROM observations WHERE scan_id IS NOT NULL";
    let err = raw(&path)
        .execute(copy, ["2026-03-06T00:00:00Z"])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("UNIQUE constraint failed: observations.scan_id, observations.seq"),
        "{err}"
    );
    // Imports have no probe result: any number of them may have both NULL.
    raw(&path)
        .execute_batch(
            "INSERT INTO observations (service_id, source, probe, seen_at, details)
                 SELECT service_id, 'shodan', 'shodan', '2026-01-01T00:00:00.000000000Z', '{}'
                 FROM observations;
             INSERT INTO observations (service_id, source, probe, seen_at, details)
                 SELECT service_id, 'shodan', 'shodan', '2026-01-02T00:00:00.000000000Z', '{}'
                 FROM observations WHERE scan_id IS NOT NULL;",
        )
        .unwrap();
    assert_eq!(observation_count(&path), 3);
}
