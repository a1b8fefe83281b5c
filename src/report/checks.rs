//! What the exact counts said of a benchmark beside its time: instructions
//! (the paired check's `layout` evidence), allocations and peak memory.

use serde::{Deserialize, Serialize};

use crate::record::allocations::AllocationCount;

/// A timed benchmark's instructions per iteration on both sides (callgrind).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InstructionCheck {
    pub base: f64,
    pub head: f64,
    /// Relative change of the counts (0.05 = 5% more instructions).
    pub change: f64,
    /// Relative spread of repeated counts of the same code, the larger side
    /// (0 for deterministic code).
    pub jitter: f64,
    /// Relative change of callgrind's simulated cycle estimate, when its
    /// cache and branch simulation ran on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_cycles_change: Option<f64>,
    /// The declared input differs between the sides: both changes are per
    /// unit of input (the counts as measured).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_unit: bool,
    /// Paired: the two sides executed different machine code (fingerprints
    /// of the executed functions), so the same count is not the same
    /// instructions and the change is never `layout`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub code_changed: bool,
}

/// A benchmark's heap operations per iteration on both sides: the medians
/// of each side's repeated counts. Decided only by `compare::allocations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationCheck {
    pub base: AllocationCount,
    pub head: AllocationCount,
    /// How far a gated measure (`record::allocations::GATED`) may move
    /// before it counts as changed: three times the larger side's relative
    /// spread of repeated counts, the largest over the measures (0 for
    /// deterministic code, and with zero tolerance).
    pub tolerance: f64,
    /// The gated measures that grew beyond the tolerance, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grew: Vec<String>,
    /// The gated measures that shrank beyond it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shrank: Vec<String>,
}

/// A peak memory change smaller than this is not worth a line in the
/// human formats (the allocator's and the loader's pages move a run's peak
/// by a few KiB).
pub const PEAK_MEMORY_REPORTED: f64 = 0.02;

/// A command's peak resident memory on both sides: the medians of its
/// runs, in KiB. Decided only by `compare::peak_memory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakMemoryCheck {
    pub base_kib: u64,
    pub head_kib: u64,
    /// head / base − 1.
    pub change: f64,
    /// The runs' own spread (the larger side's), below which a change is
    /// none.
    pub spread: f64,
    /// flamegate.toml's `[thresholds] peak_memory`: growth beyond it fails
    /// the gate; none, reported only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
}

impl PeakMemoryCheck {
    /// Grew beyond the gate's limit.
    pub fn fails(&self) -> bool {
        self.limit.is_some_and(|limit| self.change > limit)
    }

    /// Worth a line in the human formats: beyond its own spread, or failing.
    pub fn moved(&self) -> bool {
        self.fails() || self.change.abs() > self.spread.max(PEAK_MEMORY_REPORTED)
    }

    /// `peak memory 2,048 KiB → 6,144 KiB (+200.0%; the gate allows +10%)`.
    pub fn text(&self) -> String {
        let limit = match self.limit {
            Some(limit) => format!("; the gate allows {:+.0}%", 100.0 * limit),
            None => String::new(),
        };
        format!(
            "peak memory {} KiB → {} KiB ({:+.1}%{limit})",
            thousands(self.base_kib),
            thousands(self.head_kib),
            100.0 * self.change
        )
    }
}

impl AllocationCheck {
    /// Whether any gated measure moved beyond the tolerance.
    pub fn changed(&self) -> bool {
        !self.grew.is_empty() || !self.shrank.is_empty()
    }

    /// What both human formats print:
    /// `allocations per iteration 1 → 1,001; bytes 24 → 48,024; peak live bytes 24 → 48,024`,
    /// each measure that differs (all three when none does).
    pub fn text(&self) -> String {
        let (b, h) = (&self.base, &self.head);
        let measures = [
            ("allocations per iteration", b.allocations, h.allocations),
            ("reallocations", b.reallocations, h.reallocations),
            ("bytes", b.bytes, h.bytes),
            ("peak live bytes", b.peak_bytes, h.peak_bytes),
        ];
        let moved: Vec<String> = measures
            .iter()
            .filter(|(name, base, head)| base != head || *name == "allocations per iteration")
            .map(|(name, base, head)| format!("{name} {} → {}", thousands(*base), thousands(*head)))
            .collect();
        let mut text = moved.join("; ");
        if self.tolerance > 0.0 && self.tolerance.is_finite() {
            text.push_str(&format!(
                " (counts of the same code vary by up to {:.1}% here, so changes within {:.1}% count as none)",
                100.0 * self.tolerance / crate::record::instructions::JITTER_MULTIPLE,
                100.0 * self.tolerance
            ));
        } else if !self.tolerance.is_finite() {
            text.push_str(" (counts of the same code vary too much here to compare)");
        }
        text
    }
}

/// `48024` → `48,024`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl InstructionCheck {
    /// Both sides executed the same work: the counts differ by no more than
    /// their own jitter allows.
    pub fn same_instructions(&self) -> bool {
        crate::record::instructions::same_work(self.change.ln_1p(), self.jitter)
    }
}
