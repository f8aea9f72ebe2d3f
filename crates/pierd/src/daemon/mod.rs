//! The container table and every container operation. HTTP-free: handlers in
//! `http/` call these methods and map `Error` to status codes.
//!
//! Locking: the table is a `std::sync::RwLock` held only for map lookups,
//! never across `.await`. Each container has its own `op` mutex serialising
//! lifecycle operations (start, stop, remove) on that container alone, and a
//! `watch` channel holding its latest state so readers (list, inspect, wait)
//! never wait behind a slow operation.
//!
//! Parts: `lifecycle/` (create, bundle, start/stop/kill/wait, the exit
//! monitor, remove, list, restore), `streams/` (attach sessions, exec,
//! logs), `storage/` (mount points, volumes, archives, confined lookups),
//! `images/` (the image store as containers use it, commit, filters).

pub(crate) mod events;
pub(crate) mod images;
pub(crate) mod lifecycle;
pub mod reload;
pub(crate) mod storage;
pub(crate) mod streams;
pub(crate) mod usage;

pub use streams::{detach_keys, session};

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use pier_image::ImageStore;
use tokio::sync::{watch, Mutex};
use tokio::task::AbortHandle;

use crate::config::DaemonConfig;
use crate::error::{Error, Result};
use crate::names::Names;
use crate::record::{self, ContainerRecord};
use crate::shim::ShimHandle;

pub use images::commit::CommitOptions;
pub use images::image_filters::{prune_all as image_prune_all, ImageFilters};
pub use images::store::import_reference;
pub use lifecycle::control::WaitCondition;
pub use lifecycle::control::WaitOutcome;
pub use lifecycle::create::CreateOptions;
pub use lifecycle::create::Created;
pub use lifecycle::list::{ListFilters, ListOptions};
pub use lifecycle::prune::PruneFilters;
pub use storage::volumes::parse_filters as volume_filters;
pub use streams::attach::{wait_for_shim, AttachParams, AttachTarget, ShimSource};
pub use streams::exec::{exec_failure, Exec, ExecConfig, ExecFailure, ExecStatus};
pub use streams::logs::{LogChunk, LogStream, LogsOptions};
pub use usage::disk::{DiskUsage, DiskUsageOptions};
pub use usage::stats::{StatsFrame, StatsOptions, StatsStream};

/// A container's latest state as readers see it.
#[derive(Debug, Clone)]
pub struct Live {
    /// Shared, so a listing takes the records it shows without copying
    /// them (a record holds the whole spec); changed through
    /// `Arc::make_mut` (a copy only while a reader still holds the old one).
    pub record: Arc<ContainerRecord>,
    /// Exits seen since pierd started (for `wait?condition=next-exit`).
    pub exits: u64,
    /// Set once the container is gone (for `wait?condition=removed`).
    pub removed: bool,
}

/// One container: its directories, its operation lock and its state.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    /// `<data-root>/containers/<id>`.
    pub dir: PathBuf,
    /// `<exec-root>/<id>`.
    pub bundle: PathBuf,
    /// Its shim (there or not), every call bounded by a timeout.
    pub shim: ShimHandle,
    /// Shared so restore can take it before the API serves and hand it
    /// to the task that settles the container.
    op: Arc<Mutex<()>>,
    persist: Mutex<()>,
    live: watch::Sender<Live>,
    /// Its restart policy's back-off and pending restart.
    restart: std::sync::Mutex<lifecycle::restart::RestartManager>,
}

impl Container {
    fn new(record: ContainerRecord, cfg: &DaemonConfig) -> Self {
        let id = record.id.clone();
        let bundle = cfg.exec_root.join(&id);
        Container {
            dir: cfg.containers_dir().join(&id),
            shim: cfg.shims.handle(
                &id,
                bundle.join("shim.sock"),
                crate::shim::RuntimeRef {
                    binary: cfg.runtime_path(&record.spec.runtime),
                    root: cfg.runtime_root(),
                },
            ),
            bundle,
            id,
            op: Arc::new(Mutex::new(())),
            persist: Mutex::new(()),
            live: watch::Sender::new(Live {
                record: Arc::new(record),
                exits: 0,
                removed: false,
            }),
            restart: Default::default(),
        }
    }

    /// A copy of the current record.
    pub fn record(&self) -> ContainerRecord {
        ContainerRecord::clone(&self.live.borrow().record)
    }

