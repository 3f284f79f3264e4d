//! `terraform fmt` layout without a `terraform` binary.
//!
//! A faithful port of the whitespace rules of hclwrite's formatter for the
//! constructs templates produce: indentation by bracket nesting (one level per
//! line that opens brackets), `=` aligned within runs of consecutive one-line
//! attributes, heredoc bodies left untouched. On top of that it normalises
//! blank lines (no runs, none at the edges of a block), which `terraform fmt`
//! keeps as they are, so template authors need not count newlines.
//! Spacing inside a line is taken from the template as written.
//!
//! The same scan checks the structure a formatter can see: every string and
//! heredoc closed, every bracket closed, none closed twice.

/// Lays `source` out exactly as `terraform fmt` would print it, or says
/// (with a line number) why it is not well-formed HCL.
pub fn format(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + source.len() / 8);
    format_into(source, &mut out)?;
    Ok(out)
}

/// [`format`], appending to `out`.
pub fn format_into(source: &str, out: &mut String) -> Result<(), String> {
    let lines = split_lines(source)?;
    emit(&lines, out);
    Ok(())
}

#[derive(Debug)]
enum Line<'a> {
    Blank,
    Code(CodeLine<'a>),
}

#[derive(Debug)]
struct CodeLine<'a> {
    /// Net change of bracket depth over the line (heredoc bodies excluded).
    net_brackets: i32,
    /// The line without indentation; when it is an attribute, split at `=`.
    content: Content<'a>,
    /// Heredoc body and closing marker, emitted verbatim.
    heredoc: Vec<&'a str>,
}

#[derive(Debug)]
enum Content<'a> {
    Plain(&'a str),
    Attribute { name: &'a str, value: &'a str },
}

/// The lines of `source`, blank lines normalised on the way: no runs, none
/// at the edges of a block or of the file.
fn split_lines(source: &str) -> Result<Vec<Line<'_>>, String> {
    let mut lines: Vec<Line<'_>> = Vec::with_capacity(source.len() / 24);
    let mut depth = 0i32;
    let mut pending_blank = false;
    let mut rest = source.lines().enumerate();
    while let Some((index, raw)) = rest.next() {
        let text = raw.trim();
        if text.is_empty() {
            pending_blank = true;
            continue;
        }
        let line_number = index + 1;
        let scan = scan_line(text);
        if scan.unterminated {
            return Err(format!(
                "line {line_number}: a string or interpolation is not closed on its line"
            ));
        }
        depth += scan.net_brackets;
        if depth < 0 {
            return Err(format!(
                "line {line_number}: closes a bracket that was never opened"
            ));
        }
        let heredoc = match scan.heredoc_marker {
            Some(marker) => heredoc_body(&mut rest, marker, scan.heredoc_indented, line_number)?,
            None => Vec::new(),
        };
        let content = match scan.assign_at {
            Some(at) => Content::Attribute {
                name: text[..at].trim_end(),
                value: text[at + 1..].trim_start(),
            },
            None => Content::Plain(text),
        };
        let starts_with_closer = text.starts_with(['}', ']', ')']);
        let after_opener = match lines.last() {
            Some(Line::Code(previous)) => previous.net_brackets > 0,
            _ => true,
        };
        if pending_blank && !after_opener && !starts_with_closer {
            lines.push(Line::Blank);
        }
        pending_blank = false;
        lines.push(Line::Code(CodeLine {
            net_brackets: scan.net_brackets,
            content,
            heredoc,
        }));
    }
    if depth != 0 {
        return Err(format!("{depth} bracket(s) opened but never closed"));
    }
    Ok(lines)
}

