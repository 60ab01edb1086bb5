//! Pure parsers and encoders of the wire formats medsurface speaks, and the knowledge tables
//! that turn what a peer said into a vendor, a product and a version.
//!
//! This crate owns the bytes, not the sockets. Live probes (`medsurface-scan`) and importers
//! (Shodan, Censys, …) both call it, so a DICOM answer read off the wire and a DICOM banner read
//! out of a Shodan export go through the same code and end in the same `dicom.*` details.
//!
//! Every parser has one shape, taken from dicom-rs's PDU reader: it is handed a byte slice and
//! an explicit limit, and returns `Ok(None)` when it needs more bytes, `Ok(Some(_))` with a
//! value, or a typed error. No parser opens a socket, sleeps, prints, or allocates a buffer
//! whose size came from a length field the peer wrote: a declared length is checked against
//! the limit before anything else happens.
//!
//! Nothing here keeps patient data. The DICOM answer parser never copies the bytes of a data
//! set (a C-FIND identifier): it only reports how long it was. Text a peer sent (UIDs, version
//! names) is bounded and escaped with [`medsurface_model::text::printable`] before it leaves
//! this crate.

pub mod db;
pub mod dicom;
pub mod dicomweb;
pub mod favicon;
pub mod fhir;
pub mod hl7;
pub mod http;
pub mod tls;
