//! Tests of the renderers over small synthetic inputs (no patient data: made-up addresses from
//! the documentation ranges, made-up organisations).

use std::collections::BTreeMap;

use medsurface_model::supply::VendorSummary;
use medsurface_model::{
    Details, Dread, Evidence, Factor, Honeypot, Service, Severity, Source, Transport,
    VulnerabilityRef,
};

use crate::summary::{Summary, TOP_COUNTRIES};
use crate::{render_to_string, Format, Method, ReportInput, BAR_COLOR};

const HOSTILE: &str = "<script>alert(1)</script> & \"Co\" | `x` [l](http://203.0.113.9/) \u{1b}[2J";

fn service(ip: &str, port: u16, category: &str, country: &str, score: f32) -> Service {
    let mut dread = Dread::default();
    let v = score.round() as u8;
    let mut evidence = BTreeMap::new();
    for f in Factor::ALL {
        dread.set(f, v);
        evidence.insert(
            f.as_str().to_string(),
            Evidence {
                rule: format!("rule-{}", f.as_str()),
                reason: format!("why {} is {v}", f.as_str()),
            },
        );
    }
    dread.score = score;
    dread.severity = match score {
        s if s >= 8.0 => Severity::Critical,
        s if s >= 6.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        _ => Severity::Low,
    };
    dread.evidence = evidence;
    Service {
        ip: ip.parse().unwrap(),
        port,
        transport: Transport::Tcp,
        hostname: None,
        protocol: Some("dicom".into()),
        category: Some(category.into()),
        vendor: Some("Example".into()),
        product: Some("PACS".into()),
        version: Some("1.0".into()),
        signature: Some("example-pacs".into()),
        country: Some(country.into()),
        asn: Some("AS64500".into()),
        org: Some("Example Hospital".into()),
        org_type: Some("hospital".into()),
        source: Source::Shodan,
        seen_at: "2026-11-01T10:00:00Z".parse().unwrap(),
        details: Details::new(),
        dread: Some(dread),
        vulnerabilities: Vec::new(),
        flags: Vec::new(),
        honeypot: None,
    }
}

fn honeypot(mut s: Service) -> Service {
    s.flags.push("likely-honeypot".into());
    s.honeypot = Some(Honeypot {
        likelihood: 0.9,
        reasons: vec!["same DICOM answer as 212 other addresses".into()],
    });
    s
}

fn input(services: Vec<Service>) -> ReportInput {
    ReportInput {
        title: "Exposure report".into(),
        generated_at: "2026-11-28T12:00:00Z".parse().unwrap(),
        scope: "all services".into(),
        services,
        include_honeypots: false,
        supply: None,
        method: Method {
            rubric: "builtin risk/dread.toml".into(),
            formula: "score = mean of the five factors; critical >= 8, high >= 6".into(),
            sources: vec!["shodan export sample.jsonl".into()],
            tool_version: "0.1.0".into(),
        },
        findings_limit: None,
    }
}

fn vendor(name: &str) -> VendorSummary {
    VendorSummary {
        vendor: name.into(),
        in_register: false,
        tier: "high".into(),
        dread: None,
        access: vec!["remote-access account".into()],
        exposed_services: 2,
        vulnerable_components: 1,
        mds2_gaps: vec!["no audit log".into()],
        next_review: Some("2026-01-01".into()),
        review_overdue: true,
        notes: vec![],
    }
}

/// Every `<svg>…</svg>` in a page, each parsed as XML.
fn svgs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        let end = rest[i..].find("</svg>").expect("svg closed") + i + "</svg>".len();
        out.push(rest[i..end].to_string());
        rest = &rest[end..];
    }
    out
}

fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG is not XML: {e}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

fn bars(svg: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(BAR_COLOR))
        .count()
}

