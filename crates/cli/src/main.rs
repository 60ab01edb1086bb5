//! The `medsurface` binary: the only place where stages are wired together.
//!
//! clap definitions (`cli`) are turned into one validated plan (`plan`) before any packet
//! leaves; each command module then connects the stages through the model types. Errors from
//! libraries arrive typed and are turned into a message and an exit code here, and nowhere else.

mod analysis;
mod cli;
mod config;
mod demo;
mod diff_cmd;
mod exit;
mod ingest_cmd;
mod lab;
mod plan;
mod report_cmd;
mod scan_cmd;
mod scans_cmd;
mod shodan_cmd;
mod stats_cmd;
mod vendors_cmd;
mod view;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// mimalloc rather than the system's malloc: imports free on one thread what another allocated,
/// which glibc's malloc does slowly (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan_cmd::run(*args),
        Command::Scans(args) => scans_cmd::run(args),
        Command::Ingest(args) => ingest_cmd::run(args),
        Command::Stats(args) => stats_cmd::run(args),
        Command::Shodan(args) => shodan_cmd::run(args),
        Command::Vendors(args) => vendors_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Diff(args) => diff_cmd::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Lab(args) => lab::run(args),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            let code = exit::classify(&err);
            eprintln!("medsurface: error: {err:#}");
            code.into()
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}
