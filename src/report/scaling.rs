//! How each benchmark group scales with its input size: the fitted power
//! law on each side, and whether the head scales worse.

use serde::{Deserialize, Serialize};

use crate::record::BenchId;
use crate::record::acceptance::Accepted;

/// A common complexity class, named only when one class fits the measured
/// exponent and no other does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Complexity {
    Constant,
    Logarithmic,
    Linear,
    Linearithmic,
    Quadratic,
    Cubic,
}

impl Complexity {
    pub const ALL: [Complexity; 6] = [
        Complexity::Constant,
        Complexity::Logarithmic,
        Complexity::Linear,
        Complexity::Linearithmic,
        Complexity::Quadratic,
        Complexity::Cubic,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Complexity::Constant => "O(1)",
            Complexity::Logarithmic => "O(log n)",
            Complexity::Linear => "O(n)",
            Complexity::Linearithmic => "O(n log n)",
            Complexity::Quadratic => "O(n²)",
            Complexity::Cubic => "O(n³)",
        }
    }

    /// The cost of size `n` up to a constant factor.
    pub fn cost(self, n: f64) -> f64 {
        match self {
            Complexity::Constant => 1.0,
            Complexity::Logarithmic => n.ln(),
            Complexity::Linear => n,
            Complexity::Linearithmic => n * n.ln(),
            Complexity::Quadratic => n * n,
            Complexity::Cubic => n * n * n,
        }
    }
}

/// One side's fit of `ln cost = a + exponent · ln size`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    pub exponent: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The one common class the exponent fits, if exactly one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Complexity>,
}

/// What a scaling comparison says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalingVerdict {
    /// The exponent grew: the interval of its change lies above zero and
    /// the change is at least `compare::scaling::NOTABLE`.
    ScalesWorse,
    ScalesBetter,
    /// No notable change of the exponent shown.
    Same,
    /// Too few sizes, too narrow a span, or sizes that differ between the
    /// sides: no claim (`Scaling::why` says which).
    NoClaim,
}

impl ScalingVerdict {
    pub fn label(self) -> &'static str {
        match self {
            ScalingVerdict::ScalesWorse => "scales worse",
            ScalingVerdict::ScalesBetter => "scales better",
            ScalingVerdict::Same => "same scaling",
            ScalingVerdict::NoClaim => "no claim",
        }
    }
}

/// One sized member of a scaling group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizedBench {
    pub id: BenchId,
    pub size: f64,
}

/// Both sides' cost at a size beyond the measured ones, if each side's
/// exponent holds there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub size: f64,
    pub base: f64,
    pub head: f64,
}

/// How one group of sized benchmarks grows with its size, base and head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// The benchmark ids without their size: `skus/find_duplicates`.
    pub group: String,
    /// What the size counts: `n` (the ids' number) or a declared
    /// throughput unit (`Elements`, `Bytes`).
    pub size_unit: String,
    /// Smallest size first.
    pub members: Vec<SizedBench>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PowerLaw>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<PowerLaw>,
    /// Head exponent minus base exponent, from the members' changes, with
    /// its interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ExponentChange>,
    pub verdict: ScalingVerdict,
    /// Fails the gate (`fail_on_scaling`).
    pub fails: bool,
    /// Would fail, but a commit of the pull request accepts it
    /// (`Flamegate-Accept-Scaling`): who and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<Projection>,
    /// Why there is no claim, or what limits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The change of a group's exponent, head minus base.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentChange {
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}
