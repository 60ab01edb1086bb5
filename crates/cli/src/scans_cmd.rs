//! `medsurface scans`: the scans in the store, as a table or JSON lines.

use anyhow::Result;
use medsurface_store::{SqliteStore, Store};

use crate::cli::ScansArgs;
use crate::exit::Exit;
use crate::scan_cmd::db_path;

pub fn run(args: ScansArgs) -> Result<Exit> {
    let db = db_path(args.store.db)?;
    if !db.exists() {
        eprintln!("medsurface: no store at {} yet: no scans", db.display());
        return Ok(Exit::Ok);
    }
    let store = SqliteStore::open(&db)?;
    let scans = store.scans()?;
    if args.json {
        for s in &scans {
            let line = serde_json::json!({
                "id": s.id.0,
                "status": s.status.as_str(),
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "shard": s.shard.to_string(),
                "seed": s.seed,
                "total": s.total.to_string(),
                "done": s.checkpoint.done_count().to_string(),
                "counts": s.counts,
                "args": s.args,
            });
            println!("{line}");
        }
        return Ok(Exit::Ok);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "id", "status", "started", "duration", "done", "open", "filtered", "shard", "command",
    ]);
    for s in &scans {
        let duration = s
            .finished_at
            .map(|f| format!("{:.1} s", f.duration_since(s.started_at).as_secs_f64()))
            .unwrap_or_default();
        table.add_row([
            s.id.to_string(),
            s.status.as_str().to_string(),
            s.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            duration,
            format!("{}/{}", s.checkpoint.done_count(), s.total),
            s.counts.open.to_string(),
            s.counts.filtered.to_string(),
            s.shard.to_string(),
            medsurface_model::text::printable(s.args.join(" ").as_bytes(), 200),
        ]);
    }
    println!("{table}");
    Ok(Exit::Ok)
}
