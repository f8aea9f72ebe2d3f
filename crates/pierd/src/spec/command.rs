//! The container's command from the image's Entrypoint/Cmd and the
//! request's, by docker's `merge` + `mergeAndVerifyConfig` rules.

use super::SpecError;

/// Entrypoint and Cmd after merging, as docker stores them in the
/// container's Config (and shows them in inspect).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

impl Command {
    /// The process argv: entrypoint followed by cmd. Never empty.
    pub fn argv(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

/// Docker's merge of Entrypoint and Cmd:
///
/// - a request with a non-empty Entrypoint keeps only its own Cmd (an
///   explicit `--entrypoint` resets the image's Cmd);
/// - otherwise an empty request Cmd takes the image's Cmd, and an absent
///   (`None`, JSON null) request Entrypoint takes the image's;
/// - an Entrypoint of exactly `[""]` (`--entrypoint ""`) means none;
/// - nothing left to run is "no command specified".
pub fn merge_command(
    image_entrypoint: &[String],
    image_cmd: &[String],
    req_entrypoint: Option<&[String]>,
    req_cmd: &[String],
) -> Result<Command, SpecError> {
    let mut entrypoint: Vec<String> = req_entrypoint.map(<[String]>::to_vec).unwrap_or_default();
    let mut cmd = req_cmd.to_vec();
    if entrypoint.is_empty() {
        if cmd.is_empty() {
            cmd = image_cmd.to_vec();
        }
        if req_entrypoint.is_none() {
            entrypoint = image_entrypoint.to_vec();
        }
    }
    if entrypoint.len() == 1 && entrypoint[0].is_empty() {
        entrypoint.clear();
    }
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(Command { entrypoint, cmd })
}

/// The argv docker would run: [`merge_command`] flattened.
pub fn resolve_command(
    image_entrypoint: &[String],
    image_cmd: &[String],
    req_entrypoint: Option<&[String]>,
    req_cmd: &[String],
) -> Result<Vec<String>, SpecError> {
    merge_command(image_entrypoint, image_cmd, req_entrypoint, req_cmd).map(|c| c.argv())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn image_cmd_when_request_has_none() {
        assert_eq!(resolve_command(&[], &v(&["sh"]), None, &[]), Ok(v(&["sh"])));
    }

    #[test]
    fn request_cmd_replaces_image_cmd_keeps_image_entrypoint() {
        assert_eq!(
            resolve_command(&v(&["/init", "-v"]), &v(&["serve"]), None, &v(&["echo", "hi"])),
            Ok(v(&["/init", "-v", "echo", "hi"]))
        );
        assert_eq!(
            resolve_command(&v(&["/init"]), &v(&["serve"]), None, &[]),
            Ok(v(&["/init", "serve"]))
        );
    }

    #[test]
    fn request_entrypoint_resets_image_cmd() {
        assert_eq!(
            resolve_command(&v(&["/init"]), &v(&["serve"]), Some(&v(&["cat"])), &[]),
            Ok(v(&["cat"]))
        );
        assert_eq!(
            resolve_command(&[], &v(&["serve"]), Some(&v(&["ls"])), &v(&["-l"])),
            Ok(v(&["ls", "-l"]))
        );
    }

    #[test]
    fn empty_string_entrypoint_clears_image_entrypoint() {
        let merged = merge_command(&v(&["/init"]), &v(&["serve"]), Some(&v(&[""])), &v(&["id"]));
        assert_eq!(
            merged,
            Ok(Command {
                entrypoint: vec![],
                cmd: v(&["id"])
            })
        );
        assert_eq!(
            resolve_command(&v(&["/init"]), &v(&["serve"]), Some(&v(&[""])), &[]),
            Err(SpecError::NoCommand)
        );
    }

    #[test]
    fn empty_request_entrypoint_array_does_not_take_the_image_one() {
        assert_eq!(
            resolve_command(&v(&["/init"]), &v(&["serve"]), Some(&[]), &[]),
            Ok(v(&["serve"]))
        );
    }

    #[test]
    fn nothing_to_run_is_an_error() {
        let err = resolve_command(&[], &[], None, &[]).expect_err("must fail");
        assert_eq!(err.to_string(), "no command specified");
    }
}
