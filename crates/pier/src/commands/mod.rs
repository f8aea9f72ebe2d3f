//! One module per verb (small verbs share `lifecycle`). Each returns the
//! process exit code, or an error that `main` prints as docker would.

pub mod attach;
pub mod commit;
pub mod container;
pub mod cp;
pub mod create_request;
pub mod diff;
pub mod events;
pub mod exec;
pub mod export;
pub mod image_transfer;
pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod live;
pub mod logs;
pub mod mount_flags;
pub mod network;
pub mod port;
pub mod ps;
pub mod registry_auth;
pub mod run;
pub mod stats;
pub mod system;
pub mod system_df;
pub mod template;
pub mod volume;

use pier_client::{Client, Filters};

use crate::cli::Command;

/// Run one verb.
pub fn dispatch(client: &Client, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Run(a) => run::run(client, a.0),
        Command::Create(a) => run::create(client, a.0),
        Command::Start(a) => lifecycle::start(client, &a),
        Command::Attach(a) => attach::attach(client, &a),
        Command::Exec(a) => exec::exec(client, &a),
        Command::Ps(a) => ps::ps(client, &a),
        Command::Logs(a) => logs::logs(client, &a),
        Command::Stop(a) => lifecycle::stop(client, &a),
        Command::Kill(a) => lifecycle::kill(client, &a),
        Command::Rm(a) => lifecycle::rm(client, &a),
        Command::Wait(a) => lifecycle::wait(client, &a),
        Command::Inspect(a) => inspect::inspect(client, &a),
        Command::Restart(a) => lifecycle::restart(client, &a),
        Command::Rename(a) => lifecycle::rename(client, &a),
        Command::Pause(a) => live::pause(client, &a),
        Command::Unpause(a) => live::unpause(client, &a),
        Command::Top(a) => live::top(client, &a),
        Command::Update(a) => live::update(client, &a),
        Command::Images(a) => images::images(client, &a),
        Command::Import(a) => images::import(client, &a),
        Command::Rmi(a) => images::rmi(client, &a),
        Command::Pull(a) => image_transfer::pull(client, &a),
        Command::Load(a) => image_transfer::load(client, &a),
        Command::Save(a) => image_transfer::save(client, &a),
        Command::Tag(a) => image_transfer::tag(client, &a),
        Command::Image(c) => image_transfer::image(client, c),
        Command::Volume(c) => volume::volume(client, c),
        Command::Network(c) => network::network(client, c),
        Command::Port(a) => port::port(client, &a),
        Command::Container(c) => container::container(client, c),
        Command::Cp(a) => cp::cp(client, &a),
        Command::Export(a) => export::export(client, &a),
        Command::Diff(a) => diff::diff(client, &a),
        Command::Commit(a) => commit::commit(client, &a),
        Command::Version => system::version(client),
        Command::Info => system::info(client),
        Command::Stats(a) => stats::stats(client, &a),
        Command::Events(a) => events::events(client, &a),
        Command::System(c) => system_df::system(client, c),
    }
}

/// `-f key=value` flags into the filters map.
pub fn parse_filters(raw: &[String]) -> anyhow::Result<Filters> {
    let mut f = Filters::new();
    for r in raw {
        f.add_flag(r)?;
    }
    Ok(f)
}

/// Apply `op` to each id; print the id on success (as docker does for
/// start/stop/kill/rm), the error on stderr otherwise. Exit code 1 if any
/// failed.
pub fn each_id(ids: &[String], print_id: bool, op: impl Fn(&str) -> Result<(), pier_client::Error>) -> i32 {
    let mut failed = false;
    for id in ids {
        match op(id) {
            Ok(()) => {
                if print_id {
                    println!("{id}");
                }
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    i32::from(failed)
}

/// `KEY=VALUE` options (`--opt`, `--label`, `--aux-address`) as a map; a
/// bare `KEY` maps to the empty string.
pub(crate) fn key_values(raw: &[String]) -> std::collections::BTreeMap<String, String> {
    raw.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = parse_filters(&["status=exited".into(), "Status=created".into(), "label=a=b".into()]).expect("parse");
        assert_eq!(f.get("status").collect::<Vec<_>>(), ["created", "exited"]);
        assert_eq!(f.get("label").collect::<Vec<_>>(), ["a=b"]);
        assert!(parse_filters(&["oops".into()]).is_err());
    }
}
