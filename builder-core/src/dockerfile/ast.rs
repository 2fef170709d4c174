//! The syntax tree: one [`Node`] per instruction, with its raw words and positions.

use std::sync::Arc;

use crate::source::{SourceFile, Span};

/// A parsed Dockerfile: directives, instructions in source order, and parse warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The file the nodes point into.
    pub source: Arc<SourceFile>,
    /// The parser directives found at the top of the file.
    pub directives: Directives,
    /// The instructions, in source order.
    pub nodes: Vec<Node>,
    /// Warnings BuildKit gives at parse time (empty continuation lines, ...).
    pub warnings: Vec<Warning>,
}

/// Parser directives (`# syntax=`, `# escape=`, `# check=`), valid only at the top of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The `syntax` directive's value, if given (Hoist does not load frontends; it is recorded).
    pub syntax: Option<String>,
    /// The escape character: `\` by default, or `` ` `` from `# escape=`.
    pub escape: char,
    /// The `check` directive's raw value, if given (e.g. `skip=all;error=true`).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// One instruction as written.
///
/// `args` are the words BuildKit's per-instruction argument parsers produce (for example
/// `ENV a=b` gives `["a", "b", "="]`); they are not yet expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The instruction keyword, lower-cased (`from`, `run`, ...).
    pub keyword: String,
    /// Flags as written, e.g. `--from=build`, in order.
    pub flags: Vec<String>,
    /// The argument words (empty for ONBUILD, whose instruction is in `onbuild`).
    pub args: Vec<String>,
    /// For `ONBUILD`: the nested instruction.
    pub onbuild: Option<Box<Node>>,
    /// Whether the arguments were written in JSON (exec) form.
    pub json: bool,
    /// Heredocs attached to the instruction, in order.
    pub heredocs: Vec<Heredoc>,
    /// The instruction's text as written after continuation joining (BuildKit's `Original`).
    pub original: String,
    /// Comment lines directly above the instruction (without `#`), BuildKit's `PrevComment`.
    pub comments: Vec<String>,
    /// From the keyword's first character to the last character of the instruction
    /// (including heredoc bodies).
    pub span: Span,
}

/// A heredoc body attached to an instruction (`<<EOF` ... `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`).
    pub name: String,
    /// The body as written, each line with its line ending (BuildKit strips the tabs of a
    /// `<<-` heredoc only when it is used: see [`Heredoc::body`]).
    pub content: String,
    /// False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion.
    pub expand: bool,
    /// True for `<<-`: leading tabs are stripped from each line.
    pub chomp: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when none is given.
    pub file_descriptor: u64,
}

impl Heredoc {
    /// The body as the instruction uses it: [`Heredoc::content`] with the leading tabs of each
    /// line removed when [`Heredoc::chomp`] is set (BuildKit's `ChompHeredocContent`).
    pub fn body(&self) -> String {
        if self.chomp {
            super::heredoc::chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// A non-fatal finding of the parser, as BuildKit reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The one-line message.
    pub short: String,
    /// A longer explanation.
    pub detail: String,
    /// A URL with more information, if any.
    pub url: Option<String>,
    /// Where the warning applies.
    pub span: Span,
}

impl Ast {
    /// The AST in BuildKit's test `result` format: one `(keyword ...)` line per instruction,
    /// each followed by a newline.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            node.dump_into(&mut out);
            out.push('\n');
        }
        out
    }
}

impl Node {
    /// The instruction in BuildKit's dump format, without a newline: `(copy ["--from=a"] "x" "y")`.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        self.dump_into(&mut out);
        out
    }

    fn dump_into(&self, out: &mut String) {
        out.push('(');
        // Go trims the node's text: an empty keyword leaves no leading space.
        let mark = out.len();
        out.push_str(&self.keyword);
        if !self.flags.is_empty() {
            out.push_str(" [");
            for (i, flag) in self.flags.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&go_quote(flag));
            }
            out.push(']');
        }
        if let Some(child) = &self.onbuild {
            out.push(' ');
            child.dump_into(out);
        }
        for arg in &self.args {
            out.push(' ');
            out.push_str(&go_quote(arg));
        }
        if self.keyword.is_empty() && out.get(mark..mark + 1) == Some(" ") {
            out.remove(mark);
        }
        out.push(')');
    }
}

/// Quotes `s` as Go's `strconv.Quote` does: printable Unicode kept, the rest escaped.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space are printable; controls, other spaces and format characters are not.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(go_quote("\u{1}"), r#""\x01""#);
        assert_eq!(go_quote("한국어 ✓"), "\"한국어 ✓\"");
        assert_eq!(go_quote("\u{feff}"), r#""\ufeff""#);
    }
}
