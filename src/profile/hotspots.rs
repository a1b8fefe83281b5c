//! Hotspot notes: which functions grew between two profiles.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::record::FoldedStacks;

/// How many functions a note lists.
pub const TOP_FUNCTIONS: usize = 5;
/// A share that grew by less than this (5 percentage points) is not named
/// as where the time went.
pub const NOTABLE_SHARE_SHIFT: f64 = 0.05;

/// One function's share of the samples, base and head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionShare {
    pub name: String,
    /// Share of samples where it is the leaf (its own code), 0..1.
    pub self_base: f64,
    pub self_head: f64,
    /// Share of samples where it is anywhere on the stack, 0..1.
    pub inclusive_base: f64,
    pub inclusive_head: f64,
}

/// Where a benchmark's time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hotspots {
    pub base_samples: u64,
    pub head_samples: u64,
    /// Largest growth in self share first (or, without a base profile, the
    /// head's largest self shares).
    pub by_self: Vec<FunctionShare>,
    /// Largest growth in inclusive share first.
    pub by_inclusive: Vec<FunctionShare>,
    /// Functions in the head's profile that the base's did not have, largest first.
    pub new_functions: Vec<String>,
    /// One line for people.
    pub summary: String,
    /// From exact per-function instruction counts (callgrind), not from
    /// profile samples: the shares are of instructions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub instructions: bool,
}

#[derive(Default)]
struct Shares {
    total: u64,
    self_counts: BTreeMap<String, u64>,
    /// Frames outside the standard library.
    inclusive_counts: BTreeMap<String, u64>,
    /// Every frame, the standard library's too (for "new in the profile").
    all_inclusive_counts: BTreeMap<String, u64>,
}

/// Whether a frame is the standard library's (`core::`, `std::`, `alloc::`,
/// or a method on a primitive such as `<u64>::unchecked_add` or
/// `<[T]>::contains`). Inlined into user code, such frames are where the CPU
/// was, not what the user wrote: notes charge their time to the caller.
pub fn is_std_frame(name: &str) -> bool {
    const LIBRARIES: [&str; 3] = ["core::", "std::", "alloc::"];
    const PRIMITIVES: [&str; 17] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "str",
    ];
    if LIBRARIES.iter().any(|l| name.starts_with(l)) {
        return true;
    }
    let Some(qualified) = name.strip_prefix('<') else {
        return false;
    };
    let self_type = qualified.split([' ', '>']).next().unwrap_or_default();
    LIBRARIES.iter().any(|l| self_type.starts_with(l))
        || PRIMITIVES.contains(&self_type)
        || self_type.starts_with(['[', '&', '*', '('])
}

/// The crate a function's symbol names it in: the first path segment, or
/// the implementing type's for `<Type as Trait>::method`. None for methods
/// on primitives, slices and references, which name no crate.
pub fn crate_of(name: &str) -> Option<&str> {
    let path = name.strip_prefix('<').unwrap_or(name);
    let first = path.split("::").next()?;
    let valid = !first.is_empty()
        && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !first.starts_with(|c: char| c.is_ascii_digit());
    (valid && path.len() > first.len()).then_some(first)
}

fn shares(stacks: &FoldedStacks) -> Shares {
    let mut shares = Shares::default();
    for (stack, &count) in stacks.iter() {
        shares.total += count;
        let frames: Vec<&str> = stack.split(';').collect();
        // Self time goes to the innermost frame outside the standard library.
        let owner = frames
            .iter()
            .rev()
            .find(|f| !is_std_frame(f))
            .or(frames.last());
        if let Some(owner) = owner {
            *shares.self_counts.entry((*owner).to_string()).or_default() += count;
        }
        let distinct: BTreeSet<&str> = frames.into_iter().collect();
        for frame in distinct {
            *shares
                .all_inclusive_counts
                .entry(frame.to_string())
                .or_default() += count;
            if !is_std_frame(frame) {
                *shares
                    .inclusive_counts
                    .entry(frame.to_string())
                    .or_default() += count;
            }
        }
    }
    shares
}

fn share(counts: &BTreeMap<String, u64>, name: &str, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    counts.get(name).copied().unwrap_or(0) as f64 / total as f64
}

