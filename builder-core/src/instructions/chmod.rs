//! `--chmod` values: octal (`755`) or symbolic (`u=rwX,go=rX`, `+x`), as chmod(1) writes them.

use std::fmt;

use super::InstructionError;

/// A `--chmod` value, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// An octal mode such as `0755` (permission and special bits only).
    Octal(u32),
    /// A symbolic mode such as `u=rwX,go=rX`, applied to each file's current mode.
    Symbolic(String),
}

impl Chmod {
    /// Parses an expanded `--chmod` value.
    pub fn parse(value: &str) -> Result<Chmod, InstructionError> {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return match u32::from_str_radix(value, 8) {
                Ok(mode) if mode <= 0o7777 => Ok(Chmod::Octal(mode)),
                _ => Err(invalid(value)),
            };
        }
        if value.split(',').all(is_symbolic_clause) {
            Ok(Chmod::Symbolic(value.to_string()))
        } else {
            Err(invalid(value))
        }
    }

    /// The mode a file of mode `current` gets (`is_dir` decides what `X` means).
    pub fn apply(&self, current: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(mode) => *mode,
            Chmod::Symbolic(s) => s.split(',').fold(current & 0o7777, |mode, clause| {
                apply_clause(clause, mode, is_dir)
            }),
        }
    }
}

impl fmt::Display for Chmod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chmod::Octal(m) => write!(f, "{m:04o}"),
            Chmod::Symbolic(s) => f.write_str(s),
        }
    }
}

fn invalid(value: &str) -> InstructionError {
    InstructionError::invalid(
        "--chmod",
        value,
        "expected an octal mode (755) or a symbolic mode (u=rwX,go=rX)",
    )
}

/// `[ugoa]*([-+=]([rwxXst]*|[ugo]))+`
fn is_symbolic_clause(clause: &str) -> bool {
    let rest = clause.trim_start_matches(['u', 'g', 'o', 'a']);
    if rest.is_empty() {
        return false;
    }
    let mut ops = 0;
    let mut chars = rest.chars().peekable();
    while let Some(op) = chars.next() {
        if !matches!(op, '+' | '-' | '=') {
            return false;
        }
        ops += 1;
        let mut perms = String::new();
        while let Some(&c) = chars.peek() {
            if matches!(c, '+' | '-' | '=') {
                break;
            }
            perms.push(c);
            chars.next();
        }
        let copy = matches!(perms.as_str(), "u" | "g" | "o");
        if !copy && !perms.chars().all(|c| "rwxXst".contains(c)) {
            return false;
        }
    }
    ops > 0
}

fn apply_clause(clause: &str, mode: u32, is_dir: bool) -> u32 {
    let who_end = clause.find(['+', '-', '=']).unwrap_or(clause.len());
    let (who, mut rest) = clause.split_at(who_end);
    // With no "who", chmod(1) means "a", with the bits of the umask (022 in builds) left out.
    let (mask, umask) = who_mask(who);
    let mut mode = mode;
    while let Some(op) = rest.chars().next() {
        rest = &rest[1..];
        let end = rest.find(['+', '-', '=']).unwrap_or(rest.len());
        let (perms, tail) = rest.split_at(end);
        rest = tail;
        let bits = perm_bits(perms, mode, is_dir) & mask & !umask;
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !mask) | bits,
        };
    }
    mode
}

fn who_mask(who: &str) -> (u32, u32) {
    if who.is_empty() {
        return (0o7777, 0o022);
    }
    let mut mask = 0;
    for c in who.chars() {
        mask |= match c {
            'u' => 0o4700,
            'g' => 0o2070,
            'o' => 0o1007,
            _ => 0o7777,
        };
    }
    (mask, 0)
}

fn perm_bits(perms: &str, mode: u32, is_dir: bool) -> u32 {
    let spread = |three: u32| three << 6 | three << 3 | three;
    match perms {
        "u" => spread((mode >> 6) & 7),
        "g" => spread((mode >> 3) & 7),
        "o" => spread(mode & 7),
        _ => perms.chars().fold(0, |bits, c| {
            bits | match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || mode & 0o111 != 0 => 0o111,
                's' => 0o6000,
                't' => 0o1000,
                _ => 0,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_octal_and_symbolic() {
        assert_eq!(Chmod::parse("755").unwrap(), Chmod::Octal(0o755));
        assert_eq!(Chmod::parse("04755").unwrap(), Chmod::Octal(0o4755));
        assert!(Chmod::parse("789").is_err());
        assert!(Chmod::parse("17777").is_err());
        for ok in ["+x", "u=rwX,go=rX", "g=u", "a-w", "u+s", "o=", "ug+rw-x"] {
            assert!(Chmod::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "x", "u", "u=q", "z+x", "+x,", "u=rw,"] {
            assert!(Chmod::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applies_symbolic_modes() {
        let m = |s: &str, cur: u32, dir: bool| Chmod::parse(s).unwrap().apply(cur, dir);
        assert_eq!(m("+x", 0o644, false), 0o755);
        assert_eq!(m("u=rwX,go=rX", 0o600, false), 0o644);
        assert_eq!(m("u=rwX,go=rX", 0o700, true), 0o755);
        assert_eq!(m("g=u", 0o640, false), 0o660);
        assert_eq!(m("a-w", 0o666, false), 0o444);
        assert_eq!(m("o=", 0o777, false), 0o770);
        assert_eq!(m("755", 0o600, false), 0o755);
    }
}
