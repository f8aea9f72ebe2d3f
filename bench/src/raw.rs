//! The floor: a raw OCI runtime (runc or crun) on a plain bundle over the
//! busybox rootfs, with its own `--root` state directory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use crate::proc::{self, Outcome, Stdout};

const STEP: Duration = Duration::from_secs(60);

pub struct RawRuntime {
    pub program: String,
    work: PathBuf,
    state_root: PathBuf,
    bundles_dir: PathBuf,
    rootfs: PathBuf,
    base_spec: Value,
    bundles: HashMap<Vec<String>, PathBuf>,
    live: Vec<String>,
}

/// The spec `runc spec` writes, made non-interactive over `rootfs`.
pub fn base_spec(work: &Path, rootfs: &Path) -> Result<Value> {
    let dir = work.join("spec-template");
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    proc::run(
        Command::new("runc").arg("spec").arg("--bundle").arg(&dir),
        Stdout::Null,
        STEP,
    )?
    .ok("runc spec")?;
    let text = fs::read_to_string(dir.join("config.json")).context("read runc spec")?;
    let mut spec: Value = serde_json::from_str(&text).context("parse runc spec")?;
    spec["process"]["terminal"] = json!(false);
    spec["root"] = json!({ "path": rootfs, "readonly": true });
    Ok(spec)
}

impl RawRuntime {
    pub fn new(program: &str, work: &Path, rootfs: &Path, base_spec: Value) -> Result<Self> {
        Self::tagged(program, program, work, rootfs, base_spec)
    }

    /// As `new`, with state and bundles under `<work>/<tag>-*` (a second
    /// instance of the same runtime on another spec).
    pub fn tagged(program: &str, tag: &str, work: &Path, rootfs: &Path, base_spec: Value) -> Result<Self> {
        let state_root = work.join(format!("{tag}-state"));
        let bundles_dir = work.join(format!("{tag}-bundles"));
        for d in [&state_root, &bundles_dir] {
            fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
        }
        Ok(RawRuntime {
            program: program.to_string(),
            work: work.to_path_buf(),
            state_root,
            bundles_dir,
            rootfs: rootfs.to_path_buf(),
            base_spec,
            bundles: HashMap::new(),
            live: Vec::new(),
        })
    }

    /// The bench's scratch directory this runtime writes under.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--root").arg(&self.state_root);
        c
    }

    /// A bundle whose process runs `args` (one per distinct command).
    fn bundle(&mut self, args: &[&str]) -> Result<PathBuf> {
        let key: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(b) = self.bundles.get(&key) {
            return Ok(b.clone());
        }
        let dir = self.bundles_dir.join(self.bundles.len().to_string());
        fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let mut spec = self.base_spec.clone();
        spec["process"]["args"] = json!(key);
        spec["root"]["path"] = json!(self.rootfs);
        let text = serde_json::to_vec_pretty(&spec).context("encode spec")?;
        fs::write(dir.join("config.json"), text).with_context(|| format!("write {}/config.json", dir.display()))?;
        self.bundles.insert(key, dir.clone());
        Ok(dir)
    }

    /// `RUNTIME run -d`: returns once the container runs.
    pub fn run_detached(&mut self, id: &str, args: &[&str]) -> Result<Outcome> {
        let bundle = self.bundle(args)?;
        self.live.push(id.to_string());
        let mut c = self.cmd();
        c.args(["run", "-d", "--bundle"]).arg(&bundle).arg(id);
        proc::run(&mut c, Stdout::Null, STEP)?.ok(&format!("{} run -d", self.program))
    }

    /// `RUNTIME run` in the foreground: the container's stdout goes to
    /// `stdout`; the runtime deletes the container when it exits.
    pub fn run_foreground(&mut self, id: &str, args: &[&str], stdout: Stdout, timeout: Duration) -> Result<Outcome> {
        let bundle = self.bundle(args)?;
        let mut c = self.cmd();
        c.args(["run", "--bundle"]).arg(&bundle).arg(id);
        proc::run(&mut c, stdout, timeout)?.ok(&format!("{} run", self.program))
    }

    pub fn exec(&mut self, id: &str, args: &[&str]) -> Result<Outcome> {
        let mut c = self.cmd();
        c.arg("exec").arg(id).args(args);
        proc::run(&mut c, Stdout::Null, STEP)?.ok(&format!("{} exec", self.program))
    }

    pub fn remove(&mut self, id: &str) -> Result<()> {
        self.live.retain(|l| l != id);
        let mut c = self.cmd();
        c.args(["delete", "-f", id]);
        proc::run(&mut c, Stdout::Null, STEP)?.ok(&format!("{} delete -f {id}", self.program))?;
        Ok(())
    }

    /// Checks the runtime can run a container here at all (crun refuses
    /// some cgroup v1/v2 hybrid layouts).
    pub fn probe(&mut self) -> Result<()> {
        let id = format!("pb-probe-{}", self.program);
        let r = self.run_detached(&id, &["sleep", "1000"]);
        let cleanup = self.remove(&id);
        r.map_err(|e| anyhow!("{e:#}"))?;
        cleanup
    }

    pub fn version(&self) -> String {
        proc::run(Command::new(&self.program).arg("--version"), Stdout::Capture, STEP)
            .map(|o| {
                let t = o.stdout_text();
                t.lines().next().unwrap_or("?").to_string()
            })
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }
}

impl Drop for RawRuntime {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.live) {
            let mut c = self.cmd();
            c.args(["delete", "-f", &id]);
            let _ = proc::run(&mut c, Stdout::Null, STEP);
        }
    }
}
