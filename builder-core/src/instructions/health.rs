//! `HEALTHCHECK` options: Go durations (`30s`, `1m30s`, `500ms`) and retries.

use std::time::Duration;

use super::InstructionError;

/// Docker's minimum for a non-zero healthcheck duration.
const MINIMUM: Duration = Duration::from_millis(1);

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `0` alone is allowed. Negative durations are refused.
pub(crate) fn parse_go_duration(flag: &str, value: &str) -> Result<Duration, InstructionError> {
    let bad = |reason: &str| InstructionError::invalid(format!("--{flag}"), value, reason);
    let s = value.strip_prefix('+').unwrap_or(value);
    if s.starts_with('-') {
        return Err(bad("a duration cannot be negative"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad("expected a duration such as 30s or 1m30s"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        let number: f64 = num
            .parse()
            .map_err(|_| bad("expected a duration such as 30s or 1m30s"))?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let nanos_per_unit = match unit {
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(bad("missing unit in duration (use ms, s, m or h)")),
            _ => return Err(bad("unknown unit in duration (use ns, us, ms, s, m or h)")),
        };
        total += number * nanos_per_unit;
        rest = tail;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad("duration out of range"));
    }
    Ok(Duration::from_nanos(total as u64))
}

/// A healthcheck interval flag: empty or zero means "not set"; otherwise at least 1ms.
pub(crate) fn parse_interval(
    flag: &str,
    value: Option<&str>,
) -> Result<Option<Duration>, InstructionError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let d = parse_go_duration(flag, value)?;
    if d.is_zero() {
        return Ok(None);
    }
    if d < MINIMUM {
        return Err(InstructionError::rule(format!(
            "Interval \"{flag}\" cannot be less than 1ms"
        )));
    }
    Ok(Some(d))
}

/// Formats a duration as Go's `time.Duration.String` does (`1m30s`, `500ms`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(nanos, div));
    }
    let mut out = String::new();
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!(
        "{}s",
        trim_fraction(nanos % 60_000_000_000, 1_000_000_000)
    ));
    out
}

fn trim_fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let d = |s: &str| parse_go_duration("interval", s).unwrap();
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("300ms"), Duration::from_millis(300));
        assert_eq!(d("0"), Duration::ZERO);
        for bad in ["", "30", "1x", "-5s", "s", "1..2s"] {
            assert!(parse_go_duration("interval", bad).is_err(), "{bad}");
        }
        assert!(parse_interval("interval", Some("10us")).is_err());
        assert_eq!(parse_interval("interval", Some("0s")).unwrap(), None);
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }
}
