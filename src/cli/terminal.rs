//! The one way tenantgen writes to standard output and standard error.
//!
//! What is printed holds text from the repository and from servers (users,
//! render-record keys, hand-edited files in diffs, Vault's error bodies),
//! and CI logs show it to reviewers. [`Terminal`] spells out every
//! [invisible](escape::is_invisible) character but newline and tab (ESC,
//! BEL, C1 controls such as CSI, bidi overrides) as `\uXXXX`, which is also
//! a valid escape inside the JSON reports, so none reaches a terminal raw
//! and a reader sees that something is there. The colours of
//! `report::Style` are the only escape sequences let through, and only when
//! colour is on (never in a CI log, which is no terminal).
//! `clippy.toml` forbids `std::io::stdout` and `std::io::stderr` elsewhere,
//! and `lib.rs` forbids the std print macros, so no output can skip it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::escape;
use crate::report::STYLE_SEQUENCES;

/// Whether the style's colours pass: only when the command prints them.
static COLOUR: AtomicBool = AtomicBool::new(false);

/// Lets the style's colours through from now on, when `colour` is on.
pub fn allow_colour(colour: bool) {
    COLOUR.store(colour, Ordering::Relaxed);
}

/// Standard output, through [`Terminal`].
#[allow(clippy::disallowed_methods)]
pub fn out() -> Terminal<io::StdoutLock<'static>> {
    Terminal::new(io::stdout().lock())
}

/// Standard error, through [`Terminal`].
#[allow(clippy::disallowed_methods)]
pub fn err() -> Terminal<io::StderrLock<'static>> {
    Terminal::new(io::stderr().lock())
}

/// Whether standard output is a terminal.
#[allow(clippy::disallowed_methods)]
pub fn out_is_terminal() -> bool {
    io::IsTerminal::is_terminal(&io::stdout())
}

/// A writer that passes text on with invisible characters spelled out.
pub struct Terminal<W: Write> {
    inner: W,
    /// The start of a UTF-8 character split between two writes.
    carry: Vec<u8>,
}

impl<W: Write> Terminal<W> {
    pub fn new(inner: W) -> Terminal<W> {
        Terminal {
            inner,
            carry: Vec::new(),
        }
    }
}

impl<W: Write> Write for Terminal<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(buf);
        // A colour split between writes (a BufWriter's chunks): finish it next time.
        let colour = COLOUR.load(Ordering::Relaxed);
        if let Some(start) = bytes.iter().rposition(|byte| *byte == 0x1b)
            && colour
        {
            let tail = &bytes[start..];
            let split = STYLE_SEQUENCES
                .iter()
                .any(|seq| seq.len() > tail.len() && seq.as_bytes().starts_with(tail));
            if split {
                self.carry = bytes.split_off(start);
            }
        }
        let mut shown = String::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    push_shown(&mut shown, text, colour);
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    push_shown(
                        &mut shown,
                        std::str::from_utf8(valid).unwrap_or_default(),
                        colour,
                    );
                    match err.error_len() {
                        // A character split between writes: finish it next time.
                        None => {
                            let mut carry = after.to_vec();
                            carry.append(&mut self.carry);
                            self.carry = carry;
                            break;
                        }
                        Some(len) => {
                            for byte in &after[..len] {
                                shown.push_str(&format!("\\x{byte:02X}"));
                            }
                            rest = &after[len..];
                        }
                    }
                }
            }
        }
        self.inner.write_all(shown.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let carry = std::mem::take(&mut self.carry);
        let mut shown = String::new();
        match std::str::from_utf8(&carry) {
            Ok(text) => push_shown(&mut shown, text, COLOUR.load(Ordering::Relaxed)),
            Err(_) => {
                for byte in carry {
                    shown.push_str(&format!("\\x{byte:02X}"));
                }
            }
        }
        self.inner.write_all(shown.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Terminal<W> {
    fn drop(&mut self) {
        // Nowhere to report it: the writes before were reported.
        let _ = self.flush();
    }
}

/// Appends `text` with every invisible character but newline and tab
/// spelled out, letting the style's colours through when `colour` is on.
fn push_shown(out: &mut String, text: &str, colour: bool) {
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let sequence = STYLE_SEQUENCES.iter().find(|seq| rest.starts_with(**seq));
        if let (true, Some(sequence)) = (colour, sequence) {
            out.push_str(sequence);
            rest = &rest[sequence.len()..];
            continue;
        }
        if c != '\n' && c != '\t' && escape::is_invisible(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(chunks: &[&[u8]]) -> String {
        allow_colour(true);
        let mut out = Vec::new();
        {
            let mut terminal = Terminal::new(&mut out);
            for chunk in chunks {
                terminal.write_all(chunk).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn controls_and_bidi_marks_are_spelled_out() {
        assert_eq!(
            shown(&["a\u{1b}]0;x\u{7}b\u{9b}c\u{202E}d\u{2066}\r\n\te".as_bytes()]),
            "a\\u001B]0;x\\u0007b\\u009Bc\\u202Ed\\u2066\\u000D\n\te"
        );
        assert_eq!(shown(&["\u{E0041}".as_bytes()]), "\\uDB40\\uDC41");
    }

    #[test]
    fn the_styles_colours_pass_and_nothing_else() {
        assert_eq!(shown(&[b"\x1b[31m-x\x1b[0m"]), "\x1b[31m-x\x1b[0m");
        assert_eq!(shown(&[b"\x1b[2J"]), "\\u001B[2J");
        // Colour off: no escape sequence passes, the style's neither.
        let mut line = String::new();
        push_shown(&mut line, "\x1b[31m-x", false);
        assert_eq!(line, "\\u001B[31m-x");
    }

    #[test]
    fn split_characters_are_joined_and_invalid_bytes_shown() {
        let bidi = "\u{202E}".as_bytes();
        assert_eq!(shown(&[&bidi[..1], &bidi[1..]]), "\\u202E");
        assert_eq!(shown(&[b"a\x9bb", "é".as_bytes()]), "a\\x9Bbé");
        assert_eq!(shown(&[&bidi[..2]]), "\\xE2\\x80");
        assert_eq!(shown(&[b"a\x1b[3", b"1mb"]), "a\x1b[31mb");
        assert_eq!(shown(&[b"a\x1b[3"]), "a\\u001B[3");
    }
}
