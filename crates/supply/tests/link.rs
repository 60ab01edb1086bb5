//! Linking services to register vendors: by signature vendor and alias, by the DICOM
//! implementation-UID roots of the knowledge table and of the register, and calling out the
//! makers that are not in the register.

mod common;

use common::*;
use medsurface_supply::{Link, Linker, Via};

const REGISTER: &str = r#"
[[vendor]]
name = "Northwind Imaging Services"
aliases = ["Orthanc project"]
dicom_uid_roots = ["1.2.826.0.1.3680043.2.999"]

[[vendor]]
name = "GE HealthCare, Inc."
services = ["ultrasound"]

[[vendor]]
name = "Contoso Badge Systems"
badge_access = true
"#;

#[test]
fn signature_vendor_links_by_alias_without_case_or_punctuation() {
    let r = register(REGISTER);
    let linker = Linker::new(&r).unwrap();
    for spelled in ["Orthanc project", "ORTHANC-PROJECT", "orthanc  project."] {
        let a = linker.attribute(&service("192.0.2.10", 4242, Some(spelled), Some("Orthanc")));
        assert_eq!(a.link, Link::Registered(0), "{spelled}");
        assert_eq!(a.via, Some(Via::Signature(spelled.to_string())));
    }
    // The register's own name works as well as an alias; a near miss does not link.
    let a = linker.attribute(&service(
        "192.0.2.11",
        104,
        Some("Northwind Imaging Services"),
        None,
    ));
    assert_eq!(a.link, Link::Registered(0));
    let a = linker.attribute(&service("192.0.2.12", 104, Some("Orthanc"), None));
    assert_eq!(a.link, Link::Unregistered("Orthanc".into()));
}

#[test]
fn dicom_uid_root_of_the_knowledge_table_names_the_vendor() {
    let r = register(REGISTER);
    let linker = Linker::new(&r).unwrap();
    // A generic DICOM signature (vendor "unknown") and GE's registered root: the table names
    // "GE Healthcare"; the register spells it "GE HealthCare, Inc.", which folds differently
    // (the "inc"), so the service is called out under the table's name.
    let ge = with_detail(
        service("192.0.2.20", 104, Some("unknown"), Some("DICOM server")),
        "dicom.implementation_class_uid",
        "1.2.840.113619.6.55",
    );
    let a = linker.attribute(&ge);
    assert_eq!(a.link, Link::Unregistered("GE Healthcare".into()));
    assert_eq!(
        a.via,
        Some(Via::DicomFingerprint {
            vendor: "GE Healthcare".into(),
            toolkit: false
        })
    );

    // With an alias the hospital adds, the same service links.
    let r = register(&REGISTER.replace(
        "services = [\"ultrasound\"]",
        "services = [\"ultrasound\"]\naliases = [\"GE Healthcare\"]",
    ));
    let linker = Linker::new(&r).unwrap();
    let a = linker.attribute(&ge);
    assert_eq!(a.link, Link::Registered(1));
    // A UID that only shares digits with the root (not a dot boundary) is not GE's.
    let not_ge = with_detail(
        service("192.0.2.21", 104, None, None),
        "dicom.implementation_class_uid",
        "1.2.840.1136190.1",
    );
    assert_eq!(linker.attribute(&not_ge).link, Link::Unattributed);
}

#[test]
fn register_uid_roots_come_first_and_toolkits_are_marked() {
    let r = register(REGISTER);
    let linker = Linker::new(&r).unwrap();
    let own = with_detail(
        service(
            "192.0.2.30",
            11112,
            Some("pydicom project"),
            Some("pynetdicom"),
        ),
        "dicom.implementation_class_uid",
        "1.2.826.0.1.3680043.2.999.7.1",
    );
    let a = linker.attribute(&own);
    assert_eq!(a.link, Link::Registered(0));
    assert_eq!(
        a.via,
        Some(Via::RegisterUidRoot("1.2.826.0.1.3680043.2.999".into()))
    );

    // DCMTK's root names the toolkit's maker, flagged as a toolkit.
    let dcmtk = with_detail(
        with_detail(
            service("192.0.2.31", 104, None, None),
            "dicom.implementation_class_uid",
            "1.2.276.0.7230010.3.0.3.6.7",
        ),
        "dicom.implementation_version_name",
        "OFFIS_DCMTK_367",
    );
    let a = linker.attribute(&dcmtk);
    assert_eq!(a.link, Link::Unregistered("OFFIS".into()));
    assert_eq!(
        a.via,
        Some(Via::DicomFingerprint {
            vendor: "OFFIS".into(),
            toolkit: true
        })
    );

    // What the probe recorded (dicom.vendor + dicom.fingerprint) is used as recorded.
    let recorded = with_detail(
        with_detail(
            service("192.0.2.32", 104, None, None),
            "dicom.vendor",
            "Philips",
        ),
        "dicom.fingerprint",
        "philips",
    );
    let a = linker.attribute(&recorded);
    assert_eq!(a.link, Link::Unregistered("Philips".into()));
}

#[test]
fn services_are_grouped_and_unregistered_makers_kept() {
    let r = register(REGISTER);
    let linker = Linker::new(&r).unwrap();
    let services = vec![
        service("192.0.2.10", 4242, Some("Orthanc project"), Some("Orthanc")),
        service(
            "192.0.2.10",
            8042,
            Some("Orthanc project"),
            Some("Orthanc Explorer"),
        ),
        service("198.51.100.5", 80, Some("OpenEMR project"), Some("OpenEMR")),
        service("198.51.100.6", 80, Some("openemr PROJECT"), Some("OpenEMR")),
        service("198.51.100.7", 2575, Some("unknown"), Some("HL7 listener")),
        service("198.51.100.8", 2575, None, None),
    ];
    let linked = linker.link(&services);
    assert_eq!(linked.registered[0].len(), 2);
    assert!(linked.registered[1].is_empty() && linked.registered[2].is_empty());
    assert_eq!(linked.unregistered.len(), 1);
    let emr = linked.unregistered.values().next().unwrap();
    assert_eq!(emr.name, "OpenEMR project");
    assert_eq!(emr.services.len(), 2);
    assert_eq!(linked.unattributed, 2);
}

#[test]
fn a_signature_that_restates_a_toolkit_fingerprint_is_marked_as_toolkit() {
    let r = register(REGISTER);
    let linker = Linker::new(&r).unwrap();
    // The DCMTK signature names OFFIS, DCMTK's maker; the probe recorded the toolkit entry.
    let s = with_detail(
        with_detail(
            service("192.0.2.40", 104, Some("OFFIS"), Some("DCMTK")),
            "dicom.vendor",
            "OFFIS",
        ),
        "dicom.fingerprint",
        "dcmtk",
    );
    let a = linker.attribute(&s);
    assert_eq!(a.link, Link::Unregistered("OFFIS".into()));
    assert_eq!(
        a.via,
        Some(Via::DicomFingerprint {
            vendor: "OFFIS".into(),
            toolkit: true
        })
    );
    // A product signature over the same toolkit (Orthanc) keeps its signature link.
    let s = with_detail(
        with_detail(
            service("192.0.2.41", 4242, Some("Orthanc project"), Some("Orthanc")),
            "dicom.vendor",
            "OFFIS",
        ),
        "dicom.fingerprint",
        "dcmtk",
    );
    let a = linker.attribute(&s);
    assert_eq!(a.link, Link::Registered(0));
    assert_eq!(a.via, Some(Via::Signature("Orthanc project".into())));
}
