//! docker's container options (`run`/`create`), flag for flag as docker CLI
//! 28 declares them (`cli/command/container/opts.go` and `create.go`).
//! Values that docker checks while parsing flags are parsed here through
//! `crate::opts`, so a bad one is docker's `invalid argument … flag` error;
//! checks docker makes later live in `commands::create_request`.

use clap::{ArgAction, Args};
use pier_api::container::{DeviceRequest, ThrottleDevice, Ulimit, WeightDevice};

use crate::opts::{self, NetworkAttachment};

/// Flags shared by `run` and `create`.
#[derive(Debug, Clone, Default, Args)]
pub struct ContainerFlags {
    // create.go
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Pull image before creating ("always", "|missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Skip image verification
    #[arg(long = "disable-content-trust", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true", value_parser = opts::go_bool, value_name = "bool")]
    pub disable_content_trust: bool,

    // General purpose
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long, value_name = "list", value_parser = opts::attach)]
    pub attach: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list", value_parser = opts::device_cgroup_rule)]
    pub device_cgroup_rule: Vec<String>,
    /// Add a host device to the container
    #[arg(long, value_name = "list")]
    pub device: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long, value_name = "gpu-request", value_parser = opts::gpus)]
    pub gpus: Vec<DeviceRequest>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list", value_parser = opts::env)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list", value_parser = opts::label)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int", value_parser = opts::go_i64)]
    pub stop_timeout: Option<i64>,
    /// Sysctl options
    #[arg(long, value_name = "map", value_parser = opts::sysctl)]
    pub sysctl: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Ulimit options
    #[arg(long, value_name = "ulimit", value_parser = opts::ulimit)]
    pub ulimit: Vec<Ulimit>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,

    // Security
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// User namespace to use
    #[arg(long)]
    pub userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub cgroupns: Option<String>,

    // Network and port publishing
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = opts::extra_host)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "list", value_parser = opts::ip_address)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list", value_parser = opts::dns_search)]
    pub dns_search: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long, value_name = "list", value_parser = opts::link)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip", value_name = "list")]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long, value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Connect a container to a network
    #[arg(long, alias = "net", value_name = "network", value_parser = opts::network)]
    pub network: Vec<NetworkAttachment>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,

    // Logging and storage
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt", value_name = "list")]
    pub storage_opt: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long, value_name = "list")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long, value_name = "mount")]
    pub mount: Vec<String>,

    // Health-checking
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration", value_parser = opts::go_duration)]
    pub health_interval: Option<i64>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int", value_parser = opts::go_i64)]
    pub health_retries: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration", value_parser = opts::go_duration)]
    pub health_timeout: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration", value_parser = opts::go_duration)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration", value_parser = opts::go_duration)]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,

    // Resource management
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16", value_parser = opts::go_u16)]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device", value_name = "list", value_parser = opts::weight_device)]
    pub blkio_weight_device: Vec<WeightDevice>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", value_parser = opts::go_i64)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = opts::nano_cpus)]
    pub cpus: Option<i64>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps", value_name = "list", value_parser = opts::throttle_bps_device)]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops", value_name = "list", value_parser = opts::throttle_iops_device)]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps", value_name = "list", value_parser = opts::throttle_bps_device)]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops", value_name = "list", value_parser = opts::throttle_iops_device)]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// Kernel memory limit
    #[arg(long = "kernel-memory", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub kernel_memory: Option<i64>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = opts::mem_swap_bytes)]
    pub memory_swap: Option<i64>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_name = "int", default_value = "-1", value_parser = opts::go_i64)]
    pub memory_swappiness: i64,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "int", value_parser = opts::go_i64)]
    pub oom_score_adj: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", value_parser = opts::go_i64)]
    pub pids_limit: Option<i64>,

    // Low-level execution (cgroups, namespaces, ...)
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// Container isolation technology
    #[arg(long)]
    pub isolation: Option<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub shm_size: Option<i64>,
    /// UTS namespace to use
    #[arg(long)]
    pub uts: Option<String>,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_parser = opts::go_bool, value_name = "bool")]
    pub init: Option<bool>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long, value_name = "map")]
    pub annotation: Vec<String>,

    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", required = true, num_args = 1.., trailing_var_arg = true)]
    pub image_and_command: Vec<String>,
}

impl ContainerFlags {
    pub fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    pub fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or(&[])
    }
}
