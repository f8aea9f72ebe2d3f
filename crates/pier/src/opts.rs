//! Flag values as docker's CLI parses them (its `opts` package, go-units,
//! pflag's number parsing, Go's durations). Pure functions: each returns the
//! value docker would send, or docker's reason text, which `cli::usage`
//! wraps into `invalid argument "V" for "FLAG" flag: REASON`.

pub mod ports;

use std::collections::BTreeMap;
use std::net::IpAddr;

use pier_api::container::{DeviceRequest, ThrottleDevice, Ulimit, WeightDevice};

/// Why a flag value was refused, in docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

fn syntax(func: &str, s: &str) -> Invalid {
    invalid(format!("strconv.{func}: parsing \"{s}\": invalid syntax"))
}

fn range(func: &str, s: &str) -> Invalid {
    invalid(format!("strconv.{func}: parsing \"{s}\": value out of range"))
}

/// Digits of Go's `ParseUint(s, 0, …)`: base from the prefix (`0x`, `0o`,
/// `0b`, a leading `0` is octal), underscores only with a prefix.
fn go_uint(s: &str) -> Result<u128, bool> {
    let (digits, radix, prefixed) = match s.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0x") => (&s[2..], 16, true),
        Some("0o") => (&s[2..], 8, true),
        Some("0b") => (&s[2..], 2, true),
        _ if s.len() > 1 && s.starts_with('0') => (&s[1..], 8, true),
        _ => (s, 10, false),
    };
    if digits.is_empty() || (!prefixed && digits.contains('_')) {
        return Err(false);
    }
    let mut n: u128 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let d = c.to_digit(radix).ok_or(false)?;
        n = n
            .checked_mul(u128::from(radix))
            .and_then(|n| n.checked_add(u128::from(d)))
            .ok_or(true)?;
    }
    Ok(n)
}

/// pflag's `Int64Var`/`IntVar`: `strconv.ParseInt(s, 0, 64)`.
pub fn go_i64(s: &str) -> Result<i64, Invalid> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = go_uint(body).map_err(|overflow| {
        if overflow {
            range("ParseInt", s)
        } else {
            syntax("ParseInt", s)
        }
    })?;
    let n = i128::try_from(n).map_err(|_| range("ParseInt", s))?;
    i64::try_from(if neg { -n } else { n }).map_err(|_| range("ParseInt", s))
}

fn go_unsigned(s: &str, max: u128) -> Result<u128, Invalid> {
    let n = go_uint(s).map_err(|overflow| {
        if overflow {
            range("ParseUint", s)
        } else {
            syntax("ParseUint", s)
        }
    })?;
    if n > max {
        return Err(range("ParseUint", s));
    }
    Ok(n)
}

/// pflag's `Uint16Var`.
pub fn go_u16(s: &str) -> Result<u16, Invalid> {
    go_unsigned(s, u128::from(u16::MAX)).map(|n| n as u16)
}

/// pflag's bool flags (`--rm=false`): Go's `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Result<bool, Invalid> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(syntax("ParseBool", s)),
    }
}

/// go-units `RAMInBytes` (`opts.MemBytes`): `32m` is 33554432.
pub fn ram_in_bytes(s: &str) -> Result<i64, Invalid> {
    let bad_size = || invalid(format!("invalid size: '{s}'"));
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(bad_size)?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| invalid(format!("strconv.ParseFloat: parsing \"{num}\": invalid syntax")))?;
    if size < 0.0 {
        return Err(bad_size());
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad_suffix = || invalid(format!("invalid suffix: '{sfx}'"));
    let lower = sfx.to_ascii_lowercase();
    if lower.len() > 3 {
        return Err(bad_suffix());
    }
    let mut chars = lower.chars();
    let mult: f64 = match chars.next() {
        Some('b') if lower.len() == 1 => return Ok(size as i64),
        Some('k') => 1024.0,
        Some('m') => 1024.0 * 1024.0,
        Some('g') => 1024.0 * 1024.0 * 1024.0,
        Some('t') => 1024f64.powi(4),
        Some('p') => 1024f64.powi(5),
        _ => return Err(bad_suffix()),
    };
    let rest = chars.as_str();
    if !(rest.is_empty() || rest == "b" || rest == "ib") {
        return Err(bad_suffix());
    }
    Ok((size * mult) as i64)
}

