//! Decode a pprof protobuf profile into folded stacks.

use std::collections::HashMap;
use std::path::Path;

use pprof::protos::{Function, Line, Location, Message, Profile, Sample};

use crate::error::{Error, Result};
use crate::record::FoldedStacks;

/// Frames at or above the benchmark's body: criterion's harness and the
/// process start-up. The body is what criterion's routine calls.
const HARNESS_PREFIX: &str = "criterion::";
/// Frames of the sampler itself that can sit at the leaf.
const SAMPLER_PREFIXES: [&str; 3] = ["pprof::", "backtrace::", "__restore_rt"];

/// std's frame right above a program's own `main`.
const PROGRAM_START: &str = "std::sys::backtrace::__rust_begin_short_backtrace";

/// What a profile sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampled {
    /// A criterion benchmark's body (`flamegate_hook::criterion()`).
    Benchmark,
    /// A whole program, from its `main` (`flamegate_sampler::profile_command()`).
    Program,
}

/// Read and fold `path` (a `profile.pb`) of what `sampled` says.
pub fn fold_file(path: &Path, sampled: Sampled) -> Result<FoldedStacks> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let body = match sampled {
        Sampled::Benchmark => benchmark_body,
        Sampled::Program => program_body,
    };
    fold_with(&bytes, body).map_err(|problem| Error::Profile {
        path: path.to_path_buf(),
        problem,
    })
}

/// Fold a pprof protobuf: one line per distinct stack (root first), its
/// sample count, with names cleaned and harness frames removed. Samples
/// outside any benchmark body (criterion's own bookkeeping) are dropped.
pub fn fold(bytes: &[u8]) -> std::result::Result<FoldedStacks, String> {
    fold_with(bytes, benchmark_body)
}

/// `fold`, keeping of each stack what `body` takes of it (root first).
fn fold_with(
    bytes: &[u8],
    body: for<'a> fn(&'a [&'a str]) -> Option<&'a [&'a str]>,
) -> std::result::Result<FoldedStacks, String> {
    let profile = Profile::decode(bytes).map_err(|e| format!("not a pprof protobuf: {e}"))?;
    let string = |index: i64| -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|i| profile.string_table.get(i))
            .map_or("?", String::as_str)
    };
    let functions: HashMap<u64, &str> = profile
        .function
        .iter()
        .map(|f| (f.id, string(f.name)))
        .collect();
    // A location's lines run from the inlined callee to its caller.
    let locations: HashMap<u64, Vec<String>> = profile
        .location
        .iter()
        .map(|l| {
            let names = l
                .line
                .iter()
                .map(|line| clean_name(functions.get(&line.function_id).copied().unwrap_or("?")))
                .collect();
            (l.id, names)
        })
        .collect();
    let mut folded = FoldedStacks::default();
    for sample in &profile.sample {
        let count = sample.value.first().copied().unwrap_or(0);
        let Ok(count) = u64::try_from(count) else {
            continue;
        };
        if count == 0 {
            continue;
        }
        // location_id[0] is the leaf; build the stack root first.
        let mut frames: Vec<&str> = Vec::new();
        for id in sample.location_id.iter().rev() {
            if let Some(names) = locations.get(id) {
                frames.extend(names.iter().rev().map(String::as_str));
            }
        }
        if let Some(body) = body(&frames) {
            folded.add(body, count);
        }
    }
    Ok(folded)
}

