//! Snapshots of every renderer on a fixed report, and hostile names.

use flamegate::compare::{self, settings::Settings};
use flamegate::record::RunRecord;
use flamegate::render::Renderer;
use flamegate::render::escape::markdown_code;
use flamegate::render::escape::markdown_prose;
use flamegate::render::escape::markdown_text;
use flamegate::render::escape::terminal_text;
use flamegate::render::json::Json;
use flamegate::render::markdown::Markdown;
use flamegate::render::terminal::Terminal;
use flamegate::report::Report;

use crate::support::*;

fn fixed_report() -> Report {
    let versions: Vec<RunRecord> = (0..6).map(|seed| suite_record(seed, 0.01, &[])).collect();
    let mut head = suite_record(100, 0.01, &[(1, 1.25), (3, 0.7)]);
    head.benches.retain(|b| b.id.as_str() != "render/page");
    head.benches
        .append(&mut record(&[("render/new_page", 90_000.0)], 3).benches);
    compare::stored::against_stored(
        "suite",
        &head,
        "work tree",
        &baseline(versions),
        &Settings::default(),
    )
}

/// A paired report whose time changes were checked against instruction
/// counts: one regression with more instructions, one `layout` (time moved,
/// same instructions), one unchanged (not counted).
fn paired_report_with_instruction_checks() -> Report {
    use flamegate::record::instructions::Simulated;
    use flamegate::record::paired::{CountedInstructions, PairedRun, RoundMedians};
    use flamegate::record::{BenchId, SampleUnit};
    let benches = [
        ("parse/large", 50_000.0),
        ("render/page", 2_000.0),
        ("sort/small", 700.0),
    ];
    let ratios = [1.30, 1.12, 1.0];
    let base = record(&benches, 1);
    let head = record(
        &benches
            .iter()
            .zip(ratios)
            .map(|((id, m), r)| (*id, m * r))
            .collect::<Vec<_>>(),
        2,
    );
    let round_medians = benches
        .iter()
        .zip(ratios)
        .map(|((id, m), r)| {
            let rounds = (0..8)
                .map(|i| {
                    let wobble = 1.0 + 0.004 * ((i * 7 % 5) as f64 - 2.0);
                    RoundMedians {
                        base: *m,
                        head: m * r * wobble,
                        disturbed: false,
                    }
                })
                .collect();
            (BenchId(id.to_string()), rounds)
        })
        .collect();
    let counts = |id: &str, count: f64, l1_misses: u64| {
        let mut bench = record(&[(id, 1.0)], 0).benches.remove(0);
        bench.unit = SampleUnit::Instructions;
        bench.samples = vec![count; 3];
        bench.simulated = Some(Simulated {
            l1_misses,
            ll_misses: 2,
            branches: 900,
            mispredicts: 12,
        });
        bench
    };
    let run = PairedRun {
        rounds: 8,
        base,
        head,
        round_medians,
        identical: Default::default(),
        // A benchmark whose code the pull request left alone.
        same_code: [flamegate::record::BenchId("lex/tokens".into())]
            .into_iter()
            .collect(),
        code_changed: Default::default(),
        same_code_unchecked: None,
        phases: flamegate::record::paired::PhaseTimes {
            build_head: 3.2,
            build_base: 41.0,
            same_code_pass: 2.4,
            rounds: 30.5,
            instruction_check: 12.1,
            profiles: 0.0,
            allocations: 1.3,
        },
        instructions: CountedInstructions {
            base: vec![
                counts("parse/large", 180_000.0, 40),
                counts("render/page", 7_400.0, 9),
            ],
            head: vec![
                counts("parse/large", 236_000.0, 41),
                counts("render/page", 7_400.0, 9),
            ],
            not_counted: Default::default(),
        },
    };
    let side = |commit: &str| flamegate::record::Side {
        commit: Some(commit.repeat(40)),
        dirty: false,
        chosen_as: "test".into(),
    };
    compare::paired::against_paired("suite", &run, side("1"), side("2"), &Settings::default())
}