/// `opts.MemSwapBytes`: `-1` (unlimited) or a size.
pub fn mem_swap_bytes(s: &str) -> Result<i64, Invalid> {
    if s == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// `opts.ParseCPUs` (`--cpus`): a rational number (`1.5`, `3/2`, `1e-1`)
/// times 10^9, which must come out whole.
pub fn nano_cpus(s: &str) -> Result<i64, Invalid> {
    let not_rational = || invalid(format!("failed to parse {s} as a rational number"));
    // An exact fraction num/den with num, den as i128.
    let (num, den): (i128, i128) = if let Some((a, b)) = s.split_once('/') {
        let a: i128 = a.parse().map_err(|_| not_rational())?;
        let b: i128 = b.parse().map_err(|_| not_rational())?;
        if b <= 0 {
            return Err(not_rational());
        }
        (a, b)
    } else {
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| not_rational())?),
            None => (s, 0),
        };
        let (neg, m) = match mantissa.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (int, frac) = m.split_once('.').unwrap_or((m, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(not_rational());
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let mut n: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| invalid("value is too precise"))?
        };
        if neg {
            n = -n;
        }
        let scale = exp - frac.len() as i32;
        if scale >= 0 {
            let f = 10i128
                .checked_pow(scale as u32)
                .ok_or_else(|| invalid("value is too precise"))?;
            (n.checked_mul(f).ok_or_else(|| invalid("value is too precise"))?, 1)
        } else {
            let f = 10i128
                .checked_pow((-scale) as u32)
                .ok_or_else(|| invalid("value is too precise"))?;
            (n, f)
        }
    };
    let scaled = num
        .checked_mul(1_000_000_000)
        .ok_or_else(|| invalid("value is too precise"))?;
    if scaled % den != 0 {
        return Err(invalid("value is too precise"));
    }
    // Go's big.Int.Int64() wraps; a value that large is not a CPU count anyway.
    Ok((scaled / den) as i64)
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn go_duration(s: &str) -> Result<i64, Invalid> {
    pier_time::parse_go_duration_signed(s).map_err(|e| invalid(e.to_string()))
}

/// go-units `ParseUlimit` (`--ulimit nofile=1024:2048`).
pub fn ulimit(s: &str) -> Result<Ulimit, Invalid> {
    const NAMES: [&str; 15] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    let (name, limits) = s
        .split_once('=')
        .ok_or_else(|| invalid(format!("invalid ulimit argument: {s}")))?;
    if !NAMES.contains(&name) {
        return Err(invalid(format!("invalid ulimit type: {name}")));
    }
    let int = |v: &str| v.parse::<i64>().map_err(|_| syntax("ParseInt", v));
    let parts: Vec<&str> = limits.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [soft] => {
            let soft = int(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            let hard = int(hard)?;
            (int(soft)?, hard)
        }
        _ => {
            return Err(invalid(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            )))
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            )));
        }
        if soft > hard {
            return Err(invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

fn device_path(s: &str) -> Result<(&str, &str), Invalid> {
    let (k, v) = s
        .split_once(':')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| invalid(format!("bad format: {s}")))?;
    if !k.starts_with("/dev/") {
        return Err(invalid(format!("bad format for device path: {s}")));
    }
    Ok((k, v))
}

/// `opts.ValidateWeightDevice` (`--blkio-weight-device /dev/sda:200`).
pub fn weight_device(s: &str) -> Result<WeightDevice, Invalid> {
    let (path, v) = device_path(s)?;
    let bad = || invalid(format!("invalid weight for device: {s}"));
    let weight: u16 = v.parse().map_err(|_| bad())?;
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(bad());
    }
    Ok(WeightDevice {
        path: path.to_string(),
        weight,
    })
}

/// `opts.ValidateThrottleBpsDevice` (`--device-read-bps /dev/sda:1mb`).
pub fn throttle_bps_device(s: &str) -> Result<ThrottleDevice, Invalid> {
    let (path, v) = device_path(s)?;
    let rate = ram_in_bytes(v).map_err(|_| {
        invalid(format!(
            "invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]. \
             Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        ))
    })?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate: rate as u64,
    })
}

/// `opts.ValidateThrottleIOpsDevice` (`--device-read-iops /dev/sda:100`).
pub fn throttle_iops_device(s: &str) -> Result<ThrottleDevice, Invalid> {
    let (path, v) = device_path(s)?;
    let rate: u64 = v.parse().map_err(|_| {
        invalid(format!(
            "invalid rate for device: {s}. The correct format is <device-path>:<number>. Number must be a positive integer"
        ))
    })?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate,
    })
}

