//! Hostile input: no importer panics, hangs or fails the run on any bytes; a bad record is a
//! counted record error, and only a corrupt gzip stream ends an import with an error.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::path::Path;

use medsurface_ingest::{keys, read, Format, IngestError, IngestOptions, Named};
use proptest::prelude::*;

fn run(format: Format, bytes: Vec<u8>) -> Result<u64, IngestError> {
    let opts = IngestOptions {
        batch_bytes: 512,
        max_record_bytes: 4096,
        ..IngestOptions::default()
    };
    let mut observations = 0u64;
    let input = Named {
        name: "fuzz",
        reader: Cursor::new(bytes),
    };
    let report = read(
        format,
        input,
        &mut |r| {
            for o in &r.observations {
                for k in o.details.keys() {
                    assert!(keys::is_known(k), "unknown key {k}");
                }
            }
            observations += r.observations.len() as u64;
            ControlFlow::Continue(())
        },
        &opts,
    )?;
    assert_eq!(report.observations, observations);
    Ok(report.records)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn format_strategy() -> impl Strategy<Value = Format> {
    prop::sample::select(Format::ALL.to_vec())
}

fn fixture_for(format: Format) -> Vec<u8> {
    match format {
        Format::Shodan => fixture("shodan-sample.jsonl"),
        Format::Censys => fixture("censys-search.json"),
        Format::Nmap => fixture("nmap-dicom.xml"),
        Format::Masscan => fixture("masscan.json"),
        Format::Zgrab2 => fixture("zgrab2.jsonl"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(format in format_strategy(), bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        // Not gzip magic: plain input never ends in an error.
        prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
        prop_assert!(run(format, bytes).is_ok());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        format in format_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = fixture_for(format);
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let end = cut.index(bytes.len() + 1);
        bytes.truncate(end);
        prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
        prop_assert!(run(format, bytes).is_ok());
    }

    #[test]
    fn mutated_gzip_is_data_or_a_decompress_error(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let plain = fixture("shodan-sample.jsonl");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &plain).unwrap();
        let mut gz = enc.finish().unwrap();
        for (at, b) in flips {
            // Keep the magic so the input stays "gzip".
            let i = 2 + at.index(gz.len() - 2);
            gz[i] = b;
        }
        match run(Format::Shodan, gz) {
            Ok(records) => prop_assert!(records <= 20),
            Err(IngestError::Decompress { .. }) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