fn emit(lines: &[Line<'_>], out: &mut String) {
    let indents = indentation(lines);
    let mut index = 0;
    while index < lines.len() {
        // A run of consecutive attribute lines aligns its `=` signs.
        let run_end = lines[index..]
            .iter()
            .position(|line| !is_attribute(line))
            .map_or(lines.len(), |offset| index + offset);
        if run_end > index {
            let width = lines[index..run_end]
                .iter()
                .zip(&indents[index..run_end])
                .filter_map(|(line, indent)| match line {
                    Line::Code(CodeLine {
                        content: Content::Attribute { name, .. },
                        ..
                    }) => Some(indent + name.chars().count()),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            for (line, &indent) in lines[index..run_end].iter().zip(&indents[index..run_end]) {
                emit_line(line, indent, width, out);
            }
            index = run_end;
        } else {
            emit_line(&lines[index], indents[index], 0, out);
            index += 1;
        }
    }
}

fn is_attribute(line: &Line<'_>) -> bool {
    matches!(
        line,
        Line::Code(CodeLine {
            content: Content::Attribute { .. },
            ..
        })
    )
}

fn emit_line(line: &Line<'_>, indent: usize, width: usize, out: &mut String) {
    let Line::Code(code) = line else {
        out.push('\n');
        return;
    };
    push_spaces(out, indent);
    match code.content {
        Content::Plain(text) => out.push_str(text),
        Content::Attribute { name, value } => {
            out.push_str(name);
            push_spaces(out, width + 1 - indent - name.chars().count());
            out.push('=');
            if !value.is_empty() {
                out.push(' ');
                out.push_str(value);
            }
        }
    }
    out.push('\n');
    for body_line in &code.heredoc {
        out.push_str(body_line);
        out.push('\n');
    }
}

fn push_spaces(out: &mut String, mut count: usize) {
    const SPACES: &str = "                                                                ";
    while count > 0 {
        let chunk = count.min(SPACES.len());
        out.push_str(&SPACES[..chunk]);
        count -= chunk;
    }
}

/// hclwrite's indent stack: a line that opens brackets indents what follows by
/// one level, however many brackets it opened.
fn indentation(lines: &[Line<'_>]) -> Vec<usize> {
    let mut stack: Vec<i32> = Vec::new();
    lines
        .iter()
        .map(|line| {
            let Line::Code(code) = line else { return 0 };
            let net = code.net_brackets;
            if net > 0 {
                let indent = 2 * stack.len();
                stack.push(net);
                return indent;
            }
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = stack.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    stack.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            2 * stack.len()
        })
        .collect()
}

/// The body and closing line of the heredoc `<<MARKER` (`<<-MARKER` when
/// `indented`) opened on line `line_number`, taken from `rest`.
fn heredoc_body<'a>(
    rest: &mut impl Iterator<Item = (usize, &'a str)>,
    marker: &str,
    indented: bool,
    line_number: usize,
) -> Result<Vec<&'a str>, String> {
    let mut body = Vec::new();
    for (_, body_line) in rest {
        body.push(body_line);
        // Terraform ends a heredoc at any line that is the marker between
        // blanks; other HCL readers (hcl-rs) only at the marker as written,
        // so they would read what follows as text. No generated file may
        // hold such a line.
        if body_line.trim() == marker {
            let exact = if indented {
                body_line.trim_start()
            } else {
                body_line
            };
            if exact != marker {
                return Err(format!(
                    "line {line_number}: heredoc <<{marker} ends at a line with blanks around its marker, where HCL readers disagree about its end; put the marker alone on its line{}",
                    if indented {
                        ""
                    } else {
                        " at its start, or open it with <<-"
                    }
                ));
            }
            return Ok(body);
        }
    }
    Err(format!(
        "line {line_number}: heredoc <<{marker} is never closed"
    ))
}

#[derive(Debug, Default)]
struct LineScan<'a> {
    net_brackets: i32,
    assign_at: Option<usize>,
    heredoc_marker: Option<&'a str>,
    /// `<<-MARKER`: the closing marker may be indented.
    heredoc_indented: bool,
    /// A quoted string or interpolation is still open at the end of the line.
    unterminated: bool,
}

/// Nesting of strings and interpolations a line may hold; deeper is refused.
const MAX_NESTING: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Code,
    /// Inside a quoted string.
    Quoted,
}

/// Scans one trimmed line the way hclwrite's tokens see it: brackets outside
/// string literals and comments, template interpolations as brackets, and the
/// first `=` that starts a complete one-line value.
fn scan_line(text: &str) -> LineScan<'_> {
    let bytes = text.as_bytes();
    let mut scan = LineScan::default();
    // A stack of modes without allocating: strings inside interpolations
    // inside strings are rare and shallow. Each open interpolation
    // remembers the `{` depth it started at.
    let mut modes = [Mode::Code; MAX_NESTING];
    let mut mode_depth = 0usize;
    let mut interp_braces = [0i32; MAX_NESTING];
    let mut interp_depth = 0usize;
    let mut braces = 0i32;
    let mut first_equals: Option<(usize, i32)> = None;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let next = bytes.get(i + 1).copied();
        match modes[mode_depth] {
            Mode::Quoted => match byte {
                b'\\' => i += 1,
                b'"' => mode_depth -= 1,
                b'$' | b'%' if next == Some(byte) && bytes.get(i + 2) == Some(&b'{') => i += 2,
                b'$' | b'%' if next == Some(b'{') => {
                    if mode_depth + 1 >= MAX_NESTING {
                        scan.unterminated = true;
                        return scan;
                    }
                    scan.net_brackets += 1;
                    interp_braces[interp_depth] = braces;
                    interp_depth += 1;
                    mode_depth += 1;
                    modes[mode_depth] = Mode::Code;
                    i += 1;
                }
                _ => {}
            },
            Mode::Code => match byte {
                b'"' => {
                    if mode_depth + 1 >= MAX_NESTING {
                        scan.unterminated = true;
                        return scan;
                    }
                    mode_depth += 1;
                    modes[mode_depth] = Mode::Quoted;
                }
                b'#' => break,
                b'/' if next == Some(b'/') => break,
                b'{' | b'[' | b'(' => {
                    if byte == b'{' {
                        braces += 1;
                    }
                    scan.net_brackets += 1;
                }
                b'}' if interp_depth > 0 && interp_braces[interp_depth - 1] == braces => {
                    interp_depth -= 1;
                    mode_depth -= 1;
                    scan.net_brackets -= 1;
                }
                b'}' | b']' | b')' => {
                    if byte == b'}' {
                        braces -= 1;
                    }
                    scan.net_brackets -= 1;
                }
                b'<' if next == Some(b'<') => {
                    let marker_start = if bytes.get(i + 2) == Some(&b'-') {
                        i + 3
                    } else {
                        i + 2
                    };
                    let marker = &text[marker_start..];
                    if !marker.is_empty()
                        && marker
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        scan.heredoc_marker = Some(marker);
                        scan.heredoc_indented = marker_start == i + 3;
                        break;
                    }
                    i += 1;
                }
                b'=' => {
                    let previous = i.checked_sub(1).map(|p| bytes[p]);
                    let is_operator = matches!(previous, Some(b'=' | b'!' | b'<' | b'>'))
                        || matches!(next, Some(b'=' | b'>'));
                    if is_operator {
                        i += 1;
                    } else if first_equals.is_none() && i > 0 {
                        first_equals = Some((i, scan.net_brackets));
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    scan.unterminated = mode_depth > 0;
    // Only a value that closes on this line makes the line an attribute.
    scan.assign_at = first_equals
        .filter(|&(_, depth_before)| scan.net_brackets == depth_before)
        .map(|(at, _)| at);
    scan
}

#[cfg(test)]
mod tests {
    fn format(source: &str) -> String {
        super::format(source).expect("well-formed")
    }

    #[test]
    fn aligns_runs_of_single_line_attributes() {
        let input = "resource \"a\" \"b\" {\nname = \"x\"\nnamespace = \"y\"\n}\n";
        assert_eq!(
            format(input),
            "resource \"a\" \"b\" {\n  name      = \"x\"\n  namespace = \"y\"\n}\n"
        );
    }

    #[test]
    fn multi_line_values_and_blank_lines_end_a_run() {
        let input = "x {\na = 1\nlong_name = {\nk = \"v\"\n}\nb = 2\n\nccc = 3\n}\n";
        let expected =
            "x {\n  a = 1\n  long_name = {\n    k = \"v\"\n  }\n  b = 2\n\n  ccc = 3\n}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn heredoc_bodies_are_verbatim_and_part_of_their_attribute() {
        let input = "r {\nname = \"n\"\npolicy = <<-EOT\n    path \"a\" {\n    }\n  EOT\nnamespace = 1\n}\n";
        let expected = "r {\n  name      = \"n\"\n  policy    = <<-EOT\n    path \"a\" {\n    }\n  EOT\n  namespace = 1\n}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_indent() {
        let input = "a = \"{[(\"\n# {\nb = \"${x[0]}\"\n";
        assert_eq!(format(input), "a = \"{[(\"\n# {\nb = \"${x[0]}\"\n");
    }

    #[test]
    fn one_level_per_opening_line() {
        let input = "p = jsonencode({\nk = [\n1,\n]\n})\n";
        assert_eq!(
            format(input),
            "p = jsonencode({\n  k = [\n    1,\n  ]\n})\n"
        );
    }

    #[test]
    fn blank_lines_are_collapsed_and_trimmed_at_block_edges() {
        let input = "\n\na {\n\n  b = 1\n\n\n  c = 2\n\n}\n\n\nd {}\n\n";
        assert_eq!(format(input), "a {\n  b = 1\n\n  c = 2\n}\n\nd {}\n");
    }

    #[test]
    fn comparison_operators_are_not_assignments() {
        let input = "a = b == c\nlonger = 1\n";
        assert_eq!(format(input), "a      = b == c\nlonger = 1\n");
    }

    #[test]
    fn malformed_structure_is_reported_with_its_line() {
        for (source, reason) in [
            ("a {\nb = \"x\n}\n", "line 2: a string"),
            ("a {\nb = 1\n", "opened but never closed"),
            ("a = 1\n}\n", "line 2: closes a bracket"),
            (
                "p = <<-EOT\nbody\n",
                "line 1: heredoc <<EOT is never closed",
            ),
            ("a = \"${b\"\n", "line 1: a string or interpolation"),
            (
                "x = <<EOT\n  EOT\ny = 1\nz = <<EOT\nEOT\n",
                "line 1: heredoc <<EOT ends at a line with blanks around its marker",
            ),
            (
                "x = <<-EOT\n  a\n  EOT \n",
                "line 1: heredoc <<EOT ends at a line with blanks around its marker",
            ),
        ] {
            let err = super::format(source).unwrap_err();
            assert!(err.contains(reason), "{source:?}: {err}");
        }
    }

    #[test]
    fn formatting_is_idempotent() {
        let input = "x {\na = 1\nbb = {\nc = [\"d\"]\n}\n}\n";
        let once = format(input);
        assert_eq!(format(&once), once);
    }
}
