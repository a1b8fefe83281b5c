//! `flamegate demo`: the whole gate on a bundled sample backend.
//!
//! Writes a throw-away git repository with a small "shop" crate (indexed
//! orders, a catalog cache, duplicate detection). The default demo checks
//! two pull requests paired, as CI would: one that drops the index and goes
//! O(n²), and a neutral one. The tour (`--tour`, and instruction mode) also
//! records main's baseline a few times (history for the noise model),
//! checks each pull request against it, adds one that allocates once more
//! per request, and plots main's history. Exits 0 when the gate caught what
//! it should and passed the neutral change.

use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Repository, RepositoryInitOptions, Signature};

use crate::collect;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{self, Output};
use crate::render::Renderer;
use crate::render::terminal::Terminal;
use crate::report::{Report, Verdict};

mod quick;
mod tour;

const CARGO_TOML: &str = include_str!("../../demo/shop/Cargo.toml.in");
const CARGO_LOCK: &str = include_str!("../../demo/shop/Cargo.lock");
const LIB_RS: &str = include_str!("../../demo/shop/src/lib.rs");
const BENCH_RS: &str = include_str!("../../demo/shop/benches/shop.rs");
const FLAMEGATE_TOML: &str = include_str!("../../demo/shop/flamegate.toml");

/// Marks a directory as the demo's own, so re-running may replace it.
const MARKER: &str = ".flamegate-demo";
const SUITE: &str = "shop";
/// Seconds of sampling per benchmark in the demo's profiling passes.
const DEMO_PROFILE_SECONDS: f64 = 2.0;
/// main's commits before the pull requests: (message, from, to) edits of
/// `src/lib.rs`, applied in turn (the first is the initial commit). Each is
/// followed by a baseline record, so the history spans five builds.
const MAIN_HISTORY: [(&str, &str, &str); 5] = [
    (
        "shop: indexed orders, catalog cache, duplicate detection",
        "",
        "",
    ),
    (
        "orders: revenue per customer",
        "        positions.iter().map(|&pos| self.rows[pos]).collect()\n    }\n",
        "        positions.iter().map(|&pos| self.rows[pos]).collect()\n    }\n\n    /// Total spent by one customer, in cents.\n    pub fn revenue_of(&self, customer_id: i64) -> i64 {\n        self.for_customer(customer_id).iter().map(|o| o.total_cents).sum()\n    }\n",
    ),
    (
        "catalog: search by name prefix",
        "    /// The total of a cart of product ids.\n",
        "    /// Products whose name starts with `prefix`.\n    pub fn search(&self, prefix: &str) -> Vec<&Product> {\n        self.products.iter().filter(|p| p.name.starts_with(prefix)).collect()\n    }\n\n    /// The total of a cart of product ids.\n",
    ),
    // A slowdown merged into main: it allocates a lowercased copy of the
    // name on every lookup. `flamegate history` names this commit.
    (DISCONTINUED_COMMIT, LOOKUP, LOOKUP_HIDING_DISCONTINUED),
    (
        "catalog: price lookup helper",
        "    /// The total of a cart of product ids.\n",
        "    /// The price of one product, in cents.\n    pub fn price_of(&self, id: u32) -> Option<u64> {\n        self.lookup(id).map(|p| p.price_cents)\n    }\n\n    /// The total of a cart of product ids.\n",
    ),
];

/// main's commit that slows every cached lookup (and so the cart total).
const DISCONTINUED_COMMIT: &str = "catalog: hide discontinued products";
const LOOKUP: &str = "    /// Look a product up through the cache.
    pub fn lookup(&self, id: u32) -> Option<&Product> {
        self.cache.get(&id).map(|&pos| &self.products[pos])
    }