#[test]
fn paired_markdown_and_terminal_with_instruction_checks() {
    let report = paired_report_with_instruction_checks();
    insta::assert_snapshot!(
        "paired_markdown",
        String::from_utf8(Markdown.render(&report)).unwrap()
    );
    insta::assert_snapshot!(
        "paired_terminal",
        String::from_utf8(Terminal { color: false }.render(&report)).unwrap()
    );
}

/// flamegate's notes keep their code spans in report.md: GitHub shows
/// `fail_on_layout = true` as code, not as backslashes and backticks.
#[test]
fn notes_keep_their_code_spans_in_markdown() {
    let report = paired_report_with_instruction_checks();
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    assert!(!markdown.contains("\\`"), "{markdown}");
    let html = github_html(&markdown);
    for code in ["<code>layout</code>", "<code>fail_on_layout = true</code>"] {
        assert!(html.contains(code), "{code} missing: {html}");
    }
}

/// A note that names a hostile benchmark in a code span still makes no
/// markup and no mention, and shows the name as written.
#[test]
fn notes_naming_hostile_benchmarks_make_no_markup() {
    let mention = regex::Regex::new(r"@[A-Za-z0-9]").unwrap();
    let code = regex::Regex::new(r"(?s)<code>.*?</code>").unwrap();
    let allowed = regex::Regex::new(r"</?(p|code)>|<!-- -->").unwrap();
    for name in HOSTILE {
        let html = github_html(&format!(
            "{}\n",
            markdown_prose(&format!(
                "`{name}`: its declared input grew, see `[thresholds]`"
            ))
        ));
        let left = allowed.replace_all(&html, "");
        assert!(!left.contains('<'), "{name:?} made markup: {html}");
        assert!(
            !mention.is_match(&code.replace_all(&html, "")),
            "{name:?} can mention: {html}"
        );
        if !name.contains('`') {
            assert!(
                visible(&html).contains(terminal_text(name).trim()),
                "{name:?}: {html}"
            );
        }
    }
}

#[test]
fn markdown_comment() {
    insta::assert_snapshot!(String::from_utf8(Markdown.render(&fixed_report())).unwrap());
}

#[test]
fn terminal_table() {
    insta::assert_snapshot!(
        String::from_utf8(Terminal { color: false }.render(&fixed_report())).unwrap()
    );
}

#[test]
fn json_report() {
    let json: serde_json::Value = serde_json::from_slice(&Json.render(&fixed_report())).unwrap();
    insta::assert_json_snapshot!(rounded(json));
}

#[test]
fn hostile_benchmark_names_are_escaped_in_markdown_and_terminal() {
    let names = [
        "@org/team",
        "[x](http://evil)",
        "<img src=x onerror=alert(1)>",
        "|a|b|",
        "--> <!-- flamegate:suite -->",
        "x\n## PASS",
        "bidi\u{202E}txet",
        "::add-mask::x",
        "\u{1b}[31mred",
    ];
    let benches: Vec<(&str, f64)> = names.iter().map(|n| (*n, 1000.0)).collect();
    let versions: Vec<RunRecord> = (0..3).map(|seed| record(&benches, seed)).collect();
    let report = compare::stored::against_stored(
        "suite",
        &record(&benches, 9),
        "work tree",
        &baseline(versions),
        &Settings::default(),
    );
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    assert!(!markdown.contains('\u{202E}'), "{markdown}");
    let html = assert_github_safe(&markdown, "suite", None);
    // Every name is one table row of as many cells as the header.
    let rows = html.matches("<tr>").count();
    let cells = regex::Regex::new(r"<t[hd][ >]")
        .unwrap()
        .find_iter(&html)
        .count();
    assert_eq!(rows, names.len() + 1, "{html}");
    // Six columns and the trend (the baseline has history).
    assert_eq!(cells, 7 * rows, "{html}");
    let terminal = String::from_utf8(Terminal { color: false }.render(&report)).unwrap();
    assert!(
        !terminal.contains('\u{1b}') && !terminal.contains('\u{202E}'),
        "{terminal}"
    );
    insta::assert_snapshot!(markdown);
}

