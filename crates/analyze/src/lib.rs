//! Pure analysis of observations. For now: classification by signatures as data.
//!
//! A signature is one TOML file per product under `signatures/` (format in
//! `signatures/README.md`): metadata (vendor, product, category, public references), matchers
//! over named observation fields, version extraction, and examples that `cargo test` runs. The
//! files are parsed once, validated strictly (an unknown key, a field that no probe fills, a bad
//! regex, a bad category or a duplicate id is an error naming file and line), compiled, and then
//! matched by one engine, [`Classifier`], whatever the observation's source — a live probe and a
//! Shodan import of the same host are classified alike.
//!
//! The seam is shaped by the volume it must take: an import streams millions of observations,
//! so loading does every costly step (parsing, regex compilation, type checks of matchers
//! against [`medsurface_model::fields::FIELDS`]) and [`Classifier::best_match`] only reads the
//! observation and allocates nothing. [`Classifier::classify`] allocates the owned
//! [`Classification`] for matches only.

mod error;
mod matcher;
mod signature;

pub mod classifier;
pub mod cpe_names;
pub mod enrich;
pub mod risk;

pub use classifier::{Classifier, ExampleFailure, ExampleProblem, Match};
pub use error::{ErrorKind, SignatureError};
pub use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
pub use signature::{Example, Signature};

/// The files of `signatures/` compiled into the binary by `build.rs`.
mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_signatures.rs"));
}

/// The shipped signature files as (file name, contents), sorted by name.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    builtin::BUILTIN
}
