//! History: a suite's benchmarks over the commits of its target branch.
//!
//! Takes the project directory and the suite; walks the branch's
//! first-parent line (git2) and reads every committed version of
//! `baselines/<suite>.json` (the file's history is the dataset: no server),
//! reduces each benchmark of each version to its median and a 95% interval,
//! and hands on a `History` with the level shifts `changes` found. Versions
//! that are damaged or of a foreign schema are skipped with a note.

pub mod changes;

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::record::note::Note;

use crate::baseline::{git::ProjectRepo, suite_file};
use crate::error::{Error, RecordSource, Result, short_sha};
use crate::progress::Progress;
use crate::record::{Machine, RECORD_SCHEMA, RunRecord, Throughput};
use crate::report::Report;
use crate::report::history::{
    BenchHistory, HISTORY_SCHEMA, HeadCommit, History, HistoryCommit, Point,
};

/// What to read.
pub struct Request<'a> {
    pub project_dir: &'a Path,
    pub suite: &'a str,
    /// The branch to walk (None: origin/main, main, origin/master, master).
    pub branch: Option<&'a str>,
    /// The newest this many versions of the baseline file.
    pub limit: usize,
    /// Only benchmarks whose id matches.
    pub filter: Option<&'a regex::Regex>,
    /// The practical threshold for level shifts (0.02 = 2%).
    pub min_change: f64,
    /// A pull request's report: its head becomes each plot's final point.
    pub head: Option<&'a Report>,
    /// A record not yet committed (`baseline update` just wrote it): the
    /// last version of the history.
    pub pending: Option<&'a RunRecord>,
}

/// Bound on the first-parent walk: far more commits than any useful plot.
const MAX_COMMITS_WALKED: usize = 200_000;

