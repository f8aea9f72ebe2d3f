//! The shim's own diagnostics: `tracing` to `ShimConfig::shim_log`.
//! The level comes from `PIER_SHIM_LOG` (error, warn, info, debug, trace;
//! default info).

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use tracing::Level;

pub fn init(path: &Path) -> anyhow::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open shim log {}", path.display()))?;
    let level = std::env::var("PIER_SHIM_LOG")
        .ok()
        .and_then(|l| l.parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .with_target(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("set up shim log: {e}"))
}