/// Compare two profiles (or describe the head alone).
pub fn hotspots(base: Option<&FoldedStacks>, head: &FoldedStacks) -> Hotspots {
    let empty = FoldedStacks::default();
    let has_base = base.is_some_and(|b| b.total() > 0);
    let base_shares = shares(base.unwrap_or(&empty));
    let head_shares = shares(head);
    let names: BTreeSet<&String> = head_shares
        .inclusive_counts
        .keys()
        .chain(base_shares.inclusive_counts.keys())
        .collect();
    let all: Vec<FunctionShare> = names
        .into_iter()
        .map(|name| FunctionShare {
            name: name.clone(),
            self_base: share(&base_shares.self_counts, name, base_shares.total),
            self_head: share(&head_shares.self_counts, name, head_shares.total),
            inclusive_base: share(&base_shares.inclusive_counts, name, base_shares.total),
            inclusive_head: share(&head_shares.inclusive_counts, name, head_shares.total),
        })
        .collect();
    let top = |key: &dyn Fn(&FunctionShare) -> f64| -> Vec<FunctionShare> {
        let mut ranked: Vec<&FunctionShare> = all.iter().filter(|f| key(f) > 0.0).collect();
        ranked.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.name.cmp(&b.name)));
        ranked.into_iter().take(TOP_FUNCTIONS).cloned().collect()
    };
    let (by_self, by_inclusive) = if has_base {
        (
            top(&|f| f.self_head - f.self_base),
            top(&|f| f.inclusive_head - f.inclusive_base),
        )
    } else {
        (top(&|f| f.self_head), top(&|f| f.inclusive_head))
    };
    let mut new_functions: Vec<(&String, u64)> = if has_base {
        head_shares
            .all_inclusive_counts
            .iter()
            .filter(|(name, _)| !base_shares.all_inclusive_counts.contains_key(*name))
            .map(|(name, count)| (name, *count))
            .collect()
    } else {
        Vec::new()
    };
    new_functions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let new_functions: Vec<String> = new_functions
        .into_iter()
        .take(TOP_FUNCTIONS)
        .map(|(name, _)| name.clone())
        .collect();
    let hottest = all.iter().max_by(|a, b| {
        a.self_head
            .total_cmp(&b.self_head)
            .then(b.name.cmp(&a.name))
    });
    let summary = match (by_self.first(), hottest) {
        (_, None) => "no samples in the benchmark's own code".to_string(),
        (Some(f), _) if has_base && f.self_head - f.self_base >= NOTABLE_SHARE_SHIFT => format!(
            "{} self {} → {} of samples",
            f.name,
            percent(f.self_base),
            percent(f.self_head)
        ),
        (_, Some(f)) if has_base => {
            let mut note = format!(
                "hottest {} self {} of samples; no function's share grew by {} points",
                f.name,
                percent(f.self_head),
                percent(NOTABLE_SHARE_SHIFT).trim_end_matches('%')
            );
            if let Some(first) = new_functions.first() {
                note.push_str(&format!("; new in the profile: {first}"));
            }
            note
        }
        (_, Some(f)) => format!(
            "{} self {} of samples (no base profile)",
            f.name,
            percent(f.self_head)
        ),
    };
    Hotspots {
        base_samples: base_shares.total,
        head_samples: head_shares.total,
        by_self,
        by_inclusive,
        new_functions,
        summary,
        instructions: false,
    }
}

/// An instruction count people read: `4.2M`, `830k`, `512`.
pub fn format_count(count: f64) -> String {
    let magnitude = count.abs();
    if magnitude >= 1e9 {
        format!("{:.2}G", count / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.2}M", count / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.1}k", count / 1e3)
    } else {
        format!("{count:.0}")
    }
}

/// Where the instructions went, exactly: per-function instruction counts of
/// one iteration (callgrind) for base and head. Functions ranked by how many
/// more instructions they execute themselves; criterion's `iter` wrapper,
/// which holds everything, is left out of the inclusive ranking.
pub fn exact_hotspots(
    base: Option<&BTreeMap<String, crate::record::instructions::FunctionCost>>,
    head: &BTreeMap<String, crate::record::instructions::FunctionCost>,
    base_total: u64,
    head_total: u64,
) -> Hotspots {
    let empty = BTreeMap::new();
    let base_functions = base.unwrap_or(&empty);
    let share = |count: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        }
    };
    let names: BTreeSet<&String> = head.keys().chain(base_functions.keys()).collect();
    let growth: Vec<(i128, i128, FunctionShare)> = names
        .into_iter()
        .map(|name| {
            let b = base_functions.get(name).copied().unwrap_or_default();
            let h = head.get(name).copied().unwrap_or_default();
            (
                i128::from(h.own) - i128::from(b.own),
                i128::from(h.inclusive) - i128::from(b.inclusive),
                FunctionShare {
                    name: name.clone(),
                    self_base: share(b.own, base_total),
                    self_head: share(h.own, head_total),
                    inclusive_base: share(b.inclusive, base_total),
                    inclusive_head: share(h.inclusive, head_total),
                },
            )
        })
        .collect();
    // Callers of the counted region (criterion's `iter`, its callers up to
    // `main`) hold all of it on both sides: they say nothing.
    let wrapper = |f: &FunctionShare| {
        f.name.starts_with("criterion::")
            || (f.inclusive_base >= 0.999 && f.inclusive_head >= 0.999)
    };
    let mut by_own: Vec<&(i128, i128, FunctionShare)> =
        growth.iter().filter(|(own, _, _)| *own > 0).collect();
    by_own.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.name.cmp(&b.2.name)));
    let mut by_inclusive: Vec<&(i128, i128, FunctionShare)> = growth
        .iter()
        .filter(|(_, inclusive, f)| *inclusive > 0 && !wrapper(f))
        .collect();
    by_inclusive.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.name.cmp(&b.2.name)));
    let new_functions: Vec<String> = if base.is_some() {
        let mut new: Vec<(&String, u64)> = head
            .iter()
            .filter(|(name, cost)| cost.inclusive > 0 && !base_functions.contains_key(*name))
            .map(|(name, cost)| (name, cost.inclusive))
            .collect();
        new.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        new.into_iter()
            .take(TOP_FUNCTIONS)
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        Vec::new()
    };
    let summary = match by_own.first() {
        Some((own, _, f)) => format!(
            "{} +{} instructions per iteration in its own code, {} → {} of the total",
            f.name,
            format_count(*own as f64),
            percent(f.self_base),
            percent(f.self_head)
        ),
        None => format!(
            "no function executes more instructions of its own ({} → {} per iteration in all)",
            format_count(base_total as f64),
            format_count(head_total as f64)
        ),
    };
    Hotspots {
        base_samples: base_total,
        head_samples: head_total,
        by_self: by_own
            .into_iter()
            .take(TOP_FUNCTIONS)
            .map(|(_, _, f)| f.clone())
            .collect(),
        by_inclusive: by_inclusive
            .into_iter()
            .take(TOP_FUNCTIONS)
            .map(|(_, _, f)| f.clone())
            .collect(),
        new_functions,
        summary,
        instructions: true,
    }
}

