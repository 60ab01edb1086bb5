//! Filtered hosts, for real: a network namespace of the test's own, with iptables dropping
//! packets to two of its loopback addresses. Needs root, `unshare` and `iptables`
//! (scripts/test installs them); traffic never leaves the namespace.

use std::process::Command;

use medsurface_model::Outcome;
use medsurface_store::{SqliteStore, Store};

use crate::harness::*;

#[test]
fn dropped_hosts_are_reported_filtered_and_listeners_found() {
    let db = TempDb::new();
    let bin = env!("CARGO_BIN_EXE_medsurface");
    let ready = db.dir.path().join("ready");
    let script = format!(
        r#"set -eu
ip link set lo up
iptables -A INPUT -d 127.9.0.7 -p tcp -j DROP
iptables -A INPUT -d 127.9.0.8 -p tcp -j DROP
"{bin}" lab silent@127.9.0.5:4242 hl7@127.9.0.6:2575 > "{ready}" &
lab=$!
for i in $(seq 1 200); do [ "$(wc -l < "{ready}")" -ge 2 ] && break; sleep 0.05; done
MEDSURFACE_NO_PROGRESS=1 "{bin}" scan 127.9.0.0/28 --ports 4242,2575 --rate unlimited \
  --timeout 300 --retries 1 --read-timeout 300 --json --db "{db}"
kill $lab
"#,
        db = db.arg(),
        ready = ready.display()
    );
    let o = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux) must be installed: run scripts/test");
    assert!(
        o.status.success(),
        "the namespace scan failed (root, unshare and iptables are needed; scripts/test installs them): {}",
        stderr(&o)
    );
    let found = json_services(&stdout(&o));
    let want: std::collections::BTreeSet<_> = [("127.9.0.5", 4242u16), ("127.9.0.6", 2575)]
        .iter()
        .map(|(ip, p)| (ip.parse().unwrap(), *p))
        .collect();
    assert_eq!(found, want);

    let store = SqliteStore::open(&db.path()).expect("open store");
    let scan = store.scans().expect("scans")[0].clone();
    assert_eq!(scan.counts.open, 2);
    assert_eq!(scan.counts.filtered, 4);
    assert_eq!(scan.counts.closed, 16 * 2 - 6);
    let filtered = store
        .probe_results(scan.id, Some(Outcome::Filtered))
        .expect("results");
    let mut hosts: Vec<String> = filtered
        .iter()
        .map(|r| format!("{}:{}", r.ip, r.port))
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        [
            "127.9.0.7:2575",
            "127.9.0.7:4242",
            "127.9.0.8:2575",
            "127.9.0.8:4242"
        ]
    );
    assert!(
        filtered.iter().all(|r| r.attempts == 2),
        "a timeout is retried once"
    );
}
