//! docker's command-line semantics (cobra over pflag) on top of clap, and
//! its usage errors, word for word.
//!
//! pflag differs from clap's defaults in ways users notice: a flag that
//! takes a value takes the next word whatever it looks like (`--name -x`),
//! a bool flag takes an optional `=value` (`--rm=false`), a repeated flag
//! overrides the earlier one, and flags stop at the first positional for
//! `run`/`create`/`exec` (their `trailing_var_arg`). The errors are
//! `unknown flag: --foo`, `flag needs an argument: --name`,
//! `invalid argument "x" for "-m, --memory" flag: …`, followed by the verb's
//! usage line, and exit 125.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches};

use super::Cli;

/// A command line docker would refuse: what to print on stderr and the
/// exit code. Help output goes to stdout with code 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub text: String,
    pub code: u8,
    pub to_stdout: bool,
}

/// The clap command with pflag's semantics on every verb.
pub fn command() -> Command {
    pflag_semantics(Cli::command())
}

/// A verb's arguments with pflag's semantics, made when clap builds that
/// verb: the verb enum is `#[command(defer)]`, so clap calls
/// [`Args::augment_args`] only for the verb a command line names, and a
/// `pier run` no longer builds every other verb's flags first (that was
/// ~0.7 ms of each invocation's ~1.5 ms of CPU).
#[derive(Debug)]
pub struct Pflag<A>(pub A);

impl<A> std::ops::Deref for Pflag<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A: Args> Args for Pflag<A> {
    fn group_id() -> Option<clap::Id> {
        A::group_id()
    }
    fn augment_args(cmd: Command) -> Command {
        keep_about(cmd, A::augment_args)
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        keep_about(cmd, A::augment_args_for_update)
    }
}

/// `augment` then pflag's semantics, keeping the verb's own description: a
/// flattened struct's doc comment (`ContainerFlags`) would otherwise
/// replace it, since a deferred build runs after the verb's attributes.
fn keep_about(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let mut cmd = augment(cmd);
    if let Some(a) = about {
        cmd = cmd.about(a);
    }
    if let Some(a) = long_about {
        cmd = cmd.long_about(a);
    }
    pflag_semantics(cmd)
}

impl<A: FromArgMatches> FromArgMatches for Pflag<A> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        A::from_arg_matches(m).map(Pflag)
    }
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        A::from_arg_matches_mut(m).map(Pflag)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

fn pflag_arg(arg: Arg) -> Arg {
    if arg.is_positional() {
        return arg;
    }
    match arg.get_action() {
        ArgAction::SetTrue => {
            let default = if arg.get_default_values().is_empty() {
                "false"
            } else {
                "true"
            };
            arg.action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .default_value(default)
                .value_parser(crate::opts::go_bool)
        }
        ArgAction::Set | ArgAction::Append => arg.allow_hyphen_values(true),
        _ => arg,
    }
}

fn pflag_semantics(cmd: Command) -> Command {
    let cmd = cmd.args_override_self(true).mut_args(pflag_arg);
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names
        .iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, pflag_semantics))
}

/// Parse `argv` (program name first) as docker would.
pub fn parse<I, T>(argv: I) -> Result<Cli, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<String>,
{
    let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
    let mut cmd = command();
    let matches = cmd
        .try_get_matches_from_mut(&argv)
        .map_err(|e| render(&e, &cmd, &argv))?;
    Cli::from_arg_matches(&matches).map_err(|e| render(&e, &cmd, &argv))
}

/// The verbs named on the command line (`["image", "ls"]`), canonical
/// names, skipping the global `-H/--host` flag.
fn verb_path(root: &Command, argv: &[String]) -> Vec<String> {
    let mut path = Vec::new();
    let mut cmd = root;
    let mut words = argv.iter().skip(1);
    while let Some(w) = words.next() {
        if w == "-H" || w == "--host" {
            words.next();
            continue;
        }
        if w.starts_with('-') {
            if cmd.get_subcommands().next().is_some() {
                continue;
            }
            break;
        }
        match cmd.find_subcommand(w) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    path
}

fn find<'a>(root: &'a Command, path: &[String]) -> &'a Command {
    path.iter()
        .try_fold(root, |c, name| c.find_subcommand(name))
        .unwrap_or(root)
}

fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// `-m, --memory` or `--cpus`: how pflag names a flag in errors.
fn flag_names(cmd: &Command, rendered: &str) -> String {
    let token = rendered.split([' ', '=', '[']).next().unwrap_or(rendered);
    let arg = cmd.get_arguments().find(|a| {
        a.get_long().is_some_and(|l| token == format!("--{l}"))
            || a.get_short().is_some_and(|s| token == format!("-{s}"))
    });
    match arg {
        Some(a) => match (a.get_short(), a.get_long()) {
            (Some(s), Some(l)) => format!("-{s}, --{l}"),
            (None, Some(l)) => format!("--{l}"),
            (Some(s), None) => format!("-{s}"),
            (None, None) => token.to_string(),
        },
        None => token.to_string(),
    }
}

