//! Bad input gets a clear message naming the place and exit status 2, before any packet leaves.

use crate::harness::*;

fn refused(args: &[&str], needle: &str) {
    let db = TempDb::new();
    let mut all: Vec<&str> = args.to_vec();
    let dbarg = db.arg();
    all.extend(["--db", &dbarg]);
    let o = run(&all);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "{args:?}: message {err:?} lacks {needle:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_targets_are_input_errors() {
    refused(&["scan", "127.0.0.300", "-p", "80"], "127.0.0.300");
    refused(&["scan", "127.0.0.0/33", "-p", "80"], "127.0.0.0/33");
    refused(
        &["scan", "127.0.0.9-127.0.0.1", "-p", "80"],
        "127.0.0.9-127.0.0.1",
    );
    refused(
        &["scan", "@/nonexistent/targets.txt", "-p", "80"],
        "/nonexistent/targets.txt",
    );
}

#[test]
fn garbage_line_in_target_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("targets.txt");
    std::fs::write(
        &f,
        "# our PACS ranges\n127.0.0.1\n\n127.0.0.2 # lab\nnot an address!!\n",
    )
    .unwrap();
    let arg = format!("@{}", f.display());
    refused(&["scan", &arg, "-p", "80"], &format!("{}:5", f.display()));
}

#[test]
fn bad_ports_are_input_errors() {
    refused(&["scan", "127.0.0.1", "-p", "0"], "--ports");
    refused(&["scan", "127.0.0.1", "-p", "70000"], "--ports");
    refused(&["scan", "127.0.0.1", "-p", "90-80"], "--ports");
    refused(&["scan", "127.0.0.1", "-p", "80,,81"], "--ports");
}

#[test]
fn bad_options_are_input_errors() {
    refused(
        &["scan", "127.0.0.1", "-p", "80", "--shard", "4/3"],
        "--shard",
    );
    refused(&["scan", "127.0.0.1", "-p", "80", "--rate", "0"], "--rate");
    refused(
        &[
            "scan",
            "127.0.0.1",
            "-p",
            "80",
            "--exclude",
            "/nonexistent/ex.conf",
        ],
        "/nonexistent/ex.conf",
    );
    refused(&["scan", "--resume", "12345"], "12345");
}

/// A reserved range is refused with the rule that excludes it; a private one needs
/// --allow-private. Both are refused while planning, so no packet is sent.
#[test]
fn excluded_targets_are_refused_naming_the_rule() {
    refused(&["scan", "192.0.2.10", "-p", "104"], "192.0.2.0/24");
    refused(&["scan", "224.0.0.1", "-p", "104"], "224.0.0.0/4");
    refused(&["scan", "10.1.2.3", "-p", "104"], "10.0.0.0/8");
}

/// A user exclusion file removes part of a target, and the scan says so on stderr.
#[test]
fn user_exclusions_are_reported_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("exclude.conf");
    std::fs::write(&f, "127.61.20.128/25  the radiology VLAN, out of scope\n").unwrap();
    let db = TempDb::new();
    let o = run(&[
        "scan",
        "127.61.20.0/24",
        "-p",
        "9",
        "--rate",
        "unlimited",
        "--exclude",
        &f.display().to_string(),
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("127.61.20.128/25") && err.contains("radiology"),
        "{err}"
    );
    let s = &scans(&db.path())[0];
    assert_eq!(s["total"], "128");

    // Entirely inside the user's rule: refused.
    refused(
        &[
            "scan",
            "127.61.20.200",
            "-p",
            "9",
            "--exclude",
            &f.display().to_string(),
        ],
        "127.61.20.128/25",
    );
}
