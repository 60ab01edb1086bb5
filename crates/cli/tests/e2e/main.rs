//! End-to-end tests of the `medsurface` binary: real sockets on loopback, a real store.
//!
//! Every test uses its own 127.x.y.0 block so tests can run in parallel, sends traffic only to
//! 127.0.0.0/8 (or into a network namespace it creates), and synchronises on files and pipes,
//! never on sleeps.

mod harness;

mod demo;
mod enrich;
mod errors;
mod feeds;
mod ingest;
mod netns;
mod probes;
mod report;
mod report_svg;
mod resume;
mod scan;
mod shodan;
mod vendors;
