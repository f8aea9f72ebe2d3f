//! `pierd`: flags and daemon.json, logging, the API socket, signals; the
//! daemon itself is `pierd::run`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;
use pierd::config::{self, DaemonConfig, FileConfig};

#[derive(Debug, Parser)]
#[command(name = "pierd", version, about = "The Pier container engine daemon")]
struct Flags {
    /// Root directory of persistent state.
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Root directory of execution state (sockets, bundles).
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// API socket to listen on (unix:///PATH).
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// OCI runtime: runc, crun or a path.
    #[arg(long)]
    runtime: Option<String>,
    /// Daemon configuration file.
    #[arg(long)]
    config_file: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(short = 'l', long)]
    log_level: Option<String>,
    /// Run an init inside containers to forward signals and reap processes.
    #[arg(long)]
    init: bool,
    /// Path to the docker-init binary.
    #[arg(long)]
    init_path: Option<PathBuf>,
    /// Register an additional OCI compatible runtime (NAME=PATH).
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    add_runtime: Vec<String>,
    /// Parent cgroup of containers without --cgroup-parent (default /pier).
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// Serve the Kubernetes CRI (runtime.v1) on this socket (unix:///PATH).
    #[arg(long)]
    cri_socket: Option<String>,
    /// The pier-shim binary (default: next to pierd).
    #[arg(long, env = "PIER_SHIM")]
    shim: Option<PathBuf>,
    /// Set key=value labels to the daemon.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
}

fn read_config_file(flags: &Flags) -> anyhow::Result<FileConfig> {
    let (path, explicit) = match &flags.config_file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(config::DEFAULT_CONFIG_FILE), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(config::parse_file(&path, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("read config file {}", path.display())),
    }
}

fn default_shim() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locate pierd executable")?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    Ok(dir.join("pier-shim"))
}

/// Bind the API socket: remove a stale one, mode 0660, owner root.
fn bind(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("remove stale socket {}", path.display())),
    }
    let listener = tokio::net::UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    std::os::unix::fs::chown(path, Some(0), Some(0)).with_context(|| format!("chown {}", path.display()))?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn main() -> anyhow::Result<()> {
    // Before any thread: one malloc arena (see `limit_malloc_arenas`).
    pier_sys::mem::limit_malloc_arenas(1);
    let flags = Flags::parse();
    let file = read_config_file(&flags)?;
    let level = flags
        .log_level
        .clone()
        .or(file.log_level.clone())
        .unwrap_or_else(|| if file.debug == Some(true) { "debug" } else { "info" }.to_string());
    let filter =
        tracing_subscriber::EnvFilter::try_new(&level).with_context(|| format!("parse log level {level:?}"))?;
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init();
    }
    // A reload's `debug` changes the level unless -l fixed it.
    if flags.log_level.is_none() {
        pierd::daemon::reload::install_log_level_setter(move |level| {
            let f = tracing_subscriber::EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
            handle.reload(f).map_err(|e| e.to_string())
        });
    }

    let data_root = flags
        .data_root
        .clone()
        .or(file.data_root.clone())
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_ROOT));
    let exec_root = flags
        .exec_root
        .clone()
        .or(file.exec_root.clone())
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_EXEC_ROOT));
    let hosts = if !flags.host.is_empty() {
        flags.host.clone()
    } else {
        file.hosts
            .clone()
            .unwrap_or_else(|| vec![config::DEFAULT_HOST.to_string()])
    };
    let [host] = hosts.as_slice() else {
        bail!("exactly one -H/--host is supported, got {}", hosts.len());
    };
    let socket = config::parse_host(host)?;
    let runtime_name = flags
        .runtime
        .clone()
        .or(file.default_runtime.clone())
        .unwrap_or_else(|| config::DEFAULT_RUNTIME.to_string());
    let runtime = config::resolve_runtime(&runtime_name, std::env::var("PATH").ok().as_deref())?;
    let shim = match &flags.shim {
        Some(p) => p.clone(),
        None => default_shim()?,
    };
    if !shim.is_file() {
        bail!("pier-shim not found at {} (use --shim or PIER_SHIM)", shim.display());
    }
    let mut cfg = DaemonConfig::new(data_root, exec_root, runtime, shim);
    if let Some(d) = file.log_driver.clone() {
        config::check_log_driver(&d)?;
        cfg.log_driver = d;
    }
    cfg.log_opts = file.log_opts.clone().unwrap_or_default();
    cfg.detach_keys = file.detach_keys.clone();
    let mut labels = file.labels.clone().unwrap_or_default();
    labels.extend(flags.label.iter().cloned());
    cfg.live = pierd::daemon::reload::LiveConfig {
        debug: file.debug.unwrap_or(false),
        labels: pierd::daemon::reload::check_labels(&labels).map_err(anyhow::Error::msg)?,
        insecure_registries: file.insecure_registries.clone().unwrap_or_default(),
        live_restore: file.live_restore.unwrap_or(false),
    };
    cfg.config_file = Some(
        flags
            .config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_FILE)),
    );
    cfg.init = flags.init || file.init.unwrap_or(false);
    cfg.init_path = flags.init_path.clone().or(file.init_path.clone());
    let path_var = std::env::var("PATH").ok();
    let mut runtimes: Vec<(String, String)> = file
        .runtimes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, r)| (name, r.path))
        .collect();
    for r in &flags.add_runtime {
        let Some((name, path)) = r.split_once('=') else {
            bail!("invalid --add-runtime {r:?}: NAME=PATH");
        };
        runtimes.push((name.to_string(), path.to_string()));
    }
    for (name, path) in runtimes {
        let resolved = config::resolve_runtime(&path, path_var.as_deref())?;
        cfg.runtimes.insert(name, resolved);
    }
    cfg.networking = config::NetworkingConfig::from_file(&file);
    cfg.cgroup_parent = flags
        .cgroup_parent
        .clone()
        .or(file.cgroup_parent.clone())
        .filter(|p| !p.is_empty());

    cfg.cri = config::CriConfig::from_file(file.cri.as_ref(), flags.cri_socket.as_deref())?;

    // Refuse early, before touching the socket of a running pierd.
    drop(pierd::DataRootLock::acquire(&cfg.data_root)?);

    // Blocking threads (file and mount work) that stay idle for a second
    // exit, and with them their malloc caches and stacks: tokio's 10 s
    // default keeps a pool grown by a burst of starts alive through any
    // steady trickle of work (idle threads are woken in turn), ~1 MiB with
    // 16 threads. Making a thread again costs tens of microseconds.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .context("start tokio runtime")?;
    rt.block_on(async move {
        let listener = bind(&socket)?;
        tracing::info!(socket = %socket.display(), "listening");
        let res = pierd::run(cfg, listener, shutdown_signal()).await;
        let _ = std::fs::remove_file(&socket);
        res
    })
}
