//! product.md: "A live scan and a Shodan import of the same host must produce the same
//! classification." The imported observation of each sample banner goes through the one
//! classifier; where a live probe's observation of the same service can be written down (the
//! keys the live HTTP and DICOM probes fill, with the values they would read from the same
//! answer), both must classify alike.

use std::ops::ControlFlow;
use std::path::Path;

use medsurface_analyze::Classifier;
use medsurface_ingest::{read_file, Format, IngestOptions};
use medsurface_model::{Details, Observation, Source};

fn sample() -> Vec<Observation> {
    let mut out = Vec::new();
    read_file(
        Format::Shodan,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shodan-sample.jsonl"),
        &mut |r| {
            out.extend(r.observations);
            ControlFlow::Continue(())
        },
        &IngestOptions::default(),
    )
    .unwrap();
    out
}

/// What a live probe would have written for the same answer: the shared-vocabulary keys the
/// import filled, without the import-only ones (`shodan.*`, `geo.*`, `net.*`) and the raw banner
/// (the live HTTP and DICOM probes do not keep one).
fn as_live(o: &Observation, probe: &str) -> Observation {
    let details: Details = o
        .details
        .iter()
        .filter(|(k, _)| medsurface_model::fields::field(k).is_some() && !k.starts_with("banner."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Observation {
        source: Source::Scan,
        probe: probe.into(),
        details,
        ..o.clone()
    }
}

#[test]
fn imported_and_live_observations_classify_alike() {
    let classifier = Classifier::builtin().expect("shipped signatures load");
    let obs = sample();
    let mut compared = 0;
    for o in &obs {
        let imported = classifier.classify(o);
        let probe = match o.protocol.as_deref() {
            Some("dicom") => "dicom",
            Some("http") | Some("https") => "http",
            Some("hl7") => "hl7",
            Some("mongodb" | "elasticsearch" | "mysql" | "postgresql" | "redis") => "db",
            _ => continue,
        };
        let live = classifier.classify(&as_live(o, probe));
        let name = |c: &Option<medsurface_analyze::Classification>| {
            c.as_ref()
                .map(|c| (c.category, c.vendor.clone(), c.product.clone()))
        };
        assert_eq!(
            name(&imported),
            name(&live),
            "{}:{} {:?}",
            o.ip,
            o.port,
            o.details
        );
        compared += 1;
    }
    assert!(compared >= 12, "{compared}");
}

#[test]
fn the_sample_orthanc_and_dicom_servers_are_imaging() {
    let classifier = Classifier::builtin().expect("shipped signatures load");
    let obs = sample();
    let explorer = obs
        .iter()
        .find(|o| o.details.get("http.title").and_then(|t| t.as_str()) == Some("Orthanc Explorer"))
        .unwrap();
    let c = classifier
        .classify(explorer)
        .expect("Orthanc Explorer is recognised");
    assert_eq!(c.category.as_str(), "imaging");
    assert!(c.product.contains("Orthanc"), "{c:?}");
    let dcmtk = obs.iter().find(|o| o.port == 104).unwrap();
    let c = classifier
        .classify(dcmtk)
        .expect("a DCMTK DICOM server is recognised");
    assert_eq!(c.category.as_str(), "imaging");
}