/// One record of Go's `encoding/csv` reader: comma separated, `"` quotes.
pub fn csv_fields(s: &str) -> Result<Vec<String>, Invalid> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                out.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(invalid(
            "parse error on line 1, column 0: extraneous or missing \" in quoted-field",
        ));
    }
    out.push(field);
    Ok(out)
}

/// `opts.GpuOpts.Set` (`--gpus all`, `--gpus '"device=0,1"'`).
pub fn gpus(s: &str) -> Result<DeviceRequest, Invalid> {
    let count = |v: &str| -> Result<i64, Invalid> {
        if v == "all" {
            return Ok(-1);
        }
        v.parse::<i64>().map_err(|_| {
            invalid(format!(
                "invalid count ({v}): value must be either \"all\" or an integer: invalid syntax"
            ))
        })
    };
    let mut req = DeviceRequest::default();
    let mut seen = std::collections::BTreeSet::new();
    for field in csv_fields(s)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (field.clone(), None),
        };
        if !seen.insert(key.clone()) {
            return Err(invalid(format!("gpu request key '{key}' can be specified only once")));
        }
        let Some(val) = val else {
            seen.insert("count".to_string());
            req.count = count(&key)?;
            continue;
        };
        match key.as_str() {
            "driver" => req.driver = val,
            "count" => req.count = count(&val)?,
            "device" => req.device_ids = Some(val.split(',').map(str::to_string).collect()),
            "capabilities" => {
                let mut caps: Vec<String> = val.split(',').map(str::to_string).collect();
                caps.push("gpu".to_string());
                req.capabilities = Some(vec![caps]);
            }
            "options" => {
                let fields = csv_fields(&val).map_err(|e| invalid(format!("failed to read gpu options: {e}")))?;
                req.options = Some(kv_map(&fields));
            }
            _ => return Err(invalid(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if !seen.contains("count") && req.device_ids.is_none() {
        req.count = 1;
    }
    req.options.get_or_insert_with(BTreeMap::new);
    req.capabilities.get_or_insert_with(|| vec![vec!["gpu".to_string()]]);
    Ok(req)
}

/// `opts.ConvertKVStringsToMap`: `k=v`, a bare `k` maps to "".
pub fn kv_map(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|v| {
            let (k, v) = v.split_once('=').unwrap_or((v, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Go's `net.ParseIP(..).String()`: the canonical form.
fn parse_ip(s: &str) -> Option<String> {
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    })
}

/// `opts.ValidateIPAddress` (`--dns`).
pub fn ip_address(s: &str) -> Result<String, Invalid> {
    parse_ip(s.trim()).ok_or_else(|| invalid(format!("IP address is not correctly formatted: {s}")))
}

/// `opts.ValidateDNSSearch` (`--dns-search`).
pub fn dns_search(s: &str) -> Result<String, Invalid> {
    let v = s.trim_matches(' ');
    if v == "." {
        return Ok(v.to_string());
    }
    let bad = || invalid(format!("{v} is not a valid domain"));
    if !v.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    // docker's regexp: labels of [a-zA-Z0-9-] not starting or ending with
    // '-', joined by '.', an optional final '.', trailing whitespace dropped.
    let trimmed = v.trim_end();
    let domain = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.split('.').all(label_ok) && domain.len() < 255 {
        Ok(domain.to_string())
    } else {
        Err(bad())
    }
}

/// `opts.ValidateExtraHost` (`--add-host name:ip`, `name=ip`); the daemon
/// gets `name:ip`.
pub fn extra_host(s: &str) -> Result<String, Invalid> {
    let (k, v) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .filter(|(k, _)| !k.is_empty() && !k.contains(':'))
        .ok_or_else(|| invalid(format!("bad format for add-host: {s:?}")))?;
    if v != "host-gateway" {
        let ip = match v.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            Some(inner) if v.len() > 2 => inner,
            _ => v,
        };
        if parse_ip(ip.trim()).is_none() {
            return Err(invalid(format!("invalid IP address in add-host: {ip:?}")));
        }
        return Ok(format!("{k}:{ip}"));
    }
    Ok(format!("{k}:{v}"))
}

/// `opts.ValidateLabel` (`-l`).
pub fn label(s: &str) -> Result<String, Invalid> {
    let key = s.split_once('=').map_or(s, |(k, _)| k).trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(invalid(format!("invalid label '{s}': empty name")));
    }
    if key.contains([' ', '\t']) {
        return Err(invalid(format!("label '{key}' contains whitespaces")));
    }
    Ok(s.to_string())
}

/// `opts.ValidateEnv` without the lookup (that happens in the request
/// builder, which owns the environment).
pub fn env(s: &str) -> Result<String, Invalid> {
    if s.split_once('=').map_or(s, |(k, _)| k).is_empty() {
        return Err(invalid(format!("invalid environment variable: {s}")));
    }
    Ok(s.to_string())
}

/// `opts.ValidateSysctl` (`--sysctl net.ipv4.ip_forward=1`).
pub fn sysctl(s: &str) -> Result<String, Invalid> {
    const ALLOWED: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let refused = || invalid(format!("sysctl '{s}' is not allowed"));
    let (k, _) = s.split_once('=').filter(|(k, _)| !k.is_empty()).ok_or_else(refused)?;
    if ALLOWED.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.") {
        Ok(s.to_string())
    } else {
        Err(refused())
    }
}

/// `opts.ValidateLink` (`--link name[:alias]`).
pub fn link(s: &str) -> Result<String, Invalid> {
    if s.is_empty() {
        return Err(invalid("empty string specified for links"));
    }
    if s.splitn(3, ':').count() > 2 {
        return Err(invalid(format!("bad format for links: {s}")));
    }
    Ok(s.to_string())
}

/// docker's `validateDeviceCgroupRule`: `^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`.
pub fn device_cgroup_rule(s: &str) -> Result<String, Invalid> {
    let num = |p: &str| p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let ok = (|| {
        let mut it = s.split(' ');
        let (kind, nums, mode) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let (major, minor) = nums.split_once(':')?;
        let good = matches!(kind, "a" | "b" | "c")
            && num(major)
            && num(minor)
            && (1..=3).contains(&mode.len())
            && mode.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
        good.then_some(())
    })();
    ok.map(|()| s.to_string())
        .ok_or_else(|| invalid(format!("invalid device cgroup format '{s}'")))
}

/// docker's `validateAttach` (`-a stdin`): lower case.
pub fn attach(s: &str) -> Result<String, Invalid> {
    let l = s.to_ascii_lowercase();
    if matches!(l.as_str(), "stdin" | "stdout" | "stderr") {
        Ok(l)
    } else {
        Err(invalid("valid streams are STDIN, STDOUT and STDERR"))
    }
}

/// One `--network` value: a name, or the long syntax
/// `name=n,alias=a,ip=…,ip6=…,mac-address=…,link-local-ip=…,driver-opt=k=v,gw-priority=N`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipv4_address: String,
    pub ipv6_address: String,
    pub link_local_ips: Vec<String>,
    pub mac_address: String,
    pub gw_priority: i64,
}