";
const LOOKUP_HIDING_DISCONTINUED: &str =
    "    /// Look a product up through the cache; discontinued products are hidden.
    pub fn lookup(&self, id: u32) -> Option<&Product> {
        self.cache
            .get(&id)
            .map(|&pos| &self.products[pos])
            .filter(|p| !p.name.to_lowercase().contains(\"discontinued\"))
    }
";
/// The benchmark whose level main's history must show shifting at
/// `DISCONTINUED_COMMIT`.
const HISTORY_EXPECTED_SHIFT: &str = "catalog/lookup_cached";

/// The benchmark groups the regressing pull request slows down, at every
/// size, and makes scale worse (the index: a lookup that did not grow with
/// the orders becomes a scan; the duplicate check: a hash set becomes a
/// nested loop).
pub const EXPECTED_REGRESSIONS: [&str; 2] = ["orders/for_customer", "skus/find_duplicates"];

/// Whether `id` is a size of one of `EXPECTED_REGRESSIONS`' groups.
fn expected_regression(id: &str) -> bool {
    size_group(id).is_some_and(|group| EXPECTED_REGRESSIONS.contains(&group))
}

/// The group of a sized benchmark id: `orders/for_customer` of
/// `orders/for_customer/2000`.
fn size_group(id: &str) -> Option<&str> {
    id.rsplit_once('/').map(|(group, _)| group)
}

/// What a report of the regressing pull request misses: an expected group
/// not shown to scale worse and fail the gate, or its largest size not
/// flagged. Smaller sizes are not required to read slower: near the
/// crossover of n and n² the nested loop costs about what the hash set
/// costs (at 250 SKUs, 5.1 µs → 8.2 µs paired in one run and +0.5% against
/// the stored baseline in another, whose five records put the hash set at
/// 7.8 µs), and saying so is the verdict's job.
fn missed(report: &Report, run: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for group in EXPECTED_REGRESSIONS {
        let scaling = report.scaling.iter().find(|s| s.group == group);
        if !scaling.is_some_and(|s| {
            s.verdict == crate::report::scaling::ScalingVerdict::ScalesWorse && s.fails
        }) {
            problems.push(format!(
                "`{group}` was not shown to scale worse in pr/drop-index{run}"
            ));
        }
        let largest = scaling.and_then(|s| s.members.last()).map(|m| &m.id);
        if let Some(c) = largest.and_then(|id| report.comparison(id.as_str()))
            && c.verdict != Verdict::Regressed
        {
            problems.push(format!(
                "`{}` was not flagged in pr/drop-index{run} ({})",
                c.id,
                c.verdict.label()
            ));
        }
    }
    problems
}

/// How main finds a customer's orders (its index), and how the regressing
/// pull request does (a scan of every order).
const INDEX_LOOKUP: &str =
    "        let positions = self.by_customer.get(&customer_id).map_or(&[][..], Vec::as_slice);
        positions.iter().map(|&pos| self.rows[pos]).collect()";
const SCAN: &str =
    "        self.rows.iter().filter(|o| o.customer_id == customer_id).copied().collect()";

const HASHED_DUPLICATES: &str = "    let mut seen = HashSet::with_capacity(skus.len());
    let mut duplicates = HashSet::new();
    for &sku in skus {
        if !seen.insert(sku) {
            duplicates.insert(sku);
        }
    }
    let mut duplicates: Vec<u64> = duplicates.into_iter().collect();
    duplicates.sort_unstable();";

const QUADRATIC_DUPLICATES: &str = "    let mut duplicates = Vec::new();
    for (i, &sku) in skus.iter().enumerate() {
        if skus[..i].contains(&sku) && !duplicates.contains(&sku) {
            duplicates.push(sku);
        }
    }
    duplicates.sort_unstable();";

/// The customer lookup as main runs it, and as `pr/format-query` writes it:
/// an error message built eagerly (`ok_or(format!(…))`, where `ok_or_else`
/// was meant), one more heap allocation per request that its time hardly
/// shows and the allocation count reads exactly.
const QUERY: &str = "self.by_customer.get(&customer_id).map_or(";
const FORMATTED_QUERY: &str = "self.by_customer.get(&customer_id).ok_or(format!(\"no orders for customer {customer_id}\")).map_or(";
/// The benchmark group `pr/format-query` must be shown to allocate more.
const EXPECTED_MORE_ALLOCATIONS: &str = "orders/for_customer";

fn expected_more_allocations(id: &str) -> bool {
    size_group(id) == Some(EXPECTED_MORE_ALLOCATIONS)
}

/// What the report of `pr/format-query` misses: a size of
/// `EXPECTED_MORE_ALLOCATIONS` whose allocations were not seen to grow, or
/// that did not fail the gate.
fn missed_allocations(report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let members: Vec<_> = report
        .comparisons
        .iter()
        .filter(|c| expected_more_allocations(c.id.as_str()))
        .collect();
    if members.is_empty() {
        problems.push(format!(
            "pr/format-query's report has no `{EXPECTED_MORE_ALLOCATIONS}` benchmark"
        ));
    }
    for c in members {
        match &c.allocations {
            Some(check) if check.grew.iter().any(|m| m == "allocations") => {
                if !c.verdict.fails_gate() {
                    problems.push(format!(
                        "`{}` allocates more in pr/format-query but did not fail the gate ({})",
                        c.id,
                        c.verdict.label()
                    ));
                }
            }
            Some(check) => problems.push(format!(
                "`{}` was not seen to allocate more in pr/format-query ({})",
                c.id,
                check.text()
            )),
            None => problems.push(format!(
                "`{}` has no allocation counts in pr/format-query (is `flamegate_hook::count_allocations!()` in the shop's bench?)",
                c.id
            )),
        }
    }
    problems
}

/// Criterion windows of the default demo's rounds: its slowdowns are tens
/// to thousands of percent, far beyond what short windows blur.
const QUICK_WINDOWS: [&str; 6] = [
    "--warm-up-time",
    "0.05",
    "--measurement-time",
    "0.2",
    "--sample-size",
    "10",
];
/// Seconds of sampling per benchmark in the default demo's profiles (criterion takes no less).
const QUICK_PROFILE_SECONDS: f64 = 1.0;
/// Rounds of the default demo's paired checks: the fewest a regression is
/// called from.
const QUICK_ROUNDS: usize = crate::compare::verdict::MIN_ROUNDS_TO_FLAG;

/// Run the demo in `dir` (default: `<temp>/flamegate-demo`): the quick
/// paired demo, or with `tour` (and in instruction mode) the tour.
pub fn run(
    dir: Option<PathBuf>,
    markdown_out: Option<PathBuf>,
    measure: collect::Measure,
    tour: bool,
    output: Output,
) -> Result<u8> {
    // Refuse before minutes of work, not after.
    if let Some(path) = markdown_out.as_ref().filter(|p| p.exists()) {
        return Err(Error::WouldOverwrite {
            path: path.clone(),
            why: "--markdown-out names an existing file".into(),
        });
    }
    let root = dir.unwrap_or_else(|| std::env::temp_dir().join("flamegate-demo"));
    if tour || measure == collect::Measure::Instructions {
        tour::run_tour(&root, markdown_out, measure, output)
    } else {
        quick::run_quick(&root, markdown_out, output)
    }
}

/// The shop's repository under `root` with main's first commit, and the
/// project with its build cache beside it.
fn start(
    root: &Path,
    say: &dyn Fn(&str),
) -> Result<(PathBuf, Repository, collect::cargo::Project)> {
    let repo_dir = root.join("repo");
    say(&format!(
        "writing the sample shop backend to {}",
        repo_dir.display()
    ));
    let repo = create_repo(&repo_dir)?;
    commit_all(&repo, MAIN_HISTORY[0].0)?;
    let project =
        collect::cargo::inspect(&repo_dir.join("Cargo.toml"), Some(&root.join("target")))?;
    Ok((repo_dir, repo, project))
}

/// Write a check's reports into `out` and print its table; its report.
fn write_and_print(
    mut gated: pipeline::Gated,
    out: &Path,
    output: Output,
) -> Result<(Report, PathBuf)> {
    pipeline::write_outputs(&mut gated, out)?;
    let table = Terminal {
        color: output.color,
    }
    .render(&gated.report);
    print!("\n{}", String::from_utf8_lossy(&table));
    Ok((gated.report, out.to_path_buf()))
}

/// The regressions of `report` that were not `expected`: false alarms,
/// unless the benchmark's executed machine code changed. A pull request
/// that leaves a function's source alone can still change its machine
/// code (the compiler inlines a shared helper differently once other
/// callers change), and flamegate times the machine code: such a
/// regression is the pull request's, and is said so, not counted.
fn false_alarms(report: &Report, branch: &str, expected: impl Fn(&str) -> bool) -> Vec<String> {
    let (recompiled, alarms): (Vec<_>, Vec<_>) = report
        .with(Verdict::Regressed)
        .filter(|c| !expected(c.id.as_str()))
        .partition(|c| c.instructions.as_ref().is_some_and(|i| i.code_changed));
    for c in recompiled {
        println!(
            "note: `{}` regressed in {branch} although its source did not change: the pull request \
             changed the machine code it executes (different instructions), so the time change is \
             the pull request's",
            c.id
        );
    }
    alarms
        .into_iter()
        .map(|c| {
            format!(
                "`{}` was flagged in {branch} but its code did not change (a false alarm)",
                c.id
            )
        })
        .collect()
}

/// Each benchmark of `report` (those `shown`) whose time change was
/// counted in instructions: the change and the counts.
fn print_instruction_checks(report: &Report, shown: impl Fn(&str) -> bool) {
    for c in report.comparisons.iter().filter(|c| shown(c.id.as_str())) {
        if let (Some(change), Some(check)) = (&c.change, &c.instructions) {
            println!(
                "    {} {} ({}): {}",
                c.id,
                crate::render::format_change(change.estimate),
                c.verdict.label(),
                crate::render::instruction_text(check)
            );
        }
    }
}

/// The regressing pull request's source: `source` with the orders scanned
/// instead of indexed and duplicates found by a nested loop.
fn drop_index(source: &str) -> Result<String> {
    patch(
        &patch(source, INDEX_LOOKUP, SCAN)?,
        HASHED_DUPLICATES,
        QUADRATIC_DUPLICATES,
    )
}

/// The neutral pull request's source: `cart_total` reformatted.
fn tidy(source: &str) -> Result<String> {
    patch(
        source,
        "cart.iter().filter_map(|&id| self.lookup(id)).map(|p| p.price_cents).sum()",
        "cart.iter()\n            .filter_map(|&id| self.lookup(id))\n            .map(|product| product.price_cents)\n            .sum()",
    )
}

/// The demo's exit: 0 when nothing was missed, else the problems.
fn finish(problems: Vec<String>, behaved: &str) -> Result<u8> {
    if problems.is_empty() {
        println!("The gate behaved as expected: {behaved}.");
        Ok(exit_code::PASS)
    } else {
        Err(Error::DemoUnexpected(problems.join("; ")))
    }
}

/// What main's history should show and did not: a slowdown of
/// `HISTORY_EXPECTED_SHIFT` at `DISCONTINUED_COMMIT`, still in effect.
fn history_missed(history: &crate::report::history::History) -> Option<String> {
    let found = history
        .benches
        .iter()
        .filter(|b| b.id == HISTORY_EXPECTED_SHIFT)
        .flat_map(|b| &b.changes)
        .any(|c| c.unresolved && history.commits[c.index].subject == DISCONTINUED_COMMIT);
    (!found).then(|| {
        format!(
            "main's history did not show `{HISTORY_EXPECTED_SHIFT}` slowing down at \"{DISCONTINUED_COMMIT}\""
        )
    })
}

fn summary(report: &Report) -> String {
    let regressed: Vec<&str> = report
        .with(Verdict::Regressed)
        .map(|c| c.id.as_str())
        .collect();
    let worse: Vec<&str> = report
        .scaling
        .iter()
        .filter(|s| s.verdict == crate::report::scaling::ScalingVerdict::ScalesWorse)
        .map(|s| s.group.as_str())
        .collect();
    let worse = if worse.is_empty() {
        String::new()
    } else {
        format!("; scales worse: {}", worse.join(", "))
    };
    let allocating: Vec<&str> = report
        .with(Verdict::MoreAllocations)
        .map(|c| c.id.as_str())
        .collect();
    let mut failures = Vec::new();
    if !regressed.is_empty() {
        failures.push(format!("regressed: {}", regressed.join(", ")));
    }
    if !allocating.is_empty() {
        failures.push(format!("more allocations: {}", allocating.join(", ")));
    }
    if failures.is_empty() {
        format!("pass ({} benchmarks){worse}", report.comparisons.len())
    } else {
        format!("FAIL, {}{worse}", failures.join("; "))
    }
}

fn exit_for(report: &Report) -> u8 {
    match report.outcome {
        crate::report::Outcome::Pass => exit_code::PASS,
        crate::report::Outcome::Fail => exit_code::REGRESSION,
    }
}

/// Replace `from` (which must be present) with `to`.
fn patch(source: &str, from: &str, to: &str) -> Result<String> {
    if !source.contains(from) {
        return Err(Error::DemoUnexpected(format!(
            "the bundled shop source no longer contains the code the demo edits: {from:?}"
        )));
    }
    Ok(source.replacen(from, to, 1))
}

/// The shop's Cargo.toml with its flamegate dependency pointed at the
/// flamegate source this binary was built from (the hook lives there).
fn demo_cargo_toml() -> Result<String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !source.join("crates/flamegate-hook/src/lib.rs").exists() {
        return Err(Error::Usage(format!(
            "the demo builds its sample with flamegate's profiler hook from flamegate's source, which is no longer at {}; \
             run the demo from a flamegate checkout: `cargo run --release -- demo`",
            source.display()
        )));
    }
    let path = source.display().to_string().replace('\\', "/");
    let hook = format!("{path}/crates/flamegate-hook");
    patch(
        CARGO_TOML,
        "path = \"../../crates/flamegate-hook\"",
        &format!("path = {hook:?}"),
    )
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| Error::io(path, e))
}