/// Read the history a request names.
pub fn read(request: &Request<'_>, progress: Progress) -> Result<History> {
    crate::record::check_suite_name(request.suite)?;
    let repo = ProjectRepo::open(request.project_dir)?;
    let (tip, branch) = repo.target_branch(request.branch)?;
    let path = repo.repo_path(&suite_file(request.suite));
    let baseline_dir = repo.repo_path(crate::baseline::BASELINE_DIR);
    let mut notes = Vec::new();

    let (versions, walked_to_root) = versions_of(&tip, &path, request.limit)?;
    if versions.is_empty() && request.pending.is_none() {
        return Err(Error::Usage(format!(
            "{path} was never committed on {branch}: record a baseline there first (`flamegate baseline update` on {branch}, then commit {path})"
        )));
    }
    if walked_to_root && repo.repo.is_shallow() {
        notes.push(Note::OlderVersionsMissing);
    }
    if versions.len() == request.limit {
        notes.push(Note::NewestVersionsOnly {
            limit: request.limit,
            path: path.clone(),
            branch: branch.clone(),
        });
    }
    progress.note(&format!(
        "reading {} version{} of {path} on {branch}",
        versions.len(),
        if versions.len() == 1 { "" } else { "s" }
    ));

    // Each thread opens its own handle (git2's repository is not shared)
    // and reads, inflates and parses its share of the versions, one at a
    // time: memory holds one version per thread.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let blobs: Vec<git2::Oid> = versions.iter().map(|(_, blob)| *blob).collect();
    let stored: Vec<String> = versions.iter().map(|(c, _)| c.to_string()).collect();
    let results = parse_all(repo.repo.path(), &blobs, &stored, &path, threads);
    let mut parsed: Vec<(HistoryCommit, Parsed)> = Vec::with_capacity(versions.len());
    let mut previous: Option<git2::Oid> = None;
    for ((stored_in, _), result) in versions.iter().zip(results) {
        let stored_commit = repo
            .repo
            .find_commit(*stored_in)
            .map_err(|e| Error::git("reading a commit of the baseline's history", e))?;
        match result {
            Ok(version) => {
                let measured =
                    measured_commit(&repo.repo, version.commit.as_deref(), &stored_commit);
                let mut commit = describe(&measured);
                commit.stored_in = stored_in.to_string();
                commit.commits_since_previous =
                    first_parent_count(&repo.repo, previous, measured.id(), &baseline_dir);
                previous = Some(measured.id());
                parsed.push((commit, version));
            }
            Err(problem) => notes.push(Note::VersionSkipped {
                stored_in: stored_in.to_string(),
                summary: String::from_utf8_lossy(stored_commit.summary_bytes().unwrap_or(b""))
                    .into_owned(),
                problem: problem.to_string(),
            }),
        }
    }
    if let Some(record) = request.pending {
        let measured = measured_commit(&repo.repo, record.commit.as_deref(), &tip);
        let mut commit = describe(&measured);
        commit.commits_since_previous =
            first_parent_count(&repo.repo, previous, measured.id(), &baseline_dir);
        parsed.push((commit, reduce(record)));
    }
    if parsed.is_empty() {
        return Err(Error::Usage(format!(
            "no readable version of {path} on {branch}: {}",
            notes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok(assemble(parsed, request, branch, notes))
}

/// The commits along `tip`'s first-parent line that changed `path`, with
/// the file's blob there, oldest first, at most `limit` (the newest); and
/// whether the walk reached a root.
fn versions_of(
    tip: &git2::Commit<'_>,
    path: &str,
    limit: usize,
) -> Result<(Vec<(git2::Oid, git2::Oid)>, bool)> {
    let blob_id = |commit: &git2::Commit<'_>| -> Option<git2::Oid> {
        let tree = commit.tree().ok()?;
        tree.get_path(Path::new(path)).ok().map(|entry| entry.id())
    };
    let mut versions = Vec::new();
    let mut commit = tip.clone();
    let mut current = blob_id(&commit);
    let mut reached_root = false;
    for _ in 0..MAX_COMMITS_WALKED {
        if versions.len() >= limit {
            break;
        }
        let parent = commit.parent(0).ok();
        let before = parent.as_ref().and_then(blob_id);
        if let Some(blob) = current.filter(|c| Some(*c) != before) {
            versions.push((commit.id(), blob));
        }
        match parent {
            Some(parent) => {
                commit = parent;
                current = before;
            }
            None => {
                reached_root = true;
                break;
            }
        }
    }
    versions.reverse();
    Ok((versions, reached_root))
}

/// First-parent commits after `from` up to and including `to` that change
/// more than the baselines (`baseline_dir`): where a level shift between
/// the two points can lie. 1 for the first point, or when the walk does
/// not meet `from`, where the count says nothing.
fn first_parent_count(
    repo: &git2::Repository,
    from: Option<git2::Oid>,
    to: git2::Oid,
    baseline_dir: &str,
) -> usize {
    let Some(from) = from else { return 1 };
    let Ok(mut walk) = repo.revwalk() else {
        return 1;
    };
    if walk.simplify_first_parent().is_err() || walk.push(to).is_err() || walk.hide(from).is_err() {
        return 1;
    }
    let only_baselines = |oid: git2::Oid| -> bool {
        let Ok(commit) = repo.find_commit(oid) else {
            return false;
        };
        let parent_tree = commit.parent(0).ok().and_then(|p| p.tree().ok());
        let Ok(tree) = commit.tree() else {
            return false;
        };
        let Ok(diff) = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None) else {
            return false;
        };
        diff.deltas().count() > 0
            && diff.deltas().all(|d| {
                d.new_file()
                    .path()
                    .or_else(|| d.old_file().path())
                    .is_some_and(|p| p.starts_with(baseline_dir))
            })
    };
    walk.take(MAX_COMMITS_WALKED)
        .filter_map(|oid| oid.ok())
        .filter(|oid| !only_baselines(*oid))
        .count()
        .max(1)
}

/// The commit a record measured, when it names one this repository has;
/// else `fallback` (the commit that stored it, or HEAD for a new record).
fn measured_commit<'r>(
    repo: &'r git2::Repository,
    sha: Option<&str>,
    fallback: &git2::Commit<'r>,
) -> git2::Commit<'r> {
    sha.and_then(|sha| git2::Oid::from_str(sha).ok())
        .and_then(|oid| repo.find_commit(oid).ok())
        .unwrap_or_else(|| fallback.clone())
}

fn describe(commit: &git2::Commit<'_>) -> HistoryCommit {
    let summary = crate::baseline::git::summary(commit);
    HistoryCommit {
        sha: summary.sha,
        stored_in: String::new(),
        commits_since_previous: 1,
        date: summary.date,
        author: summary.author,
        subject: summary.subject,
        machine_changed: false,
        machine: String::new(),
    }
}

/// The parts of a record the history needs; the rest (profiles, function
/// costs) is skipped by the parser without being built.
#[derive(Deserialize)]
struct LeanRecord {
    schema: u64,
    #[serde(default)]
    commit: Option<String>,
    machine: Machine,
    benches: Vec<LeanBench>,
}

#[derive(Deserialize)]
struct LeanBench {
    id: String,
    unit: crate::record::SampleUnit,
    samples: Vec<f64>,
    #[serde(default)]
    throughput: Option<Throughput>,
    #[serde(default)]
    executed: Option<String>,
}