/// `opts.NetworkOpt.Set`. The long syntax is recognised as docker's regexp
/// `\w+=\w+(,\w+=\w+)*` finding a match anywhere.
pub fn network(s: &str) -> Result<NetworkAttachment, Invalid> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let long = s.char_indices().any(|(i, c)| {
        c == '=' && s[..i].chars().next_back().is_some_and(word) && s[i + 1..].chars().next().is_some_and(word)
    });
    if !long {
        return Ok(NetworkAttachment {
            target: s.to_string(),
            ..Default::default()
        });
    }
    let mut n = NetworkAttachment::default();
    for field in csv_fields(s)? {
        let lower = field.to_lowercase();
        let (key, val) = lower
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| invalid(format!("invalid field {field}")))?;
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => n.target = val,
            "alias" => n.aliases.push(val),
            "ip" => n.ipv4_address = val,
            "ip6" => n.ipv6_address = val,
            "mac-address" => n.mac_address = val,
            "link-local-ip" => n.link_local_ips.push(val),
            "driver-opt" => {
                let (k, v) = val
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| invalid("invalid key value pair format in driver options"))?;
                n.driver_opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            "gw-priority" => {
                n.gw_priority = val
                    .parse()
                    .map_err(|_| invalid(format!("invalid gw-priority ({val}): invalid syntax")))?;
            }
            other => return Err(invalid(format!("invalid field key {other}"))),
        }
    }
    if n.target.is_empty() {
        return Err(invalid("network name/id is not specified"));
    }
    Ok(n)
}

