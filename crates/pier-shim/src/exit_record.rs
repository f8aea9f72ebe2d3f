//! Writing `exit.json` atomically: temp file, fsync, rename, fsync the dir.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pier_shim_proto::ExitRecord;

pub fn write(path: &Path, record: &ExitRecord) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec(record).context("encode exit record")?;
    let mut f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(&body)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("sync {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("exit.json");
        let r = ExitRecord {
            exit_code: 137,
            signal: Some(9),
            started_at: Some(1),
            finished_at: 2,
            oom_killed: false,
        };
        write(&p, &r).expect("write");
        write(&p, &r).expect("rewrite");
        let back: ExitRecord = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("parse");
        assert_eq!(back, r);
        assert!(!p.with_extension("json.tmp").exists());
    }
}
