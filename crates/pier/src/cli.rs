//! The command line as docker spells it: raw flags only. Turning flags into
//! API requests happens in the verb modules.

use clap::{ArgAction, Args, Parser, Subcommand};
use pier_client::DEFAULT_HOST;

#[derive(Debug, Parser)]
#[command(
    name = "pier",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true,
    subcommand_required = false
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", env = "PIER_HOST", default_value = DEFAULT_HOST, global = true)]
    pub host: String,

    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(IdsArgs),
    /// Return low-level information on Pier objects
    Inspect(InspectArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// List images
    Images(ImagesArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Show the Pier version information
    Version,
    /// Manage volumes
    #[command(subcommand)]
    Volume(crate::commands::volume::VolumeCommand),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::commands::cp::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(crate::commands::export::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::commands::diff::DiffArgs),
    /// Create a new image from a container's changes
    Commit(crate::commands::commit::CommitArgs),
    /// Display system-wide information
    Info,
}

/// Flags shared by `run` and `create` (docker's container options).
#[derive(Debug, Clone, Default, Args)]
pub struct ContainerFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Container host name
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// OCI runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs", value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
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

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set, value_name = "bool")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub flags: ContainerFlags,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments
    #[arg(value_name = "CONTAINER COMMAND [ARG...]", required = true, num_args = 2.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub container_and_command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set, value_name = "bool")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Format output using a Go template subset ({{.Names}}, table {{.ID}}\t{{.Status}})
    #[arg(long = "format")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long = "tail", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", alias = "time", allow_negative_numbers = true)]
    pub timeout: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct IdsArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template subset ({{.Field.Sub}}, {{json .X}})
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    /// Return JSON for specified type (container, image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Show digests
    #[arg(long = "digests")]
    pub digests: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a Go template subset ({{.Repository}}, table {{.ID}}\t{{.Size}})
    #[arg(long = "format")]
    pub format: Option<String>,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    #[arg(value_name = "file|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input")]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

/// `pier image <verb>`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("pier").chain(args.iter().copied())).expect("parse")
    }

    #[test]
    fn run_flags_stop_at_image() {
        let cli = parse(&[
            "run", "-d", "--name", "web", "-e", "A=1", "-e", "B", "-l", "x=y", "--rm", "-h", "box", "busybox", "ls",
            "-l", "--name", "x",
        ]);
        let Some(Command::Run(r)) = cli.command else {
            panic!("not run")
        };
        assert!(r.detach);
        assert_eq!(r.flags.name.as_deref(), Some("web"));
        assert_eq!(r.flags.env, vec!["A=1", "B"]);
        assert_eq!(r.flags.label, vec!["x=y"]);
        assert_eq!(r.flags.hostname.as_deref(), Some("box"));
        assert!(r.flags.rm);
        assert_eq!(r.flags.image(), "busybox");
        assert_eq!(r.flags.command(), ["ls", "-l", "--name", "x"]);
    }

    #[test]
    fn run_combined_short_flags() {
        let cli = parse(&["run", "-dit", "busybox"]);
        let Some(Command::Run(r)) = cli.command else {
            panic!("not run")
        };
        assert!(r.detach && r.flags.interactive && r.flags.tty);
        assert!(r.flags.command().is_empty());
    }

    #[test]
    fn run_needs_an_image() {
        assert!(Cli::try_parse_from(["pier", "run", "-d"]).is_err());
    }

    #[test]
    fn host_flag_and_lists() {
        let cli = parse(&["-H", "unix:///tmp/p.sock", "stop", "-t", "3", "a", "b"]);
        assert_eq!(cli.host, "unix:///tmp/p.sock");
        let Some(Command::Stop(s)) = cli.command else {
            panic!("not stop")
        };
        assert_eq!(s.timeout, Some(3));
        assert_eq!(s.containers, vec!["a", "b"]);
    }

    #[test]
    fn ps_and_logs_flags() {
        let cli = parse(&["ps", "-aq", "--no-trunc", "-f", "status=exited", "-f", "name=x"]);
        let Some(Command::Ps(p)) = cli.command else {
            panic!("not ps")
        };
        assert!(p.all && p.quiet && p.no_trunc);
        assert_eq!(p.filter, vec!["status=exited", "name=x"]);
        let cli = parse(&["logs", "-f", "--tail", "5", "-t", "c"]);
        let Some(Command::Logs(l)) = cli.command else {
            panic!("not logs")
        };
        assert!(l.follow && l.timestamps);
        assert_eq!(l.tail, "5");
    }

    #[test]
    fn import_stdin() {
        let cli = parse(&["import", "-", "busybox:latest"]);
        let Some(Command::Import(i)) = cli.command else {
            panic!("not import")
        };
        assert_eq!(i.source, "-");
        assert_eq!(i.reference.as_deref(), Some("busybox:latest"));
    }
}