    /// The current record, shared (no copy).
    pub fn shared_record(&self) -> Arc<ContainerRecord> {
        self.live.borrow().record.clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Live> {
        self.live.subscribe()
    }

    pub fn socket(&self) -> PathBuf {
        self.shim.socket().to_path_buf()
    }

    pub fn exit_path(&self) -> PathBuf {
        self.dir.join("exit.json")
    }

    pub fn rootfs(&self) -> crate::rootfs::Rootfs {
        crate::rootfs::Rootfs::new(&self.dir)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }

    /// Change the record, write it to disk, then publish it: whoever wakes
    /// on the change finds the file already written (a remove may follow).
    async fn commit(&self, f: impl FnOnce(&mut ContainerRecord)) -> Result<()> {
        self.commit_with(record::Durability::Full, f).await
    }

    /// [`Container::commit`] with the given durability.
    async fn commit_with(&self, durability: record::Durability, f: impl FnOnce(&mut ContainerRecord)) -> Result<()> {
        let _order = self.persist.lock().await;
        let mut rec = ContainerRecord::clone(&self.live.borrow().record);
        f(&mut rec);
        let dir = self.dir.clone();
        let rec = Arc::new(rec);
        let to_save = rec.clone();
        let saved = Daemon::blocking("save container record", move || {
            record::save_with(&dir, &to_save, durability).map_err(|e| Error::system("save container record", e))
        })
        .await;
        self.live.send_modify(|l| l.record = rec);
        saved
    }

    /// Publish without persisting (runtime-only fields).
    fn publish(&self, f: impl FnOnce(&mut Live)) {
        self.live.send_modify(f);
    }
}

/// The daemon's state: configuration, containers, names and images.
pub struct Daemon {
    pub cfg: DaemonConfig,
    /// By id, ordered so a prefix lookup is a range, not a scan.
    table: RwLock<BTreeMap<String, Arc<Container>>>,
    names: Names,
    pub images: Arc<ImageStore>,
    pub volumes: crate::volumes::VolumeStore,
    monitors: std::sync::Mutex<HashMap<String, AbortHandle>>,
    shutdown: watch::Receiver<bool>,
    attaches: streams::attach::AttachHub,
    execs: streams::exec::ExecTable,
    log_readers: Arc<streams::logs::LogReaders>,
    /// What happened, for the events stream (`events.jsonl`).
    pub events: events::Journal,
    /// Networks, address and port allocations, attachments.
    pub networks: Arc<crate::network::Networks>,
    /// What a SIGHUP reload may change (`reload`).
    live_cfg: std::sync::RwLock<reload::LiveConfig>,
    /// Set while a container prune runs (dockerd allows one at a time).
    prune_running: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl Daemon {
    /// Open the image store and prepare the directories; containers are
    /// loaded by `restore`.
    pub fn new(cfg: DaemonConfig, shutdown: watch::Receiver<bool>) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context;
        crate::private::prepare(&cfg).context("prepare the data and exec roots")?;
        let images = ImageStore::open(&cfg.image_root())
            .with_context(|| format!("open image store {}", cfg.image_root().display()))?;
        let volumes = crate::volumes::VolumeStore::open(&cfg.data_root.join("volumes"))
            .with_context(|| format!("open volume store {}", cfg.data_root.join("volumes").display()))?;
        let cfg_events_path = cfg.data_root.join("events.jsonl");
        let networks = Arc::new(lifecycle::networking::open_networks(&cfg)?);
        let live_cfg = cfg.live.clone();
        Ok(Arc::new(Daemon {
            volumes,
            cfg,
            table: RwLock::new(BTreeMap::new()),
            names: Names::default(),
            images: Arc::new(images),
            monitors: std::sync::Mutex::new(HashMap::new()),
            shutdown,
            attaches: streams::attach::AttachHub::default(),
            execs: streams::exec::ExecTable::default(),
            log_readers: Arc::default(),
            events: events::Journal::new(cfg_events_path),
            networks,
            live_cfg: std::sync::RwLock::new(live_cfg),
            prune_running: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Run blocking work (file systems, archives, the image store) off the
    /// async runtime: the one place the daemon decides threading. A
    /// panicked or cancelled task is an internal fault named by `context`.
    pub async fn blocking<T: Send + 'static>(
        context: &'static str,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        Self::blocking_task(context, f).await
    }

    /// [`Daemon::blocking`], started now: the work runs whether or not the
    /// returned future is awaited (a body streamed to a client while the
    /// handler returns).
    pub fn blocking_task<T: Send + 'static>(
        context: &'static str,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T>> + Send + 'static {
        let task = tokio::task::spawn_blocking(f);
        async move { task.await.map_err(|e| Error::system(context, e))? }
    }

    /// Resolves when the daemon is shutting down (for long-lived streams).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// Find a container by full id, name (with or without `/`), or unique
    /// id prefix.
    pub fn lookup(&self, key: &str) -> Result<Arc<Container>> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        if key.is_empty() {
            return Err(Error::NoSuchContainer(key.to_string()));
        }
        if let Some(c) = table.get(key) {
            return Ok(c.clone());
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(c) = self.names.get(name).and_then(|id| table.get(&id)) {
            return Ok(c.clone());
        }
        let mut found = table
            .range::<str, _>((Bound::Included(key), Bound::Unbounded))
            .take_while(|(id, _)| id.starts_with(key));
        match (found.next(), found.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::AmbiguousContainer(key.to_string())),
            _ => Err(Error::NoSuchContainer(key.to_string())),
        }
    }

    /// Every container, in no particular order.
    pub fn containers(&self) -> Vec<Arc<Container>> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        table.values().cloned().collect()
    }

    fn insert(&self, c: Arc<Container>) {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        table.insert(c.id.clone(), c);
    }

    fn forget(&self, id: &str) {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        table.remove(id);
    }

    /// Stop the exit monitors (shims keep running); called at shutdown.
    pub fn stop_monitors(&self) {
        let mut m = self.monitors.lock().unwrap_or_else(|p| p.into_inner());
        for (_, h) in m.drain() {
            h.abort();
        }
    }
}
