//! `-v`, `--mount`, `--tmpfs`, `--volumes-from` as docker's CLI turns them
//! into the create request. Pure.

use std::collections::BTreeMap;

use pier_api::volume::{BindOptions, DriverConfig, Mount, TmpfsOptions, VolumeOptions};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountFlagError {
    #[error("invalid argument \"{0}\" for \"--mount\" flag: {1}")]
    Mount(String, String),
    #[error("invalid argument \"{0}\" for \"-v, --volume\" flag: {1}")]
    Volume(String, String),
}

/// What the storage flags add to the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageFlags {
    pub binds: Vec<String>,
    /// `Config.Volumes` (anonymous `-v /path`).
    pub volumes: Vec<String>,
    pub mounts: Vec<Mount>,
    pub tmpfs: BTreeMap<String, String>,
}

fn parse_bool(v: Option<&str>) -> Option<bool> {
    match v {
        None | Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        _ => None,
    }
}

/// One `--mount` value.
pub fn parse_mount(raw: &str) -> Result<Mount, MountFlagError> {
    let err = |m: &str| MountFlagError::Mount(raw.to_string(), m.to_string());
    let mut m = Mount {
        kind: "volume".to_string(),
        ..Default::default()
    };
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for field in raw.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_string())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        if k == "type" {
            m.kind = v
                .clone()
                .ok_or_else(|| err("invalid field 'type' must be a key=value pair"))?;
        }
        fields.push((k, v));
    }
    for (k, v) in fields {
        let need = || {
            v.clone()
                .ok_or_else(|| err(&format!("invalid field '{k}' must be a key=value pair")))
        };
        match k.as_str() {
            "type" => {}
            "source" | "src" => m.source = need()?,
            "target" | "dst" | "destination" => m.target = need()?,
            "readonly" | "ro" => {
                m.read_only = parse_bool(v.as_deref()).ok_or_else(|| err(&format!("invalid value for {k}")))?;
            }
            "consistency" => m.consistency = need()?,
            "bind-propagation" => m.bind_options.get_or_insert_with(BindOptions::default).propagation = need()?,
            "bind-nonrecursive" => {
                m.bind_options.get_or_insert_with(BindOptions::default).non_recursive =
                    parse_bool(v.as_deref()).ok_or_else(|| err(&format!("invalid value for {k}")))?;
            }
            "volume-nocopy" => {
                m.volume_options.get_or_insert_with(VolumeOptions::default).no_copy =
                    parse_bool(v.as_deref()).ok_or_else(|| err(&format!("invalid value for {k}")))?;
            }
            "volume-label" => {
                let l = need()?;
                let (lk, lv) = l.split_once('=').unwrap_or((&l, ""));
                m.volume_options
                    .get_or_insert_with(VolumeOptions::default)
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(lk.to_string(), lv.to_string());
            }
            "volume-driver" => {
                m.volume_options
                    .get_or_insert_with(VolumeOptions::default)
                    .driver_config
                    .get_or_insert_with(DriverConfig::default)
                    .name = need()?;
            }
            "volume-opt" => {
                let o = need()?;
                let (ok, ov) = o.split_once('=').unwrap_or((&o, ""));
                m.volume_options
                    .get_or_insert_with(VolumeOptions::default)
                    .driver_config
                    .get_or_insert_with(DriverConfig::default)
                    .options
                    .get_or_insert_with(BTreeMap::new)
                    .insert(ok.to_string(), ov.to_string());
            }
            "volume-subpath" => m.volume_options.get_or_insert_with(VolumeOptions::default).subpath = need()?,
            "tmpfs-size" => {
                let v = need()?;
                m.tmpfs_options.get_or_insert_with(TmpfsOptions::default).size_bytes =
                    crate::opts::ram_in_bytes(&v).map_err(|_| err(&format!("invalid value for {k}: {v}")))?;
            }
            "tmpfs-mode" => {
                let v = need()?;
                m.tmpfs_options.get_or_insert_with(TmpfsOptions::default).mode =
                    u32::from_str_radix(&v, 8).map_err(|_| err(&format!("invalid value for {k}: {v}")))?;
            }
            other => return Err(err(&format!("unexpected key '{other}' in '{raw}'"))),
        }
    }
    if m.target.is_empty() {
        return Err(err("target is required"));
    }
    if m.kind == "bind" && m.source.is_empty() {
        return Err(err("source is required when specifying bind mounts"));
    }
    Ok(m)
}

/// Collect `-v`, `--mount`, `--tmpfs` as docker's CLI does: `-v /path`
/// alone is `Config.Volumes`, everything else `-v` is `Binds`.
pub fn build(volume: &[String], mount: &[String], tmpfs: &[String]) -> Result<StorageFlags, MountFlagError> {
    let mut out = StorageFlags::default();
    for v in volume {
        if v.is_empty() {
            return Err(MountFlagError::Volume(v.clone(), "bad format".to_string()));
        }
        if !v.contains(':') {
            out.volumes.push(v.clone());
        } else {
            out.binds.push(v.clone());
        }
    }
    for m in mount {
        out.mounts.push(parse_mount(m)?);
    }
    for t in tmpfs {
        let (dest, opts) = t.split_once(':').unwrap_or((t, ""));
        out.tmpfs.insert(dest.to_string(), opts.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flags() {
        let m = parse_mount("type=bind,source=/h,target=/c,readonly,bind-propagation=rslave").expect("bind");
        assert_eq!(
            (m.kind.as_str(), m.source.as_str(), m.target.as_str()),
            ("bind", "/h", "/c")
        );
        assert!(m.read_only);
        assert_eq!(m.bind_options.map(|b| b.propagation), Some("rslave".to_string()));
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").expect("tmpfs");
        let t = m.tmpfs_options.expect("opts");
        assert_eq!((t.size_bytes, t.mode), (64 << 20, 0o1770));
        let m = parse_mount("source=data,target=/d,volume-nocopy").expect("volume");
        assert_eq!(m.kind, "volume");
        assert!(m.volume_options.is_some_and(|v| v.no_copy));
        assert!(parse_mount("type=bind,target=/x").is_err());
        assert!(parse_mount("source=x").is_err());
        assert!(parse_mount("target=/x,bogus=1").is_err());
    }

    #[test]
    fn volume_flags() {
        let s = build(
            &["/anon".into(), "/h:/c:ro".into(), "data:/d".into()],
            &[],
            &["/run:size=1m,exec".into(), "/tmp".into()],
        )
        .expect("build");
        assert_eq!(s.volumes, ["/anon"]);
        assert_eq!(s.binds, ["/h:/c:ro", "data:/d"]);
        assert_eq!(s.tmpfs["/run"], "size=1m,exec");
        assert_eq!(s.tmpfs["/tmp"], "");
    }
}