/// Encode stacks (frame names root first, sample count) as a pprof protobuf
/// profile, each below a criterion routine frame: the inverse of [`fold`],
/// for building profiles in tests and benchmarks.
pub fn encode_as_pprof(stacks: &[(Vec<String>, u64)]) -> Vec<u8> {
    let mut strings = vec![String::new()];
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut id_of = |name: &str, strings: &mut Vec<String>| -> u64 {
        *ids.entry(name.to_string()).or_insert_with(|| {
            strings.push(name.to_string());
            (strings.len() - 1) as u64
        })
    };
    let root = id_of("criterion::bencher::Bencher::iter", &mut strings);
    let mut sample = Vec::new();
    for (frames, count) in stacks {
        // Leaf first, as pprof stores a stack.
        let mut location_id: Vec<u64> = frames
            .iter()
            .rev()
            .map(|f| id_of(f, &mut strings))
            .collect();
        location_id.push(root);
        sample.push(Sample {
            location_id,
            value: vec![*count as i64, 0],
            ..Sample::default()
        });
    }
    // One function and one location per name, sharing its string index as id.
    let function: Vec<Function> = (1..strings.len() as u64)
        .map(|id| Function {
            id,
            name: id as i64,
            ..Function::default()
        })
        .collect();
    let location = function
        .iter()
        .map(|f| Location {
            id: f.id,
            line: vec![Line {
                function_id: f.id,
                ..Line::default()
            }],
            ..Location::default()
        })
        .collect();
    let profile = Profile {
        sample,
        location,
        function,
        string_table: strings,
        ..Profile::default()
    };
    let mut bytes = Vec::new();
    profile
        .encode(&mut bytes)
        .expect("encoding into a Vec cannot fail");
    bytes
}

/// The frames below criterion's routine, without sampler frames at the leaf.
fn benchmark_body<'a>(frames: &'a [&'a str]) -> Option<&'a [&'a str]> {
    let harness_end = frames.iter().rposition(|f| f.starts_with(HARNESS_PREFIX))?;
    without_sampler(&frames[harness_end + 1..])
}

/// A program's stack from its `main` down (all of it where std's start-up
/// frame is not in it), without the sampler's own frames.
fn program_body<'a>(frames: &'a [&'a str]) -> Option<&'a [&'a str]> {
    let start = frames
        .iter()
        .rposition(|f| *f == PROGRAM_START)
        .map_or(0, |at| at + 1);
    without_sampler(&frames[start..])
}

/// `body` without the sampler's frames at its leaf; none when that leaves
/// nothing.
fn without_sampler<'a>(mut body: &'a [&'a str]) -> Option<&'a [&'a str]> {
    while let Some(leaf) = body.last() {
        if SAMPLER_PREFIXES.iter().any(|p| leaf.starts_with(p)) {
            body = &body[..body.len() - 1];
        } else {
            break;
        }
    }
    (!body.is_empty()).then_some(body)
}

/// A demangled name without its `::h0123456789abcdef` hash; `;` (the folded
/// format's separator, which appears in array types) becomes `,`.
pub fn clean_name(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(at)
            if name.len() - at == 19 && name[at + 3..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            &name[..at]
        }
        _ => name,
    };
    name.replace(';', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_hash_and_separators() {
        assert_eq!(
            clean_name("shop::find_duplicate_skus::h0123456789abcdef"),
            "shop::find_duplicate_skus"
        );
        assert_eq!(clean_name("<[u8; 4] as Foo>::bar"), "<[u8, 4] as Foo>::bar");
        assert_eq!(clean_name("a::h12"), "a::h12");
    }

    #[test]
    fn the_body_starts_below_criterion_and_ends_above_the_sampler() {
        let frames = [
            "main",
            "criterion::Bencher::iter",
            "bench::{{closure}}",
            "shop::work",
            "pprof::profiler::perf_signal_handler",
        ];
        assert_eq!(benchmark_body(&frames), Some(&frames[2..4]));
        assert_eq!(benchmark_body(&["main", "other"]), None);
    }

    #[test]
    fn a_programs_stack_starts_at_its_own_main() {
        let frames = [
            "_start",
            "main",
            "std::rt::lang_start_internal",
            PROGRAM_START,
            "tally::main",
            "tally::stop_words",
            "__restore_rt",
            "pprof::profiler::perf_signal_handler",
        ];
        assert_eq!(program_body(&frames), Some(&frames[4..6]));
        // No std start-up frame (a stack cut short): all of it.
        assert_eq!(
            program_body(&["worker", "tally::count"]),
            Some(&["worker", "tally::count"][..])
        );
        assert_eq!(program_body(&[PROGRAM_START, "pprof::x"]), None);
    }
}
