//! `EXPOSE` port specs, parsed as BuildKit's `convert_expose.go` parses them
//! (`[ip:][hostPort:]port[-end][/proto]`).

use std::net::IpAddr;

use super::ImageError;

/// Parses one `EXPOSE` word into `port/proto` entries: `80` -> `80/tcp`, `53/UDP` -> `53/udp`,
/// `8000-8002` -> three ports. The protocol is `tcp`, `udp` or `sctp` (any case); ports are
/// 0-65535. An IP or host port is accepted and ignored, as BuildKit does (it only warns).
pub fn parse_port_spec(raw: &str) -> Result<Vec<String>, ImageError> {
    let bad = |reason: &str| ImageError::InvalidPort {
        spec: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let (ip, host_port, container) = split_parts(raw);
    let (port, proto) = container.split_once('/').unwrap_or((&container, ""));
    if port.is_empty() {
        return Err(bad("no port specified"));
    }
    let proto = proto.to_ascii_lowercase();
    let proto = match proto.as_str() {
        "" => "tcp",
        "tcp" | "udp" | "sctp" => proto.as_str(),
        _ => return Err(bad(&format!("invalid proto: {proto}"))),
    };
    if !ip.is_empty() {
        let bare = ip
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(&ip);
        if bare.parse::<IpAddr>().is_err() {
            return Err(bad(&format!("invalid IP address: {ip}")));
        }
    }
    let (start, end) =
        port_range(port).map_err(|_| bad(&format!("invalid containerPort: {port}")))?;
    if !host_port.is_empty() {
        let (hs, he) =
            port_range(&host_port).map_err(|_| bad(&format!("invalid hostPort: {host_port}")))?;
        if end - start != he - hs && end != start {
            return Err(bad(&format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            )));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `[ip:]host:container` split on colons from the right, as BuildKit's `splitParts`.
fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [c] => (String::new(), String::new(), (*c).to_owned()),
        [h, c] => (String::new(), (*h).to_owned(), (*c).to_owned()),
        [rest @ .., h, c] => (rest.join(":"), (*h).to_owned(), (*c).to_owned()),
        [] => (String::new(), String::new(), String::new()),
    }
}

/// `8000` or `8000-9000`; the end may not be below the start.
fn port_range(s: &str) -> Result<(u32, u32), ()> {
    if s.is_empty() {
        return Err(());
    }
    let (start, end) = match s.split_once('-') {
        Some((a, b)) if a != b => (port_number(a)?, port_number(b)?),
        Some((a, _)) => (port_number(a)?, port_number(a)?),
        None => (port_number(s)?, port_number(s)?),
    };
    if end < start {
        return Err(());
    }
    Ok((start, end))
}

/// A decimal port number in 0..=65535 (Go's `ParseInt` accepts a sign).
fn port_number(s: &str) -> Result<u32, ()> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    match digits.trim_start_matches('0') {
        "" => Ok(0),
        d if d.len() <= 5 => d.parse::<u32>().ok().filter(|p| *p <= 65535).ok_or(()),
        _ => Err(()),
    }
}
