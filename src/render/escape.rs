//! Escaping untrusted text (benchmark ids, function names) for each output.

/// Characters that reorder or hide text (bidi controls, zero-width marks).
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Text safe inside Markdown (a table cell or a heading) on GitHub: no HTML,
/// no links, no emphasis, no table breaks, no line breaks, no @mentions.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '*' | '_' | '~' | '\\' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // An HTML comment between `@` and the name stops the mention.
            '@' => out.push_str("@<!-- -->"),
            ':' => out.push_str("&#58;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || is_invisible_or_bidi(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text safe on a terminal: no escape sequences, no line breaks, no bidi tricks.
pub fn terminal_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() || is_invisible_or_bidi(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_neutralises_hostile_names() {
        let hostile = "@org/team [x](http://evil) <img src=x onerror=alert(1)> |a|b| --> `x`\n## PASS \u{202E}";
        // The mention breaker is the one comment we write ourselves.
        let escaped = markdown_text(hostile).replace("@<!-- -->", "@ ");
        for bad in ["<img", "](", "|a", "-->", "`x`", "\n", "@org", "\u{202E}"] {
            assert!(!escaped.contains(bad), "{bad:?} survived in {escaped}");
        }
    }

    #[test]
    fn terminal_drops_escape_sequences() {
        assert_eq!(terminal_text("a\u{1b}[31mb\nc"), "a\u{FFFD}[31mb c");
    }
}
