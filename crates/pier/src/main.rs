//! `pier`: the command line client. Speaks only the Engine API (through
//! pier-client), with docker's syntax, output and exit codes.

mod cli;
mod commands;
mod detach_keys;
mod opts;
mod render;
mod tty;

use std::process::ExitCode;

/// What the user sees for an error: a client error alone (docker's wording),
/// anything else with its context chain.
pub fn user_message(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<pier_client::Error>() {
            return e.to_string();
        }
    }
    format!("{err:#}")
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = match cli::usage::parse(argv) {
        Ok(c) => c,
        Err(e) => {
            if e.to_stdout {
                print!("{}", e.text);
            } else {
                eprint!("{}", e.text);
            }
            return ExitCode::from(e.code);
        }
    };
    if cli.version {
        println!("Pier version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let _ = cli::usage::command().print_help();
        return ExitCode::SUCCESS;
    };
    // PIER_API_VERSION pins the API version (docker's DOCKER_API_VERSION).
    let pinned = std::env::var("PIER_API_VERSION").ok().filter(|v| !v.is_empty());
    let client = match pinned {
        Some(v) => match pier_api::version::ApiVersion::parse(v.trim_start_matches('v')) {
            Ok(v) => pier_client::Client::with_version(&cli.host, v),
            Err(e) => {
                eprintln!("PIER_API_VERSION: {e}");
                return ExitCode::from(125);
            }
        },
        None => pier_client::Client::new(&cli.host),
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(125);
        }
    };
    let code = match commands::dispatch(&client, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", user_message(&e));
            1
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