#[test]
fn csv_cells_that_could_run_as_formulas_are_neutralised() {
    let mut s = service("192.0.2.1", 104, "imaging", "DE", 7.0);
    s.product = Some("=cmd|' /C calc'!A0".into());
    s.vendor = Some("@SUM(1+1)*cmd|' /C calc'!A0".into());
    s.org = Some("+49 Example, \"Clinic\"".into());
    s.hostname = Some("-2+3".into());
    s.version = Some("\t=1+1".into());
    s.asn = Some("\r=HYPERLINK(\"http://203.0.113.1\")".into());
    s.country = Some("DE".into());
    s.flags = vec!["=evil".into()];
    let out = render_to_string(Format::Csv, &input(vec![s])).unwrap();
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let headers = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    let get = |name: &str| {
        let i = headers.iter().position(|h| h == name).unwrap();
        rows[0][i].to_string()
    };
    assert_eq!(get("product"), "'=cmd|' /C calc'!A0");
    assert_eq!(get("vendor"), "'@SUM(1+1)*cmd|' /C calc'!A0");
    assert_eq!(get("org"), "'+49 Example, \"Clinic\"");
    assert_eq!(get("hostname"), "'-2+3");
    assert_eq!(get("version"), "'=1+1");
    assert_eq!(get("asn"), "'=HYPERLINK(\"http://203.0.113.1\")");
    assert_eq!(get("flags"), "'=evil");
    // Harmless cells stay as they are, numbers are numbers.
    assert_eq!(get("country"), "DE");
    assert_eq!(get("port"), "104");
    assert_eq!(get("score"), "7.0");
    assert_eq!(get("damage"), "7");
    assert_eq!(get("severity"), "high");
    // No cell of the file starts with a formula character.
    for rec in &rows {
        for c in rec.iter() {
            assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']), "{c:?}");
        }
    }
}

#[test]
fn csv_has_one_row_per_distinct_service_with_vulns_and_flags() {
    let mut a = service("192.0.2.1", 104, "imaging", "DE", 9.0);
    a.vulnerabilities = vec![
        VulnerabilityRef {
            id: "CVE-2025-0001".into(),
            source: "medsurface".into(),
            cvss: Some(9.8),
            known_exploited: true,
            summary: None,
            reference: None,
        },
        VulnerabilityRef {
            id: "CVE-2024-0002".into(),
            source: "shodan".into(),
            cvss: None,
            known_exploited: false,
            summary: None,
            reference: None,
        },
    ];
    a.flags = vec!["tls-missing".into()];
    let b = honeypot(service("192.0.2.2", 104, "imaging", "DE", 3.0));
    let out = render_to_string(Format::Csv, &input(vec![b, a.clone(), a])).unwrap();
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(&rows[0][0], "192.0.2.1", "highest risk first");
    assert_eq!(&rows[0][23], "CVE-2025-0001;CVE-2024-0002");
    assert_eq!(&rows[0][24], "CVE-2025-0001");
    assert_eq!(&rows[0][25], "tls-missing");
    assert_eq!(&rows[1][25], "likely-honeypot");
    assert_eq!(&rows[1][26], "0.90");
}

#[test]
fn html_escapes_hostile_names_in_tables_and_charts() {
    let mut s = service("192.0.2.1", 104, "imaging", HOSTILE, 8.5);
    s.org = Some(HOSTILE.into());
    s.product = Some(HOSTILE.into());
    s.hostname = Some(format!("{HOSTILE}.example"));
    s.org_type = Some(HOSTILE.into());
    s.honeypot = Some(Honeypot {
        likelihood: 0.2,
        reasons: vec![HOSTILE.into()],
    });
    s.dread.as_mut().unwrap().evidence.insert(
        "damage".into(),
        Evidence {
            rule: HOSTILE.into(),
            reason: HOSTILE.into(),
        },
    );
    let mut i = input(vec![s]);
    i.title = HOSTILE.into();
    i.supply = Some(vec![vendor(HOSTILE)]);
    let html = render_to_string(Format::Html, &i).unwrap();
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(!html.contains('\u{1b}'), "control character kept");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"));
    // The charts are well-formed XML and show the name as text, escaped by plotters.
    let charts = svgs(&html);
    assert_eq!(charts.len(), 4);
    for svg in &charts {
        svg_texts(svg);
    }
    let country_texts = svg_texts(&charts[1]);
    assert!(
        country_texts
            .iter()
            .any(|t| t.starts_with("<script>alert(1)")),
        "{country_texts:?}"
    );
    assert!(charts[1].contains("&lt;script&gt;"));
    // Nothing in the page can load anything.
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
    for needle in [
        "<link", "<img", "<iframe", "<object", "src=", "url(", "@import",
    ] {
        assert!(!html.contains(needle), "{needle}");
    }
}

