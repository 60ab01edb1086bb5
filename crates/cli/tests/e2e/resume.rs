//! A scan killed with SIGKILL keeps everything it recorded, and `--resume` finishes it without
//! probing recorded targets again and without duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use medsurface_model::{Outcome, ScanId, ScanStatus};
use medsurface_store::{SqliteStore, Store};

use crate::harness::*;

#[test]
fn resume_after_sigkill_loses_nothing_and_repeats_nothing() {
    let mut rng = Rng::new(2026);
    let first = listen(Ipv4Addr::new(127, 62, 0, 1), 0, b"");
    let port = first.addr.port();
    let mut listeners = vec![first];
    let mut used = BTreeSet::from([(0u8, 1u8)]);
    while listeners.len() < 40 {
        let (a, b) = ((rng.next() % 16) as u8, (rng.next() % 254 + 1) as u8);
        if used.insert((a, b)) {
            listeners.push(listen(Ipv4Addr::new(127, 62, a, b), port, b""));
        }
    }
    let db = TempDb::new();
    let port_arg = port.to_string();
    let mut child = bin()
        .args([
            "scan",
            "127.62.0.0/20",
            "--ports",
            &port_arg,
            "--rate",
            "1500",
            "--read-timeout",
            "200",
            "--json",
            "--db",
            &db.arg(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scan");

    // Wait until a good part of the scan is recorded, then kill it without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_before = loop {
        assert!(
            Instant::now() < deadline,
            "the scan recorded nothing in 60 s"
        );
        if let Ok(store) = SqliteStore::open(&db.path()) {
            if let Some(s) = store.scans().ok().and_then(|v| v.into_iter().next()) {
                if s.checkpoint.done_count() >= 1000 {
                    break s.checkpoint.done_count();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let store = SqliteStore::open(&db.path()).expect("reopen");
    let killed = store.scan(ScanId(1)).expect("scan 1");
    assert_eq!(
        killed.status,
        ScanStatus::Running,
        "a killed scan stays resumable"
    );
    assert!(killed.checkpoint.done_count() >= done_before);
    assert!(
        killed.checkpoint.done_count() < 4096,
        "the kill came too late to test anything"
    );
    assert_eq!(
        u128::from(killed.counts.total()),
        killed.checkpoint.done_count()
    );
    let recorded: BTreeSet<(IpAddr, u16)> = store
        .probe_results(killed.id, Some(Outcome::Open))
        .expect("results")
        .iter()
        .map(|r| (r.ip, r.port))
        .collect();
    let accepts_at_kill: BTreeMap<(IpAddr, u16), usize> = listeners
        .iter()
        .map(|l| ((l.addr.ip(), l.addr.port()), l.accepts()))
        .collect();
    drop(store);

    let o = run(&[
        "scan",
        "--resume",
        "1",
        "--rate",
        "unlimited",
        "--json",
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "resume failed: {}", stderr(&o));
    assert!(
        stderr(&o).contains("done before and skipped"),
        "{}",
        stderr(&o)
    );

    let store = SqliteStore::open(&db.path()).expect("reopen");
    let done = store.scan(ScanId(1)).expect("scan 1");
    assert_eq!(done.status, ScanStatus::Completed);
    assert_eq!(
        done.counts.total(),
        4096,
        "every probe counted exactly once"
    );
    assert_eq!(done.counts.open, 40);
    let open = store
        .probe_results(done.id, Some(Outcome::Open))
        .expect("results");
    assert_eq!(open.len(), 40, "no duplicate rows");
    let truth: BTreeSet<(IpAddr, u16)> = listeners
        .iter()
        .map(|l| (l.addr.ip(), l.addr.port()))
        .collect();
    assert_eq!(
        open.iter().map(|r| (r.ip, r.port)).collect::<BTreeSet<_>>(),
        truth
    );
    for l in &listeners {
        let key = (l.addr.ip(), l.addr.port());
        if recorded.contains(&key) {
            assert_eq!(
                l.accepts(),
                accepts_at_kill[&key],
                "{key:?} was recorded, then probed again"
            );
        }
        assert!(l.accepts() >= 1, "{key:?} never probed");
    }
    assert_eq!(
        store.scans().expect("scans").len(),
        1,
        "resume made no new scan"
    );
}