/// pflag's `unknown shorthand flag: 'Z' in -Zx`: the rest of the word
/// from the unknown letter.
fn unknown_shorthand(argv: &[String], c: char) -> String {
    let rest = argv
        .iter()
        .filter(|w| w.starts_with('-') && !w.starts_with("--"))
        .find_map(|w| w.find(c).map(|i| w[i..].to_string()))
        .unwrap_or_else(|| c.to_string());
    format!("unknown shorthand flag: '{c}' in -{rest}")
}

/// cobra's positional-count phrase from the verb's positionals, and the
/// word of its last line: "requires at least 1 argument" ends with "See",
/// "requires 2 arguments" and "accepts no arguments" with "Run".
fn arity(cmd: &Command) -> (String, &'static str) {
    let positionals: Vec<&Arg> = cmd.get_positionals().collect();
    let min: usize = positionals
        .iter()
        .filter(|a| a.is_required_set())
        .map(|a| a.get_num_args().map_or(1, |r| r.min_values().max(1)))
        .sum();
    let unbounded = positionals
        .iter()
        .any(|a| a.get_num_args().is_some_and(|r| r.max_values() == usize::MAX));
    let plural = if min == 1 { "" } else { "s" };
    match (min, unbounded) {
        (0, false) => ("accepts no arguments".to_string(), "Run"),
        (n, true) => (format!("requires at least {n} argument{plural}"), "See"),
        (n, false) => (format!("requires {n} argument{plural}"), "Run"),
    }
}

