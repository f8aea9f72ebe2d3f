//! The command line as docker spells it: raw flags only. Turning flags into
//! API requests happens in the verb modules.

mod container;
pub mod usage;

use clap::{Args, Parser, Subcommand};
use pier_client::DEFAULT_HOST;

pub use container::ContainerFlags;
pub use usage::Pflag;

#[derive(Debug, Parser)]
#[command(
    name = "pier",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true,
    subcommand_required = false,
    override_usage = "pier [OPTIONS] COMMAND [ARG...]"
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

/// The verbs. `defer`: a verb's flags are built only when the command line
/// uses that verb (see [`Pflag`]).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create and run a new container from an image
    #[command(override_usage = "pier run [OPTIONS] IMAGE [COMMAND] [ARG...]")]
    Run(Pflag<RunArgs>),
    /// Create a new container
    #[command(override_usage = "pier create [OPTIONS] IMAGE [COMMAND] [ARG...]")]
    Create(Pflag<CreateArgs>),
    /// Start one or more stopped containers
    #[command(override_usage = "pier start [OPTIONS] CONTAINER [CONTAINER...]")]
    Start(Pflag<StartArgs>),
    /// Attach local standard input, output, and error streams to a running container
    #[command(override_usage = "pier attach [OPTIONS] CONTAINER")]
    Attach(Pflag<AttachArgs>),
    /// Execute a command in a running container
    #[command(override_usage = "pier exec [OPTIONS] CONTAINER COMMAND [ARG...]")]
    Exec(Pflag<ExecArgs>),
    /// List containers
    #[command(override_usage = "pier ps [OPTIONS]")]
    Ps(Pflag<PsArgs>),
    /// Fetch the logs of a container
    #[command(override_usage = "pier logs [OPTIONS] CONTAINER")]
    Logs(Pflag<LogsArgs>),
    /// Stop one or more running containers
    #[command(override_usage = "pier stop [OPTIONS] CONTAINER [CONTAINER...]")]
    Stop(Pflag<StopArgs>),
    /// Kill one or more running containers
    #[command(override_usage = "pier kill [OPTIONS] CONTAINER [CONTAINER...]")]
    Kill(Pflag<KillArgs>),
    /// Remove one or more containers
    #[command(override_usage = "pier rm [OPTIONS] CONTAINER [CONTAINER...]")]
    Rm(Pflag<RmArgs>),
    /// Block until one or more containers stop, then print their exit codes
    #[command(override_usage = "pier wait CONTAINER [CONTAINER...]")]
    Wait(Pflag<IdsArgs>),
    /// Return low-level information on Pier objects
    #[command(override_usage = "pier inspect [OPTIONS] NAME|ID [NAME|ID...]")]
    Inspect(Pflag<InspectArgs>),
    /// Restart one or more containers
    #[command(override_usage = "pier restart [OPTIONS] CONTAINER [CONTAINER...]")]
    Restart(Pflag<StopArgs>),
    /// Rename a container
    #[command(override_usage = "pier rename CONTAINER NEW_NAME")]
    Rename(Pflag<RenameArgs>),
    /// Pause all processes within one or more containers
    #[command(override_usage = "pier pause CONTAINER [CONTAINER...]")]
    Pause(Pflag<IdsArgs>),
    /// Unpause all processes within one or more containers
    #[command(override_usage = "pier unpause CONTAINER [CONTAINER...]")]
    Unpause(Pflag<IdsArgs>),
    /// Display the running processes of a container
    #[command(override_usage = "pier top CONTAINER [ps OPTIONS]")]
    Top(Pflag<crate::commands::live::TopArgs>),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "pier port CONTAINER [PRIVATE_PORT[/PROTO]]")]
    Port(Pflag<crate::commands::port::PortArgs>),
    /// Update configuration of one or more containers
    #[command(override_usage = "pier update [OPTIONS] CONTAINER [CONTAINER...]")]
    Update(Pflag<crate::commands::live::UpdateArgs>),
    /// List images
    #[command(override_usage = "pier images [OPTIONS] [REPOSITORY[:TAG]]")]
    Images(Pflag<ImagesArgs>),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "pier import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
    Import(Pflag<ImportArgs>),
    /// Remove one or more images
    #[command(override_usage = "pier rmi [OPTIONS] IMAGE [IMAGE...]")]
    Rmi(Pflag<RmiArgs>),
    /// Download an image from a registry
    #[command(override_usage = "pier pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(Pflag<PullArgs>),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "pier load [OPTIONS]")]
    Load(Pflag<LoadArgs>),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "pier save [OPTIONS] IMAGE [IMAGE...]")]
    Save(Pflag<SaveArgs>),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "pier tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")]
    Tag(Pflag<TagArgs>),
    /// Manage images
    #[command(subcommand)]
    #[command(override_usage = "pier image")]
    Image(ImageCommand),
    /// Show the Pier version information
    #[command(override_usage = "pier version [OPTIONS]")]
    Version,
    /// Manage containers
    #[command(subcommand)]
    #[command(override_usage = "pier container COMMAND")]
    Container(crate::commands::container::ContainerCommand),
    /// Manage volumes
    #[command(subcommand)]
    #[command(override_usage = "pier volume COMMAND")]
    Volume(crate::commands::volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    #[command(override_usage = "pier network COMMAND")]
    Network(crate::commands::network::NetworkCommand),
    /// Copy files/folders between a container and the local filesystem
    #[command(override_usage = "pier cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-")]
    Cp(Pflag<crate::commands::cp::CpArgs>),
    /// Export a container's filesystem as a tar archive
    #[command(override_usage = "pier export [OPTIONS] CONTAINER")]
    Export(Pflag<crate::commands::export::ExportArgs>),
    /// Inspect changes to files or directories on a container's filesystem
    #[command(override_usage = "pier diff CONTAINER")]
    Diff(Pflag<crate::commands::diff::DiffArgs>),
    /// Create a new image from a container's changes
    #[command(override_usage = "pier commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]")]
    Commit(Pflag<crate::commands::commit::CommitArgs>),
    /// Display system-wide information
    #[command(override_usage = "pier info [OPTIONS]")]
    Info,
    /// Display a live stream of container(s) resource usage statistics
    #[command(override_usage = "pier stats [OPTIONS] [CONTAINER...]")]
    Stats(Pflag<crate::commands::stats::StatsArgs>),
    /// Get real time events from the server
    #[command(override_usage = "pier events [OPTIONS]")]
    Events(Pflag<crate::commands::events::EventsArgs>),
    /// Manage Pier
    #[command(subcommand)]
    #[command(override_usage = "pier system COMMAND")]
    System(crate::commands::system_df::SystemCommand),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true", value_parser = crate::opts::go_bool, value_name = "bool")]
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
    #[arg(value_name = "CONTAINER COMMAND [ARG...]", required = true, num_args = 2.., trailing_var_arg = true)]
    pub container_and_command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true", value_parser = crate::opts::go_bool, value_name = "bool")]
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
    #[arg(short = 'n', long = "last", default_value = "-1", value_name = "int", value_parser = crate::opts::go_i64)]
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
    #[arg(short = 't', long = "timeout", alias = "time", value_name = "int", value_parser = crate::opts::go_i64)]
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
    /// Remove the specified link
    #[arg(short = 'l', long = "link")]
    pub link: bool,
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
    #[command(override_usage = "pier image ls [OPTIONS] [REPOSITORY[:TAG]]")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    #[command(override_usage = "pier image inspect [OPTIONS] IMAGE [IMAGE...]")]
    Inspect(InspectArgs),
    /// Remove unused images
    #[command(override_usage = "pier image prune [OPTIONS]")]
    Prune(ImagePruneArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    #[command(override_usage = "pier image rm [OPTIONS] IMAGE [IMAGE...]")]
    Rm(RmiArgs),
    /// Download an image from a registry
    #[command(override_usage = "pier image pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(PullArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "pier image load [OPTIONS]")]
    Load(LoadArgs),
    /// Save one or more images to a tar archive
    #[command(override_usage = "pier image save [OPTIONS] IMAGE [IMAGE...]")]
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "pier image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")]
    Tag(TagArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "pier image import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
    Import(ImportArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        usage::parse(std::iter::once("pier").chain(args.iter().copied())).expect("parse")
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
        assert!(usage::parse(["pier", "run", "-d"]).is_err());
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
