//! What a shard record says about its split (data; the split itself is
//! made in `collect::shard`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BenchId;

/// `K/N`: this job runs shard K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

/// More shards than this is a typo, not a matrix.
pub const MAX_SHARDS: usize = 256;

impl ShardSpec {
    pub fn parse(text: &str) -> std::result::Result<ShardSpec, String> {
        let bad = || {
            format!("`{text}` is not a shard: write K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 2/4")
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a split was made, as recorded in each shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitMethod {
    /// Longest first by the baseline's measured durations.
    Durations,
    /// A stable hash of the id (no durations known).
    IdHash,
    /// Sorted ids dealt out in turn (paired runs).
    EqualCounts,
}

impl SplitMethod {
    /// How the split was made, for progress lines and the README.
    pub fn describe(self) -> &'static str {
        match self {
            SplitMethod::Durations => "split by the baseline's measured durations",
            SplitMethod::IdHash => "split by id hash: no durations in the baseline",
            SplitMethod::EqualCounts => {
                "split into equal counts: paired rounds take about the same time per benchmark"
            }
        }
    }
}

/// What a shard's record says about the split, so a merge can check that
/// the shards belong together and none is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub spec: ShardSpec,
    pub suite: String,
    /// The whole suite's split: benchmark id → shard (1-based). The same in
    /// every shard of one matrix.
    pub assignment: BTreeMap<BenchId, usize>,
    /// How the split was made.
    pub split: SplitMethod,
}

impl ShardInfo {
    /// The ids this shard runs.
    pub fn ids(&self) -> impl Iterator<Item = &BenchId> {
        self.assignment
            .iter()
            .filter(move |(_, shard)| **shard == self.spec.index)
            .map(|(id, _)| id)
    }
}
