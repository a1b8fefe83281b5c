//! Flamegraph and differential flamegraph SVGs (inferno) from folded stacks.

use std::io::Cursor;

use crate::record::FoldedStacks;

/// A flamegraph of one profile.
pub fn flamegraph_svg(title: &str, stacks: &FoldedStacks) -> std::io::Result<Vec<u8>> {
    svg_from_folded(title, &stacks.to_folded_text())
}

/// A differential flamegraph, base → head: frame widths from the head,
/// red where a function's share grew, blue where it shrank. The base is
/// normalised to the head's sample count, so runs of different length compare.
pub fn differential_svg(
    title: &str,
    base: &FoldedStacks,
    head: &FoldedStacks,
) -> std::io::Result<Vec<u8>> {
    svg_from_folded(title, &differential_folded(base, head)?)
}

/// The differential folded text (`stack base_count head_count` lines), the
/// base normalised to the head's total.
pub fn differential_folded(base: &FoldedStacks, head: &FoldedStacks) -> std::io::Result<String> {
    let mut diff = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options {
            normalize: true,
            strip_hex: true,
        },
        Cursor::new(base.to_folded_text()),
        Cursor::new(head.to_folded_text()),
        &mut diff,
    )?;
    // inferno emits stacks in hash-map order; sort for stable output.
    let text = String::from_utf8_lossy(&diff);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

fn svg_from_folded(title: &str, folded: &str) -> std::io::Result<Vec<u8>> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = "samples".into();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)?;
    Ok(svg)
}