#[test]
fn pull_request_comment_body() {
    use flamegate::publish::github::body::{COMMENT_LIMIT, RunLink, comment_body};
    let mut report = fixed_report();
    report.pull_request_head = Some("abcdef0123456789abcdef0123456789abcdef01".into());
    let link = RunLink {
        url: "https://github.com/octo/shop/actions/runs/42".into(),
        run_id: 42,
        from_pull_request_run: true,
    };
    insta::assert_snapshot!(comment_body(
        &report,
        "abcdef0123456789abcdef0123456789abcdef01",
        Some(&link),
        COMMENT_LIMIT
    ));
}

/// Names a benchmark or a function could carry into a comment.
const HOSTILE: [&str; 16] = [
    "@org/team [x](http://evil) <img src=x onerror=alert(1)> |a|b| --> `x`\n## PASS \u{202E}",
    "see https://evil.example/x and www.evil.example and me@evil.example",
    "_emphasis_ *strong* ~~gone~~ $x^2$ \\",
    "> quoted",
    "# heading",
    "&amp; &#58; &lt;b&gt;",
    "``double`` `single` ```",
    "`starts and ends`",
    " padded ",
    "![img](x.png)",
    "<!-- hidden --> <script>alert(1)</script>",
    "a\\|b | c",
    "shop::find_duplicate_skus",
    "snake_case_name and _leading",
    "Vec<u8>::len",
    "@a @1 email@x.y",
];

