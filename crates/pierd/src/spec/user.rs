//! `-u user[:group]` resolution against the image's /etc/passwd and
//! /etc/group, with runc's `GetExecUser` rules (which docker uses):
//!
//! - the user part is a uid when it is numeric, a name otherwise; an empty
//!   user part means uid 0;
//! - a matched passwd entry gives uid, primary gid and home;
//! - an explicit group part (name or numeric gid) replaces the primary gid
//!   and means "no supplementary groups";
//! - without a group part, the supplementary groups are the groups of
//!   /etc/group that list the matched user name;
//! - numeric ids need no entry; unknown names are errors.
//!
//! As docker's `getUser` does, `additional_gids` starts with the primary gid,
//! so `id` prints `groups=0(root),10(wheel)` for busybox's root.

use super::SpecError;

/// The largest id the kernel accepts (runc's `maxID`).
const MAX_ID: u64 = i32::MAX as u64;

/// A user resolved to numbers, ready for the OCI spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Primary gid first, then the supplementary groups (docker's order).
    pub additional_gids: Vec<u32>,
    /// Home from the passwd entry, `/` when there is none.
    pub home: String,
}

impl ResolvedUser {
    /// root with no passwd entry: 0:0, groups `[0]`, home `/`.
    pub fn root() -> Self {
        ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![0],
            home: "/".to_string(),
        }
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u64,
    gid: u64,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u64,
    members: Vec<&'a str>,
}

/// Non-empty, non-comment lines split on `:`.
fn records(file: &str) -> impl Iterator<Item = Vec<&str>> {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

/// runc parses ids with Atoi and ignores failures (they read as 0).
fn id_field(fields: &[&str], i: usize) -> u64 {
    fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0)
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    records(passwd).map(|f| PasswdEntry {
        name: f.first().copied().unwrap_or(""),
        uid: id_field(&f, 2),
        gid: id_field(&f, 3),
        home: f.get(5).copied().unwrap_or(""),
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    records(group).map(|f| GroupEntry {
        name: f.first().copied().unwrap_or(""),
        gid: id_field(&f, 2),
        members: f
            .get(3)
            .map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).collect())
            .unwrap_or_default(),
    })
}

fn checked_id(n: u64, text: &str) -> Result<u32, SpecError> {
    if n > MAX_ID {
        return Err(SpecError::IdOutOfRange { id: text.to_string() });
    }
    // n <= i32::MAX, so it fits.
    Ok(n as u32)
}

