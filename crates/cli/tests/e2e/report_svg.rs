//! `medsurface stats --svg FILE`: the ranking drawn as an SVG bar chart by medsurface-report,
//! checked by parsing the file back: well-formed XML, one bar per group shown, each group's
//! name as a label, in the order of the table.

use crate::harness::*;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/shodan-sample.jsonl"
);

fn ingest(db: &TempDb) {
    let o = run(&["ingest", "shodan", SAMPLE, "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `stats --json` rows as (group, services), and the SVG written alongside.
fn stats_with_svg(db: &TempDb, by: &str, extra: &[&str]) -> (Vec<(String, u64)>, String) {
    let svg_path = db.dir.path().join(format!("{by}.svg"));
    let svg_arg = svg_path.display().to_string();
    let dbarg = db.arg();
    let mut args = vec![
        "stats", "--json", "--by", by, "--db", &dbarg, "--svg", &svg_arg,
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON row");
            (
                v[by].as_str().expect("group name").to_string(),
                v["services"].as_u64().expect("count"),
            )
        })
        .collect();
    let svg = std::fs::read_to_string(&svg_path).expect("--svg wrote the file");
    (rows, svg)
}

struct Chart {
    bars: usize,
    /// Text labels, top to bottom.
    labels: Vec<String>,
}

fn parse(svg: &str) -> Chart {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let bars = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("rect") && n.attribute("fill") == Some(medsurface_report::BAR_COLOR)
        })
        .count();
    let mut labels: Vec<(f64, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| {
            let y = n.attribute("y")?.parse::<f64>().ok()?;
            Some((y, n.text()?.trim().to_string()))
        })
        .collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    Chart {
        bars,
        labels: labels.into_iter().map(|(_, t)| t).collect(),
    }
}

#[test]
fn stats_svg_draws_one_bar_per_country_of_imaging_services() {
    let db = TempDb::new();
    ingest(&db);
    let (rows, svg) = stats_with_svg(&db, "country", &["--category", "imaging"]);
    assert!(
        rows.len() >= 2,
        "the sample has imaging services in several countries: {rows:?}"
    );
    let chart = parse(&svg);
    assert_eq!(chart.bars, rows.len(), "{svg}");
    // Every group is labelled, largest first (top of the chart first).
    let positions: Vec<usize> = rows
        .iter()
        .map(|(name, _)| {
            chart
                .labels
                .iter()
                .position(|l| l == name)
                .unwrap_or_else(|| panic!("no label {name:?} in {:?}", chart.labels))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(chart.labels.iter().any(|l| l.contains("imaging")), "title");
}

#[test]
fn stats_svg_honours_top_and_draws_every_category() {
    let db = TempDb::new();
    ingest(&db);
    let (all, svg) = stats_with_svg(&db, "category", &[]);
    assert_eq!(parse(&svg).bars, all.len());
    let (top, svg) = stats_with_svg(&db, "category", &["--top", "2"]);
    assert_eq!(top.len(), 2);
    assert_eq!(parse(&svg).bars, 2);
}

#[test]
fn stats_svg_into_a_missing_directory_fails_naming_the_file() {
    let db = TempDb::new();
    ingest(&db);
    let bad = db.dir.path().join("no-such-dir/chart.svg");
    let o = run(&[
        "stats",
        "--by",
        "country",
        "--db",
        &db.arg(),
        "--svg",
        &bad.display().to_string(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("chart.svg"), "{}", stderr(&o));
}