#[test]
fn chart_labels_are_escaped_and_well_formed() {
    let rows = vec![
        (HOSTILE.to_string(), 5),
        ("A & B <Uni>".to_string(), 3),
        ("\u{0}\u{7}bell".to_string(), 1),
    ];
    let svg = crate::bar_chart_svg("Title <b>&", &rows).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "A & B <Uni>"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "bell"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "Title <b>&"), "{texts:?}");
    assert!(!svg.contains("<script") && !svg.contains("<Uni>") && !svg.contains("<b>"));
    assert_eq!(bars(&svg), 3);
}

#[test]
fn bar_chart_has_one_bar_per_row_in_order() {
    let rows: Vec<(String, u64)> = (0..12).map(|i| (format!("C{i}"), 100 - i)).collect();
    let svg = crate::bar_chart_svg("countries", &rows).unwrap();
    assert_eq!(bars(&svg), 12);
    // The first row is drawn at the top: its label has the smallest y.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let y_of = |label: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label))
            .and_then(|n| n.attribute("y"))
            .and_then(|y| y.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no label {label}"))
    };
    assert!(y_of("C0") < y_of("C1") && y_of("C1") < y_of("C11"));
    // No rows: a chart that says so, no bars.
    let empty = crate::bar_chart_svg("nothing", &[]).unwrap();
    assert_eq!(bars(&empty), 0);
    assert!(svg_texts(&empty).iter().any(|t| t.contains("No services")));
}

#[test]
fn markdown_escapes_pipes_backticks_and_html() {
    let mut s = service("192.0.2.1", 104, "imaging", "DE", 8.0);
    s.product = Some("a|b`c`<img src=x>*bold*".into());
    s.org = Some("Uni | [x](y)".into());
    s.hostname = Some("http://203.0.113.7/x www.example.org".into());
    let md = render_to_string(Format::Markdown, &input(vec![s])).unwrap();
    assert!(md.contains(r"a\|b\`c\`\<img src=x\>\*bold\*"), "{md}");
    assert!(md.contains(r"Uni \| \[x\](y)"), "{md}");
    assert!(
        md.contains(r"http\://203.0.113.7/x www\.example.org"),
        "{md}"
    );
    assert!(!md.replace("\\<", "").contains('<'), "unescaped < in {md}");
    // Every row of the findings table has as many unescaped pipes as its header.
    let table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| # | score"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(table.len(), 3, "{md}");
    let pipes = |l: &str| {
        let b = l.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count()
    };
    assert_eq!(pipes(table[0]), pipes(table[2]), "{}", table[2]);
    for section in [
        "## Summary",
        "## Exposure by category",
        "## Top 20 countries",
        "## Organisation types",
        "## DREAD distribution",
        "## Findings by risk",
        "## Remediation",
        "## Method",
    ] {
        assert!(md.contains(section), "{section}");
    }
}

