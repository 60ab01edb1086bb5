use crate::harness::*;

/// The demo finds every simulated service, and the hostile banner reaches the screen escaped.
#[test]
fn demo_finds_every_simulated_service() {
    let db = TempDb::new();
    let o = run(&["demo", "--db", &db.arg()]);
    let out = stdout(&o);
    assert!(o.status.success(), "demo failed: {}\n{out}", stderr(&o));
    assert!(!out.contains("MISSED"), "{out}");
    assert!(out.matches(" found").count() >= 8, "{out}");
    assert!(
        !out.contains('\x1b') && !stderr(&o).contains('\x1b'),
        "escape reached the terminal"
    );
    assert!(out.contains("PACS-CONSOLE"), "{out}");
}