/// What a reader sees: the HTML's text, entities decoded.
fn visible(html: &str) -> String {
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    tags.replace_all(html, "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// Rendered as GitHub renders it: no tag, link, emphasis, heading or
/// quote from the name, one cell per cell, no @mention outside code,
/// and the reader sees exactly the name (one line, bidi replaced).
#[test]
fn markdown_renders_hostile_names_literally() {
    let mention = regex::Regex::new(r"@[A-Za-z0-9]").unwrap();
    let code = regex::Regex::new(r"(?s)<code>.*?</code>").unwrap();
    let allowed =
        regex::Regex::new(r"</?(p|ul|li|table|thead|tbody|tr|th|td|code)>|<!-- -->").unwrap();
    for name in HOSTILE {
        let expected = terminal_text(name);
        let table = github_html(&format!(
            "| a | b |\n|---|---|\n| {} | {} |\n",
            markdown_code(name, true),
            markdown_text(name)
        ));
        assert_eq!(table.matches("<td>").count(), 2, "{name:?}: {table}");
        let item = github_html(&format!("- {}\n", markdown_text(name)));
        let prose = github_html(&format!("{}\n", markdown_text(name)));
        let span = github_html(&format!("{}\n", markdown_code(name, false)));
        for html in [&table, &item, &prose, &span] {
            let left = allowed.replace_all(html, "");
            assert!(!left.contains('<'), "{name:?} made markup: {html}");
            assert!(
                !mention.is_match(&code.replace_all(html, "")),
                "{name:?} can mention: {html}"
            );
        }
        for (what, html) in [("item", &item), ("prose", &prose), ("span", &span)] {
            assert_eq!(visible(html), expected.trim(), "{what} of {name:?}: {html}");
        }
        let cells: Vec<String> = table
            .split("<td>")
            .skip(1)
            .map(|cell| visible(&cell[..cell.find("</td>").unwrap()]))
            .collect();
        assert_eq!(
            cells,
            [expected.trim(), expected.trim()],
            "{name:?}: {table}"
        );
    }
}

/// Plain text stays plain: a downloaded report.md reads without
/// entities or needless backslashes.
#[test]
fn markdown_leaves_plain_names_alone() {
    for plain in [
        "shop::find_duplicate_skus",
        "decode/hex 2",
        "catalog/cart_total: +2.0% per byte",
        "a & b, \"quoted\", 1 > 0",
    ] {
        assert_eq!(markdown_text(plain), plain);
    }
    assert_eq!(
        markdown_code("shop::find_duplicate_skus", true),
        "`shop::find_duplicate_skus`"
    );
    assert_eq!(markdown_code("a `b`", false), "`` a `b` ``");
}

/// Issue 20: a stored-baseline report with three sized groups: one made
/// quadratic, one slower by the same factor at every size, one with two
/// sizes only.
fn scaling_report() -> Report {
    let sizes = [250.0, 1_000.0, 4_000.0];
    let side = |quadratic: bool, slower: f64| -> Vec<(String, f64)> {
        let mut benches: Vec<(String, f64)> = sizes
            .iter()
            .map(|&n| {
                let cost = if quadratic {
                    0.5 * n * n + 30.0 * n
                } else {
                    30.0 * n
                };
                (format!("skus/find_duplicates/{n}"), cost)
            })
            .collect();
        benches.extend(
            sizes
                .iter()
                .map(|&n| (format!("orders/scan/{n}"), 8.0 * n * slower)),
        );
        benches.extend([100.0, 200.0].map(|n| (format!("hash/sha/{n}"), n)));
        benches
    };
    fn borrowed(benches: &[(String, f64)]) -> Vec<(&str, f64)> {
        benches.iter().map(|(id, m)| (id.as_str(), *m)).collect()
    }
    let base = side(false, 1.0);
    let head = side(true, 1.3);
    let versions: Vec<RunRecord> = (0..4).map(|seed| record(&borrowed(&base), seed)).collect();
    compare::stored::against_stored(
        "suite",
        &record(&borrowed(&head), 50),
        "work tree",
        &baseline(versions),
        &Settings::default(),
    )
}

#[test]
fn issue_20_scaling_markdown_and_terminal() {
    let report = scaling_report();
    insta::assert_snapshot!(
        "scaling_markdown",
        String::from_utf8(Markdown.render(&report)).unwrap()
    );
    insta::assert_snapshot!(
        "scaling_terminal",
        String::from_utf8(Terminal { color: false }.render(&report)).unwrap()
    );
}

#[test]
fn issue_20_hostile_group_names_are_escaped() {
    let names = [
        "[x](http://evil)",
        "@org/team",
        "x\n## PASS",
        "::add-mask::x",
    ];
    let sized: Vec<String> = names
        .iter()
        .flat_map(|name| [10, 100, 1000].map(|n| format!("{name}/{n}")))
        .collect();
    let benches = |factor: f64| -> Vec<(&str, f64)> {
        sized
            .iter()
            .map(|id| {
                let n: f64 = id.rsplit('/').next().unwrap().parse().unwrap();
                (id.as_str(), factor * n * n)
            })
            .collect()
    };
    let versions: Vec<RunRecord> = (0..3).map(|seed| record(&benches(1.0), seed)).collect();
    let report = compare::stored::against_stored(
        "suite",
        &record(&benches(1.0), 9),
        "work tree",
        &baseline(versions),
        &Settings::default(),
    );
    assert_eq!(report.scaling.len(), names.len(), "{:?}", report.scaling);
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    assert_github_safe(&markdown, "suite", None);
    let terminal = String::from_utf8(Terminal { color: false }.render(&report)).unwrap();
    assert!(!terminal.contains("\n## PASS"), "{terminal}");
}

/// Issue 21: a stored report where both sides counted allocations: one
/// benchmark allocates more at the same time (`more allocations`), one is
/// slower and allocates more (`regressed`, with its counts), one allocates
/// less, one the same.
fn allocations_report(gate: compare::allocations::AllocationGate) -> Report {
    use flamegate::record::allocations::AllocationCount;
    let counted = |mut record: RunRecord, counts: &[(&str, u64, u64)]| {
        for bench in &mut record.benches {
            let (_, allocations, bytes) = counts
                .iter()
                .find(|(id, _, _)| *id == bench.id.as_str())
                .unwrap();
            bench.allocations = vec![
                AllocationCount {
                    allocations: *allocations,
                    deallocations: *allocations,
                    reallocations: 0,
                    bytes: *bytes,
                    peak_bytes: *bytes,
                };
                3
            ];
        }
        record
    };
    let base_counts = [
        ("api/handle", 1, 24),
        ("api/parse", 3, 96),
        ("api/render", 12, 4_096),
        ("api/route", 0, 0),
    ];
    let times = |parse: f64| {
        [
            ("api/handle", 20_000.0),
            ("api/parse", parse),
            ("api/render", 50_000.0),
            ("api/route", 300.0),
        ]
    };
    let versions: Vec<RunRecord> = (0..4)
        .map(|seed| counted(record(&times(1_000.0), seed), &base_counts))
        .collect();
    let head = counted(
        record(&times(1_500.0), 9),
        &[
            ("api/handle", 1_001, 48_024),
            ("api/parse", 5, 160),
            ("api/render", 10, 4_000),
            ("api/route", 0, 0),
        ],
    );
    let settings = Settings {
        allocations: gate,
        ..Settings::default()
    };
    compare::stored::against_stored("suite", &head, "work tree", &baseline(versions), &settings)
}

#[test]
fn issue_21_allocations_markdown_and_terminal() {
    use compare::allocations::AllocationGate;
    use flamegate::report::{Outcome, Verdict};
    let report = allocations_report(AllocationGate::Gate);
    let verdict = |report: &Report, id: &str| report.comparison(id).unwrap().verdict;
    assert_eq!(verdict(&report, "api/handle"), Verdict::MoreAllocations);
    assert_eq!(verdict(&report, "api/parse"), Verdict::Regressed);
    assert_eq!(report.outcome, Outcome::Fail);
    insta::assert_snapshot!(
        "allocations_markdown",
        String::from_utf8(Markdown.render(&report)).unwrap()
    );
    insta::assert_snapshot!(
        "allocations_terminal",
        String::from_utf8(Terminal { color: false }.render(&report)).unwrap()
    );
    // Only reported: the same counts, the timing words, no failure from them.
    let reported = allocations_report(AllocationGate::Report);
    assert_ne!(verdict(&reported, "api/handle"), Verdict::MoreAllocations);
    assert!(
        reported
            .comparison("api/handle")
            .unwrap()
            .allocations
            .as_ref()
            .unwrap()
            .changed()
    );
    assert_eq!(verdict(&reported, "api/parse"), Verdict::Regressed);
}

/// Two commands: one whose peak memory grew past the gate's limit at the
/// same time, one slower with memory as it was.
fn commands_report(limit: Option<f64>) -> Report {
    let times = |start: f64| [("command/count", start), ("command/render", 9_000_000.0)];
    let peaks = |mut record: RunRecord, count: u64| {
        for bench in &mut record.benches {
            bench.peak_memory = if bench.id.as_str() == "command/count" {
                vec![count, count + 4, count - 4]
            } else {
                vec![40_960, 40_964, 40_956]
            };
        }
        record
    };
    let versions: Vec<RunRecord> = (0..4)
        .map(|seed| peaks(record(&times(1_200_000.0), seed), 2_144))
        .collect();
    let mut head_times = times(1_200_000.0);
    head_times[1].1 = 13_500_000.0;
    let head = peaks(record(&head_times, 9), 51_036);
    let settings = Settings {
        peak_memory: limit,
        ..Settings::default()
    };
    compare::stored::against_stored("tally", &head, "work tree", &baseline(versions), &settings)
}

#[test]
fn commands_peak_memory_markdown_and_terminal() {
    use flamegate::report::Verdict;
    let report = commands_report(Some(0.25));
    let verdict = |report: &Report, id: &str| report.comparison(id).unwrap().verdict;
    assert_eq!(verdict(&report, "command/count"), Verdict::MoreMemory);
    assert_eq!(verdict(&report, "command/render"), Verdict::Regressed);
    insta::assert_snapshot!(
        "commands_markdown",
        String::from_utf8(Markdown.render(&report)).unwrap()
    );
    insta::assert_snapshot!(
        "commands_terminal",
        String::from_utf8(Terminal { color: false }.render(&report)).unwrap()
    );
    // Without a limit: reported, not failing.
    let reported = commands_report(None);
    assert_ne!(verdict(&reported, "command/count"), Verdict::MoreMemory);
    let check = reported
        .comparison("command/count")
        .unwrap()
        .peak_memory
        .clone();
    assert!(check.is_some_and(|c| c.moved() && !c.fails()));
}

/// A bisection: one benchmark with its culprit (and where its instructions
/// went), one left undecided between a skipped commit and the next, a
/// commit with another's machine code, hostile subjects and names.
fn bisect_report() -> flamegate::report::bisect::BisectReport {
    use flamegate::profile::hotspots::{FunctionShare, Hotspots};
    use flamegate::record::commit::{CommitSummary, DiffStat, PackageChange};
    use flamegate::report::bisect::*;
    let commit = |n: u8, subject: &str| CommitSummary {
        sha: format!("{n:x}").repeat(40),
        subject: subject.into(),
        author: "Ann <b>Dev</b>".into(),
        date: "2026-12-01T10:00:00Z".into(),
    };
    let step = |n: u8, subject: &str, outcome: StepOutcome| Step {
        commit: commit(n, subject),
        outcome,
        build_seconds: 4.25,
        measure_seconds: 2.5,
    };
    BisectReport {
        schema: BISECT_SCHEMA,
        suite: "shop".into(),
        good: commit(1, "v1.2.0"),
        bad: commit(15, "main | *bold*"),
        commits: 15,
        any_change: false,
        benchmarks: vec![
            BenchBisection {
                id: "dups/find/3200".into(),
                unit: flamegate::record::SampleUnit::Instructions,
                good_level: 494_700.0,
                bad_level: 11_130_000.0,
                change: 21.49,
                outcome: BisectOutcome::Culprit(Box::new(Culprit {
                    commit: commit(8, "simpler duplicate check"),
                    parent: "7".repeat(40),
                    parent_level: 513_400.0,
                    level: 11_130_000.0,
                    change: 20.67,
                    share: 0.99,
                    interval: None,
                    verdict: None,
                    diff: DiffStat {
                        files: 1,
                        insertions: 6,
                        deletions: 3,
                        paths: vec!["src/lib.rs".into()],
                    },
                    hotspots: Some(Hotspots {
                        base_samples: 513_400,
                        head_samples: 11_130_000,
                        by_self: vec![FunctionShare {
                            name: "tiny::find_duplicates".into(),
                            self_base: 0.07,
                            self_head: 1.0,
                            inclusive_base: 0.07,
                            inclusive_head: 1.0,
                        }],
                        by_inclusive: Vec::new(),
                        new_functions: Vec::new(),
                        summary: "`tiny::find_duplicates` +11.08M instructions per iteration in its own code".into(),
                        instructions: true,
                    }),
                    dependencies: vec![
                        DependencyChange {
                            package: PackageChange {
                                name: "dup-find".into(),
                                before: vec!["0.1.0".into()],
                                after: vec!["0.2.0".into()],
                            },
                            instructions_before: Some(480_000.0),
                            instructions_after: Some(11_100_000.0),
                            share: Some(0.96),
                        },
                        DependencyChange {
                            package: PackageChange {
                                name: "`evil`|pkg".into(),
                                before: vec![],
                                after: vec!["1.0.0".into()],
                            },
                            instructions_before: Some(0.0),
                            instructions_after: Some(0.0),
                            share: Some(0.0),
                        },
                    ],
                    profiles: None,
                    flamegraphs: Vec::new(),
                })),
            },
            BenchBisection {
                id: "parse/`large`|x".into(),
                unit: flamegate::record::SampleUnit::Instructions,
                good_level: 1_000.0,
                bad_level: 1_200.0,
                change: 0.2,
                outcome: BisectOutcome::Undecided {
                    candidates: vec![commit(11, "half a <script>"), commit(12, "finish it")],
                },
            },
        ],
        steps: vec![
            step(1, "v1.2.0", StepOutcome::Measured),
            step(15, "main | *bold*", StepOutcome::Measured),
            step(7, "changelog", StepOutcome::Measured),
            step(
                11,
                "half a <script>",
                StepOutcome::Skipped {
                    reason: "building the benchmarks failed (exit status: 101)".into(),
                },
            ),
            step(
                8,
                "simpler duplicate check",
                StepOutcome::SameExecutables {
                    as_commit: "a".repeat(40),
                },
            ),
        ],
        seconds: 33.4,
        notes: Vec::new(),
    }
}

/// The same bisection timed: levels in time, the culprit's interval and
/// verdict against its parent, its retest among the steps, a dependency
/// not attributed.
fn timed_bisect_report() -> flamegate::report::bisect::BisectReport {
    use flamegate::report::bisect::*;
    let mut report = bisect_report();
    report.benchmarks.truncate(1);
    let bench = &mut report.benchmarks[0];
    bench.unit = flamegate::record::SampleUnit::Nanoseconds;
    bench.good_level = 1_250.0;
    bench.bad_level = 28_400.0;
    let BisectOutcome::Culprit(culprit) = &mut bench.outcome else {
        unreachable!()
    };
    culprit.parent_level = 1_262.0;
    culprit.level = 28_100.0;
    culprit.interval = Some([19.8, 22.9]);
    culprit.verdict = Some(flamegate::report::Verdict::Regressed);
    culprit.hotspots = None;
    culprit.flamegraphs = vec![
        "flamegraphs/bisect-dups_find_3200.svg".into(),
        "flamegraphs/bisect-dups_find_3200.diff.svg".into(),
    ];
    culprit.dependencies.truncate(1);
    let dependency = &mut culprit.dependencies[0];
    dependency.instructions_before = None;
    dependency.instructions_after = None;
    dependency.share = None;
    let retest = Step {
        outcome: StepOutcome::Retested {
            against: "7".repeat(40),
        },
        ..report.steps[4].clone()
    };
    report.steps.push(retest);
    report
        .notes
        .push(flamegate::record::note::Note::BisectedByTiming {
            any_change: false,
            good: "1".repeat(40),
            bad: "f".repeat(40),
        });
    report
}

#[test]
fn bisect_markdown_and_terminal() {
    let timed = timed_bisect_report();
    insta::assert_snapshot!(
        "bisect_timed_markdown",
        flamegate::render::bisect::markdown(&timed)
    );
    insta::assert_snapshot!(
        "bisect_timed_terminal",
        flamegate::render::bisect::terminal(&timed)
    );
    let report = bisect_report();
    insta::assert_snapshot!(
        "bisect_markdown",
        flamegate::render::bisect::markdown(&report)
    );
    insta::assert_snapshot!(
        "bisect_terminal",
        flamegate::render::bisect::terminal(&report)
    );
}

/// `check --bisect`: the comment and the terminal name the commit of the
/// pull request under its regressions, and the dependencies whose update
/// a regression shows (only the lines that say so).
#[test]
fn check_bisect_names_the_commit_under_the_regressions() {
    use flamegate::report::bisect::BisectOutcome;
    let mut report = fixed_report();
    let regressed = report
        .with(flamegate::report::Verdict::Regressed)
        .next()
        .expect("the fixed report has a regression")
        .id
        .clone();
    let mut bisect = bisect_report();
    bisect.benchmarks[0].id = regressed.as_str().into();
    let BisectOutcome::Culprit(culprit) = &bisect.benchmarks[0].outcome else {
        unreachable!()
    };
    let dependencies = culprit.dependencies.clone();
    report
        .comparisons
        .iter_mut()
        .find(|c| c.id == regressed)
        .unwrap()
        .dependencies = dependencies;
    report.bisect = Some(Box::new(bisect));
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    let start = markdown
        .find("**Which commit**")
        .expect("a which-commit section");
    // The heading, its list and the dependencies.
    let section: Vec<&str> = markdown[start..].splitn(4, "\n\n").take(3).collect();
    insta::assert_snapshot!("check_bisect_markdown", section.join("\n\n"));
    let terminal = String::from_utf8(Terminal { color: false }.render(&report)).unwrap();
    let lines: Vec<&str> = terminal
        .lines()
        .filter(|l| l.starts_with("commit: ") || l.starts_with("dependency "))
        .collect();
    insta::assert_snapshot!("check_bisect_terminal", lines.join("\n"));
}