#[test]
fn honeypots_are_left_out_of_headline_numbers_unless_asked() {
    let services = vec![
        service("192.0.2.1", 104, "imaging", "DE", 8.0),
        service("192.0.2.2", 104, "imaging", "FR", 6.0),
        honeypot(service("192.0.2.3", 104, "imaging", "US", 9.0)),
        honeypot(service("192.0.2.4", 11112, "imaging", "US", 9.0)),
    ];
    let s = Summary::compute(&services, false);
    assert_eq!(s.services_total, 4);
    assert_eq!(s.services_counted, 2);
    assert_eq!(s.honeypots_flagged, 2);
    assert_eq!(s.honeypots_excluded, 2);
    assert_eq!(s.imaging_services, 2);
    assert!(s.imaging_by_country.iter().all(|c| c.name != "US"));
    assert_eq!(s.severity.critical, 1);
    let with = Summary::compute(&services, true);
    assert_eq!(with.services_counted, 4);
    assert_eq!(with.honeypots_excluded, 0);
    assert_eq!(with.imaging_by_country[0].name, "US");

    let mut i = input(services);
    let html = render_to_string(Format::Html, &i).unwrap();
    assert!(html.contains("2 services flagged as likely honeypots are left out"));
    assert!(html.contains("id=\"honeypots\""));
    assert!(html.contains("same DICOM answer as 212 other addresses"));
    let md = render_to_string(Format::Markdown, &i).unwrap();
    assert!(md.contains("2 service(s) flagged as likely honeypots are left out"));
    i.include_honeypots = true;
    let html = render_to_string(Format::Html, &i).unwrap();
    assert!(html.contains("included in the numbers of this report"));
    assert!(!html.contains("id=\"honeypots\""));
}

#[test]
fn findings_are_sorted_by_score_descending() {
    let mut unrated = service("192.0.2.9", 80, "emr", "DE", 0.0);
    unrated.dread = None;
    let services = vec![
        service("192.0.2.1", 104, "imaging", "DE", 3.5),
        unrated,
        service("192.0.2.2", 104, "imaging", "DE", 9.1),
        service("192.0.2.3", 104, "imaging", "DE", 6.2),
    ];
    let html = render_to_string(Format::Html, &input(services)).unwrap();
    let findings = &html[html.find("id=\"findings\"").unwrap()..];
    let pos = |a: &str| findings.find(a).unwrap_or_else(|| panic!("{a}"));
    assert!(pos("192.0.2.2:104") < pos("192.0.2.3:104"));
    assert!(pos("192.0.2.3:104") < pos("192.0.2.1:104"));
    assert!(pos("192.0.2.1:104") < pos("192.0.2.9:80"));
    // The evidence of each factor is there.
    assert!(findings.contains("rule-damage") && findings.contains("why exploitability is 9"));
}

#[test]
fn supply_section_appears_only_with_supply_data() {
    let mut i = input(vec![service("192.0.2.1", 104, "imaging", "DE", 8.0)]);
    let html = render_to_string(Format::Html, &i).unwrap();
    let mut last = 0;
    for id in crate::SECTIONS {
        let at = html
            .find(&format!("<section id=\"{id}\">"))
            .unwrap_or_else(|| panic!("section {id}"));
        assert!(at > last, "{id} out of order");
        last = at;
    }
    let md = render_to_string(Format::Markdown, &i).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&render_to_string(Format::Json, &i).unwrap()).unwrap();
    assert!(!html.contains("id=\"supply-chain\""));
    assert!(!md.contains("## Supply chain"));
    assert!(json["supply"].is_null());
    i.supply = Some(vec![vendor("Example Imaging Ltd")]);
    let html = render_to_string(Format::Html, &i).unwrap();
    let md = render_to_string(Format::Markdown, &i).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&render_to_string(Format::Json, &i).unwrap()).unwrap();
    assert!(html.contains("id=\"supply-chain\"") && html.contains("Example Imaging Ltd"));
    assert!(md.contains("## Supply chain") && md.contains("Example Imaging Ltd"));
    assert_eq!(json["supply"][0]["vendor"], "Example Imaging Ltd");
}

