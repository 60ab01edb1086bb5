use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::harness::*;

/// Listeners on random addresses of 127.61.7.0/24, two ports; the scan finds exactly them, each
/// banner is captured and escaped, and the counts add up to the whole space.
#[test]
fn scan_finds_exactly_the_listeners_and_nothing_else() {
    let mut rng = Rng::new(7);
    let first = listen(Ipv4Addr::new(127, 61, 7, 1), 0, b"220 PACS ready\r\n");
    let p1 = first.addr.port();
    let second = listen(Ipv4Addr::new(127, 61, 7, 2), 0, b"");
    let p2 = second.addr.port();
    let mut listeners = vec![first, second];
    let mut used = BTreeSet::from([1u8, 2]);
    while listeners.len() < 12 {
        let host = (rng.next() % 250 + 3) as u8;
        if !used.insert(host) {
            continue;
        }
        let port = if rng.next().is_multiple_of(2) { p1 } else { p2 };
        let banner: &'static [u8] = if host.is_multiple_of(3) {
            b"\x1b[31mEVIL\x1b]0;x\x07\r\n"
        } else {
            b""
        };
        listeners.push(listen(Ipv4Addr::new(127, 61, 7, host), port, banner));
    }
    let db = TempDb::new();
    let ports = format!("{p1},{p2}");
    let o = run(&[
        "scan",
        "127.61.7.0/24",
        "--ports",
        &ports,
        "--rate",
        "unlimited",
        "--read-timeout",
        "300",
        "--json",
        "--db",
        &db.arg(),
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "scan failed: {}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "terminal escapes reached stdout");
    let found = json_services(&out);
    let truth: BTreeSet<(IpAddr, u16)> = listeners
        .iter()
        .map(|l| (l.addr.ip(), l.addr.port()))
        .collect();
    assert_eq!(found, truth);
    let pacs = out
        .lines()
        .find(|l| l.contains("\"127.61.7.1\""))
        .expect("the greeting listener is in the output");
    assert!(
        pacs.contains("220 PACS ready\\\\r\\\\n"),
        "banner not captured: {pacs}"
    );

    let scans = scans(&db.path());
    assert_eq!(scans.len(), 1);
    let s = &scans[0];
    assert_eq!(s["status"], "completed");
    assert_eq!(s["total"], "512");
    assert_eq!(s["done"], "512");
    assert_eq!(s["counts"]["open"], 12);
    assert_eq!(s["counts"]["closed"], 500);
}

/// The same seed gives the same probe order; shards of one seed cover the space exactly once
/// (checked end to end through the store: every shard's open services together are the truth,
/// each found once).
#[test]
fn shards_together_cover_the_space_once() {
    let l: Vec<_> = [9u8, 77, 140, 201]
        .iter()
        .map(|h| listen(Ipv4Addr::new(127, 61, 8, *h), 0, b""))
        .collect();
    let db = TempDb::new();
    let mut seen = Vec::new();
    let mut total = 0u64;
    for shard in ["1/3", "2/3", "3/3"] {
        let ports = l
            .iter()
            .map(|x| x.addr.port().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let o = run(&[
            "scan",
            "127.61.8.0/24",
            "--ports",
            &ports,
            "--rate",
            "unlimited",
            "--read-timeout",
            "200",
            "--json",
            "--db",
            &db.arg(),
            "--seed",
            "99",
            "--shard",
            shard,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        seen.extend(json_services(&stdout(&o)));
    }
    for s in scans(&db.path()) {
        total += s["counts"]["open"].as_u64().unwrap() + s["counts"]["closed"].as_u64().unwrap();
    }
    let ports: BTreeSet<u16> = l.iter().map(|x| x.addr.port()).collect();
    assert_eq!(
        total,
        256 * ports.len() as u64,
        "the shards' probes add up to the space"
    );
    let truth: BTreeSet<(IpAddr, u16)> = l.iter().map(|x| (x.addr.ip(), x.addr.port())).collect();
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique, truth);
    assert_eq!(seen.len(), truth.len(), "a service was found by two shards");
}

/// Without --json the result is a table on stdout and the summary on stderr.
#[test]
fn table_output_by_default() {
    let l = listen(Ipv4Addr::new(127, 61, 9, 4), 0, b"MODALITY-CONSOLE v2\r\n");
    let db = TempDb::new();
    let port = l.addr.port().to_string();
    let o = run(&[
        "scan",
        "127.61.9.4",
        "--ports",
        &port,
        "--rate",
        "unlimited",
        "--read-timeout",
        "300",
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("127.61.9.4") && out.contains("MODALITY-CONSOLE v2"),
        "{out}"
    );
    assert!(stderr(&o).contains("1 open"), "{}", stderr(&o));
}

/// IPv6 targets work, and a host name is resolved once and kept on its records.
#[test]
fn ipv6_and_host_names() {
    let v6 = std::net::TcpListener::bind("[::1]:0");
    let v4 = listen(Ipv4Addr::new(127, 0, 0, 1), 0, b"");
    let port = v4.addr.port().to_string();
    let db = TempDb::new();
    let o = run(&[
        "scan",
        "localhost",
        "--ports",
        &port,
        "--rate",
        "unlimited",
        "--read-timeout",
        "200",
        "--json",
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("\"127.0.0.1\""))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("localhost's listener not found: {}", stdout(&o)));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["hostname"], "localhost");

    // IPv6 loopback, where the machine has it.
    if let Ok(l6) = v6 {
        let p6 = l6.local_addr().unwrap().port().to_string();
        std::thread::spawn(move || for _ in l6.incoming() {});
        let o = run(&[
            "scan",
            "::1",
            "--ports",
            &p6,
            "--rate",
            "unlimited",
            "--read-timeout",
            "200",
            "--json",
            "--db",
            &db.arg(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let found = json_services(&stdout(&o));
        assert_eq!(
            found,
            BTreeSet::from([("::1".parse::<IpAddr>().unwrap(), p6.parse::<u16>().unwrap())])
        );
    }
}