fn usage_line(cmd: &Command) -> String {
    let mut c = cmd.clone();
    let rendered = c.render_usage().to_string();
    rendered
        .trim_start_matches("Usage:")
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// docker's text for a clap error.
pub fn render(err: &clap::Error, root: &Command, argv: &[String]) -> UsageError {
    let path = verb_path(root, argv);
    let cmd = find(root, &path);
    let name = std::iter::once("pier".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let flag_error = |msg: String| UsageError {
        text: format!(
            "{msg}\n\nUsage:  {}\n\nRun '{name} --help' for more information\n",
            usage_line(cmd)
        ),
        code: 125,
        to_stdout: false,
    };
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            UsageError {
                text: err.render().to_string(),
                code: 0,
                to_stdout: true,
            }
        }
        ErrorKind::UnknownArgument => {
            let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
            if let Some(long) = arg.strip_prefix("--") {
                let long = long.split('=').next().unwrap_or(long);
                flag_error(format!("unknown flag: --{long}"))
            } else if let Some(short) = arg.strip_prefix('-').and_then(|s| s.chars().next()) {
                flag_error(unknown_shorthand(argv, short))
            } else {
                arguments_error(cmd, &name)
            }
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues
            if context(err, ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) =>
        {
            let last = argv.last().map(String::as_str).unwrap_or("");
            let msg = match last.strip_prefix("--") {
                Some(long) => format!("flag needs an argument: --{long}"),
                None => {
                    let c = last.chars().last().unwrap_or('-');
                    format!("flag needs an argument: '{c}' in -{c}")
                }
            };
            flag_error(msg)
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let value = context(err, ContextKind::InvalidValue).unwrap_or_default();
            let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
            let reason = std::error::Error::source(err).map_or_else(|| "invalid value".to_string(), |s| s.to_string());
            flag_error(format!(
                "invalid argument \"{value}\" for \"{}\" flag: {reason}",
                flag_names(cmd, &arg)
            ))
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues | ErrorKind::TooManyValues => {
            arguments_error(cmd, &name)
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            UsageError {
                text: format!("pier: unknown command: {name} {word}\n\nRun '{name} --help' for more information\n"),
                code: 1,
                to_stdout: false,
            }
        }
        _ => UsageError {
            text: err.render().to_string(),
            code: 125,
            to_stdout: false,
        },
    }
}

/// cobra's positional-count error: `pier: 'pier run' requires at least 1
/// argument`, usage, and exit 1.
fn arguments_error(cmd: &Command, name: &str) -> UsageError {
    let (phrase, see) = arity(cmd);
    UsageError {
        text: format!(
            "pier: '{name}' {phrase}\n\nUsage:  {}\n\n{see} '{name} --help' for more information\n",
            usage_line(cmd)
        ),
        code: 1,
        to_stdout: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verb, deferred or not, ends up with pflag's flags: a verb
    /// whose arguments are not wrapped in `Pflag` would keep clap's bool
    /// flags (`--rm=false` refused) once clap builds it.
    #[test]
    fn every_verb_gets_pflag_semantics() {
        fn check(c: &Command, path: &str, seen: &mut usize) {
            for a in c.get_arguments() {
                *seen += 1;
                assert!(
                    !matches!(a.get_action(), ArgAction::SetTrue),
                    "{path}: --{} keeps clap's bool flag (wrap the verb's Args in Pflag)",
                    a.get_id()
                );
            }
            for s in c.get_subcommands() {
                check(s, &format!("{path} {}", s.get_name()), seen);
            }
        }
        let mut cmd = command();
        cmd.build();
        let mut seen = 0;
        check(&cmd, "pier", &mut seen);
        assert!(seen > 300, "only {seen} flags: the deferred verbs were not built");
    }

    fn err(args: &[&str]) -> UsageError {
        parse(std::iter::once("pier").chain(args.iter().copied())).expect_err("should fail")
    }

    const RUN_USAGE: &str =
        "\n\nUsage:  pier run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'pier run --help' for more information\n";

    #[test]
    fn unknown_flags_are_dockers_error() {
        let e = err(&["run", "--foo", "x", "busybox"]);
        assert_eq!(e.text, format!("unknown flag: --foo{RUN_USAGE}"));
        assert_eq!(e.code, 125);
        let e = err(&["run", "-dZ", "busybox"]);
        assert_eq!(e.text, format!("unknown shorthand flag: 'Z' in -Z{RUN_USAGE}"));
        let e = err(&["-H", "unix:///x", "ps", "--foo"]);
        assert_eq!(
            e.text,
            "unknown flag: --foo\n\nUsage:  pier ps [OPTIONS]\n\nRun 'pier ps --help' for more information\n"
        );
        let e = err(&["image", "ls", "--foo=1"]);
        assert!(
            e.text
                .starts_with("unknown flag: --foo\n\nUsage:  pier image ls [OPTIONS]"),
            "{}",
            e.text
        );
        for verb in [
            "create", "exec", "logs", "start", "stop", "rm", "inspect", "images", "pull",
        ] {
            let e = err(&[verb, "--foo", "x", "y"]);
            assert!(
                e.text.starts_with("unknown flag: --foo\n\nUsage:  pier "),
                "{verb}: {}",
                e.text
            );
            assert!(e
                .text
                .ends_with(&format!("Run 'pier {verb} --help' for more information\n")));
            assert_eq!(e.code, 125);
        }
    }

    #[test]
    fn flags_after_the_image_are_the_command() {
        let Ok(Cli {
            command: Some(super::super::Command::Run(r)),
            ..
        }) = parse(["pier", "run", "-m", "32m", "busybox", "ls", "--memory", "x", "-Z"])
        else {
            panic!("run")
        };
        assert_eq!(r.flags.memory, Some(32 << 20));
        assert_eq!(r.flags.command(), ["ls", "--memory", "x", "-Z"]);
        // The bug this replaces: --memory taken for the image name.
        assert_eq!(
            err(&["run", "--memory"]).text,
            format!("flag needs an argument: --memory{RUN_USAGE}")
        );
    }

    #[test]
    fn missing_and_invalid_values() {
        assert_eq!(
            err(&["run", "--name"]).text,
            format!("flag needs an argument: --name{RUN_USAGE}")
        );
        assert_eq!(
            err(&["run", "-m"]).text,
            format!("flag needs an argument: 'm' in -m{RUN_USAGE}")
        );
        assert_eq!(
            err(&["run", "-m", "x", "busybox"]).text,
            format!("invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'{RUN_USAGE}")
        );
        assert_eq!(
            err(&["run", "--cpus", "x", "busybox"]).text,
            format!("invalid argument \"x\" for \"--cpus\" flag: failed to parse x as a rational number{RUN_USAGE}")
        );
        assert_eq!(
            err(&["run", "--sig-proxy=x", "busybox"]).text,
            format!(
                "invalid argument \"x\" for \"--sig-proxy\" flag: strconv.ParseBool: parsing \"x\": invalid syntax{RUN_USAGE}"
            )
        );
        let e = err(&["run"]);
        assert_eq!(
            e.text,
            "pier: 'pier run' requires at least 1 argument\n\nUsage:  pier run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'pier run --help' for more information\n"
        );
        assert_eq!(e.code, 1);
        assert_eq!(
            err(&["rename", "a"]).text,
            "pier: 'pier rename' requires 2 arguments\n\nUsage:  pier rename CONTAINER NEW_NAME\n\nRun 'pier rename --help' for more information\n"
        );
        assert!(err(&["ps", "x"])
            .text
            .starts_with("pier: 'pier ps' accepts no arguments\n"));
        assert_eq!(
            err(&["frobnicate"]).text,
            "pier: unknown command: pier frobnicate\n\nRun 'pier --help' for more information\n"
        );
    }

    #[test]
    fn pflag_value_rules() {
        let Ok(Cli {
            command: Some(super::super::Command::Run(r)),
            ..
        }) = parse([
            "pier",
            "run",
            "-dit",
            "--rm=false",
            "--name",
            "a",
            "--name",
            "-b",
            "--oom-score-adj",
            "-500",
            "--init",
            "busybox",
        ])
        else {
            panic!("run")
        };
        assert!(r.detach && r.flags.interactive && r.flags.tty && !r.flags.rm);
        assert_eq!(r.flags.name.as_deref(), Some("-b"));
        assert_eq!(r.flags.oom_score_adj, Some(-500));
        assert_eq!(r.flags.init, Some(true));
        assert!(r.sig_proxy);
    }
}