#[test]
fn top_countries_are_capped_at_twenty_and_count_distinct_services() {
    let mut services = Vec::new();
    for c in 0..25u8 {
        // Country c has 30 - c services; each appears twice in the input.
        for n in 0..(30 - c) {
            let s = service(
                &format!("198.51.{c}.{n}"),
                104,
                "imaging",
                &format!("C{c:02}"),
                5.0,
            );
            services.push(s.clone());
            services.push(s);
        }
    }
    // Non-imaging services do not count in the country ranking.
    let mut db = service("203.0.113.1", 3306, "database", "C00", 5.0);
    db.protocol = Some("mysql".into());
    services.push(db);
    let s = Summary::compute(&services, false);
    assert_eq!(s.imaging_by_country.len(), TOP_COUNTRIES);
    assert_eq!(s.imaging_by_country[0].name, "C00");
    assert_eq!(s.imaging_by_country[0].services, 30);
    assert_eq!(s.imaging_by_country[19].name, "C19");
    assert_eq!(s.imaging_by_country[19].services, 11);
    assert_eq!(s.imaging_countries, 25);
    assert_eq!(
        s.services_total,
        (0..25u64).map(|c| 30 - c).sum::<u64>() + 1
    );
    let html = render_to_string(Format::Html, &input(services)).unwrap();
    let charts = svgs(&html);
    assert_eq!(bars(&charts[1]), TOP_COUNTRIES);
}

#[test]
fn summary_counts_org_types_universities_and_dread_buckets() {
    let mut a = service("192.0.2.1", 104, "imaging", "DE", 10.0);
    a.org_type = Some("university".into());
    a.org = Some("Example University".into());
    let mut b = service("192.0.2.2", 104, "imaging", "DE", 9.99);
    b.org_type = Some("university".into());
    b.org = Some("Example University".into());
    let mut c = service("192.0.2.3", 104, "emr", "DE", 0.2);
    c.org_type = None;
    let s = Summary::compute(&[a, b, c], false);
    assert_eq!(s.university_services, 2);
    assert_eq!(s.university_orgs, 1);
    assert_eq!(s.org_types[0].name, "university");
    assert_eq!(s.org_types[1].name, "unknown");
    assert_eq!(s.dread_histogram[9], 2);
    assert_eq!(s.dread_histogram[0], 1);
    assert_eq!(s.by_category[0].name, "imaging");
}

#[test]
fn json_document_has_stable_top_level_fields() {
    let mut i = input(vec![
        service("192.0.2.1", 104, "imaging", "DE", 8.0),
        honeypot(service("192.0.2.2", 104, "imaging", "DE", 8.0)),
    ]);
    i.title = HOSTILE.into();
    let v: serde_json::Value =
        serde_json::from_str(&render_to_string(Format::Json, &i).unwrap()).unwrap();
    for k in ["report", "summary", "services", "supply", "method"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["report"]["title"], HOSTILE);
    assert_eq!(v["services"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["services"][0]["dread"]["evidence"]["damage"]["rule"],
        "rule-damage"
    );
    assert_eq!(v["summary"]["services_counted"], 1);
    assert_eq!(v["summary"]["honeypots_excluded"], 1);
    assert_eq!(v["method"]["rubric"], "builtin risk/dread.toml");
}

#[test]
fn findings_limit_caps_html_rows_but_not_csv() {
    let services: Vec<Service> = (0..30)
        .map(|n| {
            service(
                &format!("192.0.2.{n}"),
                104,
                "imaging",
                "DE",
                n as f32 / 3.0,
            )
        })
        .collect();
    let mut i = input(services);
    i.findings_limit = Some(5);
    let html = render_to_string(Format::Html, &i).unwrap();
    assert_eq!(html.matches("<tr class=\"finding\">").count(), 5);
    assert!(html.contains("the first 5 are shown"));
    let csv = render_to_string(Format::Csv, &i).unwrap();
    assert_eq!(csv.lines().count(), 31);
}

#[test]
fn formats_parse_and_name_themselves() {
    for f in Format::ALL {
        assert_eq!(Format::parse(f.as_str()), Some(f));
    }
    assert_eq!(Format::parse("markdown"), Some(Format::Markdown));
    assert_eq!(Format::parse("pdf"), None);
}