/// Only the schema, to say why a record did not parse.
#[derive(Deserialize)]
struct SchemaOnly {
    schema: Option<serde_json::Value>,
}

/// One version, reduced.
struct Parsed {
    /// The commit the record measured.
    commit: Option<String>,
    machine: Machine,
    /// (id, unit, point, what it executed), in the record's order.
    points: Vec<(String, crate::record::SampleUnit, Point, Option<String>)>,
}

/// Read and reduce every blob, on `threads` threads, in order.
fn parse_all(
    git_dir: &Path,
    blobs: &[git2::Oid],
    commits: &[String],
    path: &str,
    threads: usize,
) -> Vec<std::result::Result<Parsed, String>> {
    let chunk = blobs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = blobs
            .chunks(chunk)
            .zip(commits.chunks(chunk))
            .map(|(part, commits)| {
                scope.spawn(move || {
                    let repo = git2::Repository::open(git_dir);
                    part.iter()
                        .zip(commits)
                        .map(|(blob, commit)| {
                            let repo = repo.as_ref().map_err(|e| e.message().to_string())?;
                            let blob =
                                repo.find_blob(*blob).map_err(|e| e.message().to_string())?;
                            parse(blob.content(), commit, path)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// A record in memory reduced as a committed version is.
fn reduce(record: &RunRecord) -> Parsed {
    Parsed {
        commit: record.commit.clone(),
        machine: record.machine.clone(),
        points: record
            .benches
            .iter()
            .filter_map(|b| {
                let point = point_of(
                    b.samples.clone(),
                    b.throughput.as_ref().map(|t| t.per_iteration),
                )?;
                Some((b.id.as_str().to_string(), b.unit, point, b.executed.clone()))
            })
            .collect(),
    }
}

/// A version reduced to its points, or why it cannot be read (in words
/// that name the fix, as the record errors do).
fn parse(bytes: &[u8], sha: &str, path: &str) -> std::result::Result<Parsed, String> {
    let source = RecordSource::Git {
        commit: sha.to_string(),
        path: path.to_string(),
    };
    let record: LeanRecord = match serde_json::from_slice(bytes) {
        Ok(record) => record,
        Err(e) => {
            let schema = serde_json::from_slice::<SchemaOnly>(bytes)
                .ok()
                .and_then(|s| s.schema)
                .and_then(|s| s.as_u64());
            return Err(match schema {
                Some(found) if found != u64::from(RECORD_SCHEMA) => Error::UnknownSchema {
                    source_of: source,
                    found,
                    supported: RECORD_SCHEMA,
                },
                _ => Error::DamagedRecord {
                    source_of: source,
                    problem: format!("invalid JSON: {e}"),
                },
            }
            .to_string());
        }
    };
    if record.schema != u64::from(RECORD_SCHEMA) {
        return Err(Error::UnknownSchema {
            source_of: source,
            found: record.schema,
            supported: RECORD_SCHEMA,
        }
        .to_string());
    }
    let points = record
        .benches
        .into_iter()
        .filter_map(|bench| {
            let point = point_of(bench.samples, bench.throughput.map(|t| t.per_iteration))?;
            Some((bench.id, bench.unit, point, bench.executed))
        })
        .collect();
    Ok(Parsed {
        commit: record.commit,
        machine: record.machine,
        points,
    })
}

/// The median of a record's samples and a distribution-free 95% interval
/// for it (order statistics n/2 ± 0.98 √n, the binomial's normal
/// approximation). None when the samples are unusable.
pub fn point_of(mut samples: Vec<f64>, input: Option<u64>) -> Option<Point> {
    if samples.is_empty() || samples.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    let half = 0.98 * (n as f64).sqrt();
    let low = ((n as f64 / 2.0 - half).floor().max(0.0)) as usize;
    let high = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    Some(Point {
        median,
        low: samples[low].min(median),
        high: samples[high].max(median),
        input,
    })
}

/// Line the versions up by benchmark and find the level shifts.
fn assemble(
    parsed: Vec<(HistoryCommit, Parsed)>,
    request: &Request<'_>,
    branch: String,
    notes: Vec<Note>,
) -> History {
    let count = parsed.len();
    let mut commits = Vec::with_capacity(count);
    let mut benches: Vec<BenchHistory> = Vec::new();
    // What each benchmark executed at each commit (beside `benches`).
    let mut executed: Vec<Vec<Option<String>>> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut previous_machine: Option<Machine> = None;
    for (i, (mut commit, version)) in parsed.into_iter().enumerate() {
        commit.machine_changed = previous_machine
            .as_ref()
            .is_some_and(|m| !m.same_fingerprint(&version.machine));
        commit.machine = machine_label(&version.machine);
        previous_machine = Some(version.machine);
        commits.push(commit);
        for (id, unit, point, digest) in version.points {
            if request.filter.is_some_and(|f| !f.is_match(&id)) {
                continue;
            }
            let slot = *index_of.entry(id.clone()).or_insert_with(|| {
                benches.push(BenchHistory {
                    id,
                    unit,
                    points: vec![None; count],
                    head: None,
                    changes: Vec::new(),
                });
                executed.push(vec![None; count]);
                benches.len() - 1
            });
            benches[slot].unit = unit;
            benches[slot].points[i] = Some(point);
            executed[slot][i] = digest;
        }
    }
    let mut benches: Vec<(BenchHistory, Vec<Option<String>>)> =
        benches.into_iter().zip(executed).collect();
    benches.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let (mut benches, executed): (Vec<BenchHistory>, Vec<Vec<Option<String>>>) =
        benches.into_iter().unzip();
    let machine = machine_levels(&benches, count);

    let series: Vec<changes::Series> = benches
        .iter()
        .zip(&executed)
        .map(|(b, executed)| {
            let present = b
                .points
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| (i, p)));
            let mut series = changes::Series::default();
            for (i, point) in present {
                series.commit_index.push(i);
                series.level.push(point.median / machine[i].exp());
                series.measured.push(point.median);
                series.input.push(point.input);
                series.executed.push(executed[i].clone());
            }
            series
        })
        .collect();
    let shas: Vec<String> = commits.iter().map(|c| c.sha.clone()).collect();
    let machine_changed: Vec<bool> = commits.iter().map(|c| c.machine_changed).collect();
    let found = changes::level_shifts(&series, &shas, &machine_changed, request.min_change);
    for (bench, changes) in benches.iter_mut().zip(found) {
        bench.changes = changes;
    }

    let head = request.head.map(|report| {
        for comparison in &report.comparisons {
            if let Some(slot) = index_of_sorted(&benches, comparison.id.as_str()) {
                benches[slot].head = comparison.head.as_ref().map(|h| h.median);
            }
        }
        let sha = report
            .pull_request_head
            .clone()
            .or_else(|| report.head.commit.clone())
            .unwrap_or_default();
        HeadCommit {
            label: format!("head {}", short_sha(&sha)),
            sha,
        }
    });

    History {
        schema: HISTORY_SCHEMA,
        suite: request.suite.to_string(),
        branch,
        commits,
        benches,
        head,
        machine_speed: machine.iter().map(|l| l.exp_m1()).collect(),
        min_change: request.min_change,
        notes,
    }
}

/// The machine's speed at each version (log, 0 at the first): the sum of
/// the shifts common to the benchmarks between consecutive versions, each
/// kept only when clearly there (`stats::common_shift`, as a comparison
/// removes it). A shared runner that is 40% slower for one record moves
/// every benchmark; a code change moves its own.
fn machine_levels(benches: &[BenchHistory], count: usize) -> Vec<f64> {
    let mut levels = vec![0.0; count];
    let mut last_level = 0.0;
    for (k, level) in levels.iter_mut().enumerate().skip(1) {
        let offsets: Vec<f64> = benches
            .iter()
            .filter_map(|b| match (b.points[k - 1], b.points[k]) {
                (Some(a), Some(b)) if a.median > 0.0 && b.median > 0.0 => {
                    Some((b.median / a.median).ln())
                }
                _ => None,
            })
            .collect();
        last_level += crate::stats::common_shift(&offsets).unwrap_or(0.0);
        *level = last_level;
    }
    levels
}

fn index_of_sorted(benches: &[BenchHistory], id: &str) -> Option<usize> {
    benches.binary_search_by(|b| b.id.as_str().cmp(id)).ok()
}

fn machine_label(machine: &Machine) -> String {
    format!(
        "{}, {} cores, {}, {}",
        machine.cpu_model, machine.logical_cores, machine.os, machine.rustc
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_the_median_with_an_order_statistic_interval() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let point = point_of(samples, None).unwrap();
        assert_eq!(point.median, 50.5);
        // Ranks 50 ± 9.8: the 41st and 60th values (0-based 40 and 60).
        assert_eq!((point.low, point.high), (41.0, 61.0));
        let single = point_of(vec![7.0], Some(3)).unwrap();
        assert_eq!(
            (single.median, single.low, single.high, single.input),
            (7.0, 7.0, 7.0, Some(3))
        );
        assert!(point_of(Vec::new(), None).is_none());
    }
}