/// Resolves docker's `User` field (`""`, `name`, `uid`, `name:group`,
/// `uid:gid`, ...) against the contents of the image's /etc/passwd and
/// /etc/group (pass `""` for a file the image lacks).
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<ResolvedUser, SpecError> {
    let mut parts = user.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_arg: Option<u64> = user_arg.parse().ok();
    let gid_arg: Option<u64> = group_arg.parse().ok();

    let mut uid = 0u64;
    let mut gid = 0u64;
    let mut home = "/".to_string();
    let mut matched_name: Option<&str> = None;

    let found = passwd_entries(passwd).find(|e| match (user_arg.is_empty(), uid_arg) {
        (true, _) => e.uid == 0,
        (false, Some(n)) => e.uid == n,
        (false, None) => e.name == user_arg,
    });
    match found {
        Some(e) => {
            uid = e.uid;
            gid = e.gid;
            home = e.home.to_string();
            matched_name = Some(e.name);
        }
        None if user_arg.is_empty() => {}
        None => match uid_arg {
            Some(n) => uid = n,
            None => {
                return Err(SpecError::UnknownUser {
                    user: user_arg.to_string(),
                })
            }
        },
    }
    let uid = checked_id(uid, user_arg)?;

    let mut sgids: Vec<u32> = Vec::new();
    if !group_arg.is_empty() {
        let found = group_entries(group).find(|g| match gid_arg {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(SpecError::UnknownGroup {
                    group: group_arg.to_string(),
                })
            }
        };
    } else if let Some(name) = matched_name {
        for g in group_entries(group).filter(|g| g.members.contains(&name)) {
            sgids.push(checked_id(g.gid, g.name)?);
        }
    }
    let gid = checked_id(gid, group_arg)?;

    let mut additional_gids = vec![gid];
    additional_gids.extend(sgids);
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--group-add` (runc's `GetAdditionalGroups`, which docker uses): each
/// entry a group name or number looked up in the container's /etc/group;
/// a name must be found, a number not found is used as it is. Duplicates
/// are dropped, request order kept.
pub fn resolve_additional_groups(groups: &[String], group: &str) -> Result<Vec<u32>, SpecError> {
    let mut out: Vec<u32> = Vec::new();
    for g in groups {
        let numeric: Option<u64> = if !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()) {
            Some(g.parse().map_err(|_| SpecError::IdOutOfRange { id: g.clone() })?)
        } else {
            None
        };
        if let Some(n) = numeric {
            checked_id(n, g)?;
        }
        let found = group_entries(group).find(|e| e.name == g.as_str() || numeric == Some(e.gid));
        let gid = match (found, numeric) {
            (Some(e), _) => checked_id(e.gid, e.name)?,
            (None, Some(n)) => checked_id(n, g)?,
            (None, None) => return Err(SpecError::UnknownGroup { group: g.clone() }),
        };
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        # a comment\n\
        \n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        bob:x:1001:100::/home/bob:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:root,alice\n\
        users:x:100:\n\
        alice:x:1000:\n\
        audio:x:29:alice, bob\n";

    fn user(uid: u32, gid: u32, groups: &[u32], home: &str) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: groups.to_vec(),
            home: home.to_string(),
        }
    }

    #[test]
    fn empty_user_is_root_with_its_groups() {
        assert_eq!(resolve_user("", PASSWD, GROUP), Ok(user(0, 0, &[0, 10], "/root")));
    }

    #[test]
    fn empty_user_without_passwd_is_bare_root() {
        assert_eq!(resolve_user("", "", ""), Ok(ResolvedUser::root()));
    }

    #[test]
    fn name_gets_primary_and_supplementary_groups() {
        assert_eq!(
            resolve_user("alice", PASSWD, GROUP),
            Ok(user(1000, 1000, &[1000, 10, 29], "/home/alice"))
        );
        assert_eq!(
            resolve_user("bob", PASSWD, GROUP),
            Ok(user(1001, 100, &[100, 29], "/home/bob"))
        );
    }

    #[test]
    fn numeric_uid_matches_entry_or_stands_alone() {
        assert_eq!(
            resolve_user("1000", PASSWD, GROUP),
            Ok(user(1000, 1000, &[1000, 10, 29], "/home/alice"))
        );
        assert_eq!(resolve_user("4242", PASSWD, GROUP), Ok(user(4242, 0, &[0], "/")));
    }

    #[test]
    fn explicit_group_replaces_gid_and_drops_supplementary() {
        assert_eq!(
            resolve_user("alice:users", PASSWD, GROUP),
            Ok(user(1000, 100, &[100], "/home/alice"))
        );
        assert_eq!(
            resolve_user("alice:555", PASSWD, GROUP),
            Ok(user(1000, 555, &[555], "/home/alice"))
        );
        assert_eq!(resolve_user("33:44", "", ""), Ok(user(33, 44, &[44], "/")));
    }

    #[test]
    fn unknown_names_are_docker_errors() {
        let err = resolve_user("mallory", PASSWD, GROUP).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "unable to find user mallory: no matching entries in passwd file"
        );
        let err = resolve_user("alice:nogroup", PASSWD, GROUP).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(resolve_user("mallory", "", "").is_err());
    }

    #[test]
    fn ids_out_of_range_are_refused() {
        assert!(matches!(
            resolve_user("2147483648", "", ""),
            Err(SpecError::IdOutOfRange { .. })
        ));
        assert!(matches!(
            resolve_user("0:99999999999", "", ""),
            Err(SpecError::IdOutOfRange { .. })
        ));
    }

    #[test]
    fn additional_groups_by_name_or_number() {
        let groups =
            |g: &[&str]| resolve_additional_groups(&g.iter().map(|s| s.to_string()).collect::<Vec<_>>(), GROUP);
        assert_eq!(groups(&["audio", "10", "4242", "audio"]), Ok(vec![29, 10, 4242]));
        assert_eq!(
            groups(&["nogroup"]).expect_err("unknown").to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(matches!(groups(&["99999999999"]), Err(SpecError::IdOutOfRange { .. })));
        assert_eq!(resolve_additional_groups(&["7".to_string()], ""), Ok(vec![7]));
    }
}