/// Go's `net.ParseMAC` for the 6-byte forms (`aa:bb:…`, `aa-bb-…`, `aabb.ccdd.eeff`).
pub fn is_mac_address(s: &str) -> bool {
    let s = s.trim();
    let hex_pairs = |sep: char| {
        let parts: Vec<&str> = s.split(sep).collect();
        matches!(parts.len(), 6 | 8 | 20)
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let dotted = {
        let parts: Vec<&str> = s.split('.').collect();
        matches!(parts.len(), 3 | 4 | 10)
            && parts
                .iter()
                .all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    hex_pairs(':') || hex_pairs('-') || dotted
}

/// The containerd `platforms.Parse` shape: `os[/arch[/variant]]` or
/// `arch` alone, lower-case components.
pub fn platform(s: &str) -> Result<(), Invalid> {
    let parts: Vec<&str> = s.split('/').collect();
    let ok = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "error parsing specified platform: {s:?}: cannot parse platform specifier: invalid argument"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(ram_in_bytes("32m"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(ram_in_bytes("100"), Ok(100));
        assert_eq!(ram_in_bytes("64 mb"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("x"), Err(invalid("invalid size: 'x'")));
        assert_eq!(ram_in_bytes("1.5qb"), Err(invalid("invalid suffix: 'qb'")));
        assert_eq!(mem_swap_bytes("-1"), Ok(-1));
    }

    #[test]
    fn numbers_like_pflag() {
        assert_eq!(go_i64("-500"), Ok(-500));
        assert_eq!(go_i64("0x10"), Ok(16));
        assert_eq!(
            go_i64("x"),
            Err(invalid("strconv.ParseInt: parsing \"x\": invalid syntax"))
        );
        assert_eq!(
            go_u16("70000"),
            Err(invalid("strconv.ParseUint: parsing \"70000\": value out of range"))
        );
        assert_eq!(go_bool("F"), Ok(false));
        assert!(go_bool("yes").is_err());
    }

    #[test]
    fn cpus_and_durations() {
        assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("3/2"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("0.001"), Ok(1_000_000));
        assert_eq!(nano_cpus("1.0000000001"), Err(invalid("value is too precise")));
        assert_eq!(nano_cpus("x"), Err(invalid("failed to parse x as a rational number")));
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(go_duration("1"), Err(invalid("time: missing unit in duration \"1\"")));
        assert_eq!(
            go_duration("1x"),
            Err(invalid("time: unknown unit \"x\" in duration \"1x\""))
        );
        assert_eq!(go_duration("x"), Err(invalid("time: invalid duration \"x\"")));
    }

    #[test]
    fn ulimits_devices_gpus() {
        let u = ulimit("nofile=1024:2048").expect("ulimit");
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(ulimit("x"), Err(invalid("invalid ulimit argument: x")));
        assert!(ulimit("nofile=10:5").is_err());
        assert_eq!(weight_device("/dev/sda:200").map(|w| w.weight), Ok(200));
        assert_eq!(weight_device("x"), Err(invalid("bad format: x")));
        assert_eq!(throttle_bps_device("/dev/sda:1mb").map(|t| t.rate), Ok(1 << 20));
        assert_eq!(throttle_iops_device("/dev/sda:100").map(|t| t.rate), Ok(100));
        let g = gpus("all").expect("gpus");
        assert_eq!(g.count, -1);
        assert_eq!(g.capabilities, Some(vec![vec!["gpu".to_string()]]));
        let g = gpus("\"device=0,1\",driver=nvidia").expect("gpus");
        assert_eq!(g.device_ids, Some(vec!["0".to_string(), "1".to_string()]));
        assert_eq!(g.count, 0);
        assert!(gpus("foo").is_err());
    }

    #[test]
    fn network_values() {
        assert_eq!(extra_host("db=10.0.0.1"), Ok("db:10.0.0.1".to_string()));
        assert_eq!(extra_host("db:[::1]"), Ok("db:::1".to_string()));
        assert_eq!(extra_host("gw:host-gateway"), Ok("gw:host-gateway".to_string()));
        assert!(extra_host("x").is_err());
        assert_eq!(ip_address("::ffff:1.2.3.4"), Ok("1.2.3.4".to_string()));
        assert_eq!(dns_search("example.com."), Ok("example.com".to_string()));
        assert!(dns_search("1.2").is_err());
        let n = network("name=br,alias=a,ip=10.0.0.2").expect("network");
        assert_eq!((n.target.as_str(), n.aliases.len()), ("br", 1));
        assert_eq!(network("host").map(|n| n.target), Ok("host".to_string()));
        assert_eq!(network("a=b"), Err(invalid("invalid field key a")));
        assert!(is_mac_address("92:d0:c6:0a:29:33"));
        assert!(!is_mac_address("x"));
        assert!(device_cgroup_rule("c 1:3 mr").is_ok());
        assert!(device_cgroup_rule("c *:* rwmr").is_err());
        assert_eq!(sysctl("kernel.x=1"), Err(invalid("sysctl 'kernel.x=1' is not allowed")));
    }
}
