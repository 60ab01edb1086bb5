//! Measures the organisation-type rules (`knowledge/org-types.toml`) on the labelled list
//! `knowledge/org-types-labelled.csv`: precision and recall per type and overall (accuracy),
//! for the whole list and for its `dev` and `holdout` halves, printed as a table
//! (`cargo test -p medsurface-analyze --test org_types -- --nocapture`), with floors the rules
//! must keep.
//!
//! Only misclassified `dev` rows are printed: the holdout half is for measuring, not tuning.

use std::collections::BTreeMap;

use medsurface_analyze::enrich::{OrgInputs, OrgType, OrgTypes};

const LABELLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../knowledge/org-types-labelled.csv"
);

struct Row {
    line: usize,
    split: String,
    org: String,
    host: String,
    expected: OrgType,
}

fn rows() -> Vec<Row> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(LABELLED)
        .expect("labelled list");
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("CSV record");
        let line = rec.position().map_or(0, |p| p.line() as usize);
        assert_eq!(rec.len(), 4, "line {line}: four columns");
        let expected = OrgType::parse(&rec[3])
            .unwrap_or_else(|| panic!("line {line}: unknown type {:?}", &rec[3]));
        assert!(
            matches!(&rec[0], "dev" | "holdout"),
            "line {line}: split is dev or holdout"
        );
        assert!(
            !rec[1].is_empty() || !rec[2].is_empty(),
            "line {line}: an org or a host name"
        );
        out.push(Row {
            line,
            split: rec[0].to_string(),
            org: rec[1].to_string(),
            host: rec[2].to_string(),
            expected,
        });
    }
    out
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

struct Scores {
    per_type: BTreeMap<OrgType, Counts>,
    correct: u32,
    total: u32,
}

impl Scores {
    fn precision(c: Counts) -> f64 {
        if c.tp + c.fp == 0 {
            1.0
        } else {
            f64::from(c.tp) / f64::from(c.tp + c.fp)
        }
    }
    fn recall(c: Counts) -> f64 {
        if c.tp + c.fn_ == 0 {
            1.0
        } else {
            f64::from(c.tp) / f64::from(c.tp + c.fn_)
        }
    }
    fn accuracy(&self) -> f64 {
        f64::from(self.correct) / f64::from(self.total.max(1))
    }
    /// Mean of per-type precision and recall (macro average), over types present in the list.
    fn macro_pr(&self) -> (f64, f64) {
        let present: Vec<Counts> = self
            .per_type
            .values()
            .copied()
            .filter(|c| c.tp + c.fn_ > 0)
            .collect();
        let n = present.len().max(1) as f64;
        (
            present.iter().map(|c| Scores::precision(*c)).sum::<f64>() / n,
            present.iter().map(|c| Scores::recall(*c)).sum::<f64>() / n,
        )
    }
}

fn score<'a>(rules: &OrgTypes, rows: impl Iterator<Item = &'a Row>) -> (Scores, Vec<String>) {
    let mut per_type: BTreeMap<OrgType, Counts> = OrgType::ALL
        .iter()
        .map(|t| (*t, Counts::default()))
        .collect();
    let (mut correct, mut total) = (0, 0);
    let mut misses = Vec::new();
    for r in rows {
        let verdict = rules
            .classify(
                &OrgInputs::new()
                    .name("org", &r.org)
                    .host("hostname", &r.host),
            )
            .expect("every row has evidence");
        let got = verdict.org_type;
        total += 1;
        if got == r.expected {
            correct += 1;
            per_type.get_mut(&got).unwrap().tp += 1;
        } else {
            per_type.get_mut(&got).unwrap().fp += 1;
            per_type.get_mut(&r.expected).unwrap().fn_ += 1;
            misses.push(format!(
                "  line {:>3} [{}] {:?} {:?}: expected {}, got {} ({})",
                r.line,
                r.split,
                r.org,
                r.host,
                r.expected,
                got,
                verdict.rule.as_deref().unwrap_or("no rule")
            ));
        }
    }
    (
        Scores {
            per_type,
            correct,
            total,
        },
        misses,
    )
}

fn table(name: &str, s: &Scores) -> String {
    let mut out = format!(
        "{name}: {} rows\n  {:<11} {:>5} {:>9} {:>7}\n",
        s.total, "type", "rows", "precision", "recall"
    );
    for (t, c) in &s.per_type {
        out.push_str(&format!(
            "  {:<11} {:>5} {:>9.3} {:>7.3}\n",
            t.as_str(),
            c.tp + c.fn_,
            Scores::precision(*c),
            Scores::recall(*c)
        ));
    }
    let (p, r) = s.macro_pr();
    out.push_str(&format!(
        "  {:<11} {:>5} {:>9.3} {:>7.3}   accuracy (micro P = R) {:.3}\n",
        "macro avg",
        s.total,
        p,
        r,
        s.accuracy()
    ));
    out
}

#[test]
fn labelled_list_is_large_and_covers_every_type() {
    let rows = rows();
    assert!(rows.len() >= 300, "{} rows", rows.len());
    for t in OrgType::ALL {
        let n = rows.iter().filter(|r| r.expected == t).count();
        assert!(n >= 20, "{t}: only {n} rows");
    }
    let holdout = rows.iter().filter(|r| r.split == "holdout").count();
    assert!(holdout * 3 >= rows.len(), "holdout is at least a third");
}

#[test]
fn rules_reach_their_precision_and_recall_floors() {
    let rules = OrgTypes::builtin().unwrap_or_else(|e| panic!("{e}"));
    let rows = rows();
    let (all, _) = score(&rules, rows.iter());
    let (dev, dev_misses) = score(&rules, rows.iter().filter(|r| r.split == "dev"));
    let (holdout, _) = score(&rules, rows.iter().filter(|r| r.split == "holdout"));
    println!("{}", table("all", &all));
    println!("{}", table("dev", &dev));
    println!("{}", table("holdout", &holdout));
    println!("dev rows misclassified:\n{}", dev_misses.join("\n"));

    // Floors: overall accuracy and macro precision/recall on the whole list and on the holdout
    // half; per type, precision and recall on the whole list.
    for (name, s) in [("all", &all), ("holdout", &holdout)] {
        let (p, r) = s.macro_pr();
        assert!(s.accuracy() >= 0.90, "{name}: accuracy {:.3}", s.accuracy());
        assert!(p >= 0.88, "{name}: macro precision {p:.3}");
        assert!(r >= 0.85, "{name}: macro recall {r:.3}");
    }
    for (t, c) in &all.per_type {
        // `other` is the fallback of every miss: its precision is the other types' recall,
        // floored above; its own floor is recall (vendors and businesses are not pulled into
        // institution types).
        assert!(
            *t == OrgType::Other || Scores::precision(*c) >= 0.80,
            "{t}: precision {:.3}",
            Scores::precision(*c)
        );
        assert!(
            Scores::recall(*c) >= 0.75,
            "{t}: recall {:.3}",
            Scores::recall(*c)
        );
    }
}