fn create_repo(repo_dir: &Path) -> Result<Repository> {
    if repo_dir.exists() {
        if !repo_dir.join(MARKER).exists() {
            return Err(Error::WouldOverwrite {
                path: repo_dir.to_path_buf(),
                why: "it exists and was not made by `flamegate demo`; choose another --dir".into(),
            });
        }
        std::fs::remove_dir_all(repo_dir).map_err(|e| Error::io(repo_dir, e))?;
    }
    let cargo_toml = demo_cargo_toml()?;
    let files = [
        ("Cargo.toml", cargo_toml.as_str()),
        ("Cargo.lock", CARGO_LOCK),
        ("src/lib.rs", LIB_RS),
        ("benches/shop.rs", BENCH_RS),
        ("flamegate.toml", FLAMEGATE_TOML),
        (".gitignore", "/target\n/.flamegate-demo\n"),
        (MARKER, "made by `flamegate demo`; safe to delete\n"),
    ];
    for (name, contents) in files {
        let path = repo_dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, contents).map_err(|e| Error::io(&path, e))?;
    }
    let mut options = RepositoryInitOptions::new();
    options.initial_head("main");
    Repository::init_opts(repo_dir, &options)
        .map_err(|e| Error::git("creating the demo repository", e))
}

fn commit_all(repo: &Repository, message: &str) -> Result<()> {
    let git = |e| Error::git(format!("committing `{message}` in the demo repository"), e);
    let mut index = repo.index().map_err(git)?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(git)?;
    index.write().map_err(git)?;
    let tree = repo
        .find_tree(index.write_tree().map_err(git)?)
        .map_err(git)?;
    let signature = Signature::now("flamegate demo", "demo@flamegate.invalid").map_err(git)?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .map_err(git)?;
    Ok(())
}