/// A share as a whole percentage: `71%`, `<1%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1%".into()
    } else {
        format!("{p:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacks(lines: &[(&str, u64)]) -> FoldedStacks {
        let mut s = FoldedStacks::default();
        for (stack, count) in lines {
            s.add(&stack.split(';').collect::<Vec<_>>(), *count);
        }
        s
    }

    #[test]
    fn the_function_that_grew_ranks_first() {
        let base = stacks(&[("bench;find;hash_insert", 90), ("bench;find;contains", 10)]);
        let head = stacks(&[
            ("bench;find;hash_insert", 10),
            ("bench;find;contains", 85),
            ("bench;find;new_fn", 5),
        ]);
        let h = hotspots(Some(&base), &head);
        assert_eq!(h.by_self[0].name, "contains");
        assert!(
            (h.by_self[0].self_base - 0.10).abs() < 1e-9
                && (h.by_self[0].self_head - 0.85).abs() < 1e-9
        );
        assert_eq!(h.new_functions, ["new_fn"]);
        assert_eq!(h.summary, "contains self 10% → 85% of samples");
    }

    #[test]
    fn an_even_slowdown_says_the_shape_did_not_change() {
        let base = stacks(&[("bench;work", 98), ("bench;other", 2)]);
        let head = stacks(&[("bench;work", 392), ("bench;other", 8)]);
        let h = hotspots(Some(&base), &head);
        assert_eq!(
            h.summary,
            "hottest work self 98% of samples; no function's share grew by 5 points"
        );
    }

    #[test]
    fn a_symbol_names_its_crate_or_none() {
        for (name, krate) in [
            ("memchr::memchr::fallback::memchr", Some("memchr")),
            (
                "<hashbrown::raw::RawTable<T> as core::ops::Drop>::drop",
                Some("hashbrown"),
            ),
            ("core::slice::<impl [T]>::contains", Some("core")),
            ("<[u64]>::contains", None),
            ("<u64>::unchecked_add", None),
            ("main", None),
            ("0x0000000000401000", None),
        ] {
            assert_eq!(crate_of(name), krate, "{name}");
        }
    }

    #[test]
    fn standard_library_frames_charge_their_caller() {
        for std in [
            "core::slice::<impl [T]>::contains",
            "<u64>::unchecked_add",
            "<[u64]>::contains",
            "<core::ops::range::Range<T> as Iterator>::next",
            "std::collections::hash::map::HashMap<K,V,S>::insert",
            "alloc::vec::Vec<T>::push",
        ] {
            assert!(is_std_frame(std), "{std}");
        }
        for own in [
            "shop::find_duplicate_skus",
            "<shop::Catalog as Clone>::clone",
            "sqlite3VdbeExec",
            "tiny::benches::{{closure}}",
        ] {
            assert!(!is_std_frame(own), "{own}");
        }
        let base = stacks(&[
            ("bench;find;<u64>::add", 10),
            ("bench;find;core::hash::Hash::hash", 90),
        ]);
        let head = stacks(&[
            ("bench;find;<[u64]>::contains", 95),
            ("bench;find;core::hash::Hash::hash", 5),
        ]);
        let h = hotspots(Some(&base), &head);
        assert_eq!(
            h.summary,
            "hottest find self 100% of samples; no function's share grew by 5 points; new in the profile: <[u64]>::contains"
        );
    }

    #[test]
    fn without_a_base_the_heads_top_self_time_is_shown() {
        let head = stacks(&[("bench;a", 30), ("bench;b", 70)]);
        let h = hotspots(None, &head);
        assert_eq!(h.by_self[0].name, "b");
        assert!(h.new_functions.is_empty());
        assert!(h.summary.contains("no base profile"));
    }
}
