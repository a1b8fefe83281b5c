//! How a sized group grows with its size, in words: the fitted power laws
//! of both sides and what the comparison made of them.

use super::{accepted_text, format_level};

/// A size as people write it: `4,000`, `1.5`.
pub fn format_size(size: f64) -> String {
    if size.fract() != 0.0 || size >= 1e15 {
        return format!("{size}");
    }
    let digits = format!("{size:.0}");
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// One side's scaling in words: its class, or the exponent as a power.
fn power_law_text(fit: Option<&crate::report::scaling::PowerLaw>) -> String {
    match fit {
        Some(fit) => match fit.class {
            Some(class) => class.label().to_string(),
            None => format!("O(n^{:.2})", fit.exponent),
        },
        None => "–".to_string(),
    }
}

/// A scaling group in words, after its name: sizes, verdict, both sides'
/// classes and exponents, the exponent's change and the projected cost.
pub fn scaling_text(
    mode: crate::report::Mode,
    scaling: &crate::report::scaling::Scaling,
) -> String {
    use crate::report::scaling::ScalingVerdict;
    let unit = match scaling.size_unit.as_str() {
        "n" => None,
        other => Some(crate::record::unit_word(other)),
    };
    let at = |size: f64| match unit {
        None => format!("n = {}", format_size(size)),
        Some(word) => format!("{} {word}s", format_size(size)),
    };
    let (first, last) = (
        scaling.members.first().map_or(0.0, |m| m.size),
        scaling.members.last().map_or(0.0, |m| m.size),
    );
    let sizes = match unit {
        None => format!("n = {} … {}", format_size(first), format_size(last)),
        Some(word) => format!("{} … {} {word}s", format_size(first), format_size(last)),
    };
    let mut text = format!(
        "({} sizes, {sizes}): {}",
        scaling.members.len(),
        scaling.verdict.label()
    );
    // No "-0.00" for a change that rounds to nothing.
    let signed = |x: f64| format!("{:+.2}", if x.abs() < 0.005 { 0.0 } else { x });
    if scaling.base.is_some() || scaling.head.is_some() {
        let exponent = |fit: Option<&crate::report::scaling::PowerLaw>| {
            fit.map_or("–".into(), |f| format!("{:.2}", f.exponent))
        };
        text.push_str(&format!(
            ": {} → {} (exponent {} → {}",
            power_law_text(scaling.base.as_ref()),
            power_law_text(scaling.head.as_ref()),
            exponent(scaling.base.as_ref()),
            exponent(scaling.head.as_ref()),
        ));
        if let Some(change) = &scaling.change {
            text.push_str(&format!(
                ", change {} [{}, {}]",
                signed(change.estimate),
                signed(change.ci_low),
                signed(change.ci_high)
            ));
        }
        text.push(')');
    }
    if matches!(
        scaling.verdict,
        ScalingVerdict::ScalesWorse | ScalingVerdict::ScalesBetter
    ) && let Some(p) = &scaling.projection
    {
        text.push_str(&format!(
            "; at {}: {} → {} if the exponents hold",
            at(p.size),
            format_level(mode, p.base),
            format_level(mode, p.head)
        ));
    }
    if let Some(why) = &scaling.why {
        let joint = if scaling.verdict == ScalingVerdict::NoClaim {
            ":"
        } else {
            ";"
        };
        text.push_str(&format!("{joint} {why}"));
    }
    if let Some(accepted) = &scaling.accepted {
        text.push_str(&format!("; {}", accepted_text(accepted)));
    }
    if scaling.fails {
        text.push_str("; fails the gate");
    } else if scaling.accepted.is_some() {
        text.push_str("; accepted, does not fail the gate");
    } else if scaling.verdict == ScalingVerdict::ScalesWorse {
        text.push_str("; does not fail the gate (it fails from an exponent grown by 0.5 or more with confidence, with `fail_on_scaling`)");
    }
    text
}