/// Create `branch` at main's tip and check it out (work tree = main's).
fn switch_to_new_branch(repo: &Repository, branch: &str) -> Result<()> {
    let git = |e| Error::git(format!("switching the demo repository to {branch}"), e);
    let main = repo
        .find_branch("main", git2::BranchType::Local)
        .and_then(|b| b.get().peel_to_commit())
        .map_err(git)?;
    repo.branch(branch, &main, true).map_err(git)?;
    repo.set_head(&format!("refs/heads/{branch}"))
        .map_err(git)?;
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(git)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;
    use crate::compare::settings::Settings;
    use crate::record::allocations::AllocationCount;
    use crate::record::{BenchId, BenchResult, RunRecord, SampleUnit};

    const SIZES: [u32; 3] = [2_000, 8_000, 32_000];

    /// A record of the shop's order queries: `level` per iteration in
    /// `unit`, with `allocations` heap blocks per iteration (None: the
    /// bench did not count them).
    fn record(unit: SampleUnit, level: f64, seed: u64, allocations: Option<u64>) -> RunRecord {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut samples = |level: f64| -> Vec<f64> {
            if unit == SampleUnit::Instructions {
                vec![level; 3]
            } else {
                (0..30).map(|_| level * (1.0 + 0.01 * rng.f64())).collect()
            }
        };
        let benches = SIZES
            .iter()
            .map(|n| BenchResult {
                executed: None,
                executed_data_cycles: None,
                peak_memory: Vec::new(),
                id: BenchId(format!("{EXPECTED_MORE_ALLOCATIONS}/{n}")),
                group: "orders".into(),
                function: None,
                parameter: None,
                unit,
                samples: samples(level),
                throughput: None,
                profile: None,
                seconds: None,
                functions: None,
                simulated: None,
                allocations: allocations
                    .map(|a| {
                        vec![
                            AllocationCount {
                                allocations: a,
                                deallocations: a,
                                bytes: 300 * a,
                                ..AllocationCount::default()
                            };
                            3
                        ]
                    })
                    .unwrap_or_default(),
            })
            .collect();
        RunRecord::for_tests(benches)
    }

    /// pr/format-query's report in `measure`: the same time or instruction
    /// level on both sides, allocations `base` → `head` per iteration.
    fn format_query_report(
        measure: collect::Measure,
        base: Option<u64>,
        head: Option<u64>,
    ) -> Report {
        let unit = match measure {
            collect::Measure::Time => SampleUnit::Nanoseconds,
            collect::Measure::Instructions => SampleUnit::Instructions,
        };
        let baseline = Baseline {
            record: record(unit, 12_000.0, 1, base),
            source: crate::error::RecordSource::File("shop.json".into()),
            commit: None,
            chosen_as: "main".into(),
            history: (2..6)
                .map(|seed| record(unit, 12_000.0, seed, base))
                .collect(),
            notes: Vec::new(),
        };
        let head = record(unit, 12_000.0, 9, head);
        let settings = Settings::default();
        match measure {
            collect::Measure::Time => {
                crate::compare::stored::against_stored(SUITE, &head, "head", &baseline, &settings)
            }
            collect::Measure::Instructions => crate::compare::instructions::against_instructions(
                SUITE, &head, "head", &baseline, &settings,
            ),
        }
    }

    /// The demo's allocation self-check asks the same of both modes: one
    /// more allocation per query fails every size, and a report without
    /// the extra allocation, or without counts, is a problem it names.
    #[test]
    fn the_allocation_self_check_holds_in_time_and_instruction_mode() {
        for measure in [collect::Measure::Time, collect::Measure::Instructions] {
            let caught = format_query_report(measure, Some(5), Some(6));
            assert_eq!(
                missed_allocations(&caught),
                Vec::<String>::new(),
                "{measure:?}"
            );
            let same = format_query_report(measure, Some(5), Some(5));
            let problems = missed_allocations(&same);
            assert_eq!(problems.len(), SIZES.len(), "{measure:?}: {problems:?}");
            assert!(
                problems[0].contains("was not seen to allocate more"),
                "{problems:?}"
            );
            let uncounted = format_query_report(measure, None, None);
            let problems = missed_allocations(&uncounted);
            assert!(
                problems[0].contains("has no allocation counts"),
                "{problems:?}"
            );
        }
    }
}
