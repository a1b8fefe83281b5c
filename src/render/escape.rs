//! Escaping untrusted text (benchmark ids, function names) for each output.

/// Characters that reorder or hide text (bidi controls, zero-width marks).
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// One character of untrusted text reduced to a single printable line.
fn printable(c: char) -> char {
    match c {
        '\n' | '\r' | '\t' => ' ',
        c if c.is_control() || is_invisible_or_bidi(c) => '\u{FFFD}',
        c => c,
    }
}

/// Text safe inside Markdown (a table cell, a list item, a heading) on
/// GitHub: no HTML, no links, no emphasis, no table breaks, no line breaks,
/// no @mentions. Escapes are CommonMark backslashes, and only where a
/// character could start markup, so the file stays readable as plain text
/// (`report.md` downloaded from an artifact): `shop::find_duplicate_skus`
/// needs none.
pub fn markdown_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(printable).collect();
    let mut out = String::with_capacity(text.len());
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1);
        let escape = match c {
            '\\' | '`' | '*' | '~' | '[' | ']' | '<' | '|' | '#' | '$' => true,
            // Inside a word `_` never emphasises (CommonMark's flanking rules).
            '_' => !(word(before) && word(Some(i + 1))),
            // Only where it could begin an entity or a block quote.
            '&' => chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphanumeric() || *n == '#'),
            '>' => i == 0,
            // GFM's autolinks: `scheme://…` and `www.…`.
            ':' => chars.get(i + 1..i + 3) == Some(&['/', '/']),
            '.' => i >= 3 && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w')),
            _ => false,
        };
        if c == '@' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) {
            // GitHub links mentions and e-mail addresses after rendering, so
            // a backslash cannot stop them; an HTML comment splits the text.
            out.push_str("@<!-- -->");
            continue;
        }
        if c == '#' && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            // `#12` and `owner/repo#12` link an issue after rendering, and
            // GitHub then lists a cross-reference on it: split likewise.
            out.push_str("#<!-- -->");
            continue;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// flamegate's own sentence as Markdown: its code spans (`` `name` ``) stay
/// code spans, with what stands inside them (often an untrusted id or
/// path) fenced by `markdown_code`; the rest is escaped as text. Whatever
/// the text holds, each piece comes out as inert text or one code span; an
/// untrusted backtick can only move where a span ends, never let markup out.
pub fn markdown_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        out.push_str(&markdown_text(&rest[..open]));
        let inside = &rest[open + 1..open + 1 + len];
        if inside.is_empty() {
            out.push_str(&markdown_text("``"));
        } else {
            out.push_str(&markdown_code(inside, false));
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(&markdown_text(rest));
    out
}

/// Untrusted text as a Markdown code span (ids, function names, file
/// names): read literally by every renderer, nothing to unescape by eye.
/// `in_table` escapes `|`, which GFM tables split cells on even inside code.
pub fn markdown_code(text: &str, in_table: bool) -> String {
    let text: String = text.chars().map(printable).collect();
    // GFM renderers disagree on a backslash before a pipe inside a table's
    // code span (cmark-gfm drops one backslash, comrak none): plain text then.
    if text.trim().is_empty() || (in_table && text.contains("\\|")) {
        return markdown_text(&text);
    }
    let text = if in_table {
        text.replace('|', "\\|")
    } else {
        text
    };
    // A fence longer than any run of backticks inside; padded when the text
    // starts or ends with one (or with spaces CommonMark would strip).
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text safe on a terminal: no escape sequences, no line breaks, no bidi tricks.
pub fn terminal_text(text: &str) -> String {
    text.chars().map(printable).collect()
}

/// Text safe inside HTML or SVG, as element content or a double-quoted
/// attribute value: one printable line, with `& < > " ' /` as entities.
pub fn html_text(text: &str) -> String {
    html_escape::encode_safe(&terminal_text(text)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_keeps_its_code_spans_and_escapes_the_rest() {
        assert_eq!(
            markdown_prose("is `layout`: set `fail_on_layout = true` under `[thresholds]` *now*"),
            "is `layout`: set `fail_on_layout = true` under `[thresholds]` \\*now\\*"
        );
        // An untrusted id with a backtick, markup and a mention inside a span.
        assert_eq!(
            markdown_prose("`a`b<img src=x>@admin`: grew"),
            "`a`b\\<img src=x>@<!-- -->admin\\`: grew"
        );
        assert_eq!(
            markdown_prose("no spans [here](x)"),
            "no spans \\[here\\](x)"
        );
        assert_eq!(markdown_prose("one ` alone"), "one \\` alone");
    }

    #[test]
    fn issue_references_are_split_like_mentions() {
        assert_eq!(
            markdown_text("see owner/repo#12 and #3"),
            "see owner/repo#<!-- -->12 and #<!-- -->3"
        );
        assert_eq!(markdown_text("# heading"), "\\# heading");
    }

    #[test]
    fn terminal_drops_escape_sequences() {
        assert_eq!(terminal_text("a\u{1b}[31mb\nc"), "a\u{FFFD}[31mb c");
    }
}
