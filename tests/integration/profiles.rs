//! Profiles: pprof protobuf fixtures from real runs of the demo's
//! `skus/find_duplicates` (hash set vs nested loop), and hostile symbols.

use flamegate::baseline::Baseline;
use flamegate::compare::{self, settings::Settings};
use flamegate::error::RecordSource;
use flamegate::profile::fold::{Sampled, encode_as_pprof, fold, fold_file};
use flamegate::profile::hotspots::hotspots;
use flamegate::record::FoldedStacks;
use flamegate::render::Renderer;
use flamegate::render::flamegraph::{differential_folded, differential_svg, flamegraph_svg};
use flamegate::render::markdown::Markdown;

use crate::support::*;

fn hashed() -> FoldedStacks {
    fold_file(
        &fixture("pprof/find_duplicates_hashed.pb"),
        Sampled::Benchmark,
    )
    .unwrap()
}

fn quadratic() -> FoldedStacks {
    fold_file(
        &fixture("pprof/find_duplicates_quadratic.pb"),
        Sampled::Benchmark,
    )
    .unwrap()
}

/// The `<title>` of every frame in an SVG: its structure, without geometry.
fn frame_titles(svg: &str) -> Vec<String> {
    let document = parse_svg(svg).expect("the SVG is well-formed XML");
    document
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

#[test]
fn pprof_fixtures_fold_to_the_benchmarks_own_frames() {
    let folded = quadratic();
    assert!(folded.total() > 100, "{}", folded.total());
    // The body: the bench closure, plus dropping its output inside
    // criterion's loop (measured time too).
    let in_closure: u64 = folded
        .iter()
        .filter(|(s, _)| s.starts_with("shop::skus::{{closure}}"))
        .map(|(_, c)| *c)
        .sum();
    assert!(
        in_closure * 10 > folded.total() * 9,
        "{}",
        folded.to_folded_text()
    );
    for (stack, _) in folded.iter() {
        assert!(
            !stack.contains("criterion::") && !stack.contains("pprof::"),
            "{stack}"
        );
    }
    insta::assert_snapshot!("folded_quadratic", folded.to_folded_text());
    insta::assert_snapshot!("folded_hashed", hashed().to_folded_text());
}

#[test]
fn the_differential_shows_the_nested_loop_growing() {
    let diff = differential_folded(&hashed(), &quadratic()).unwrap();
    insta::assert_snapshot!("differential_folded", diff);
    let svg = String::from_utf8(
        differential_svg("skus/find_duplicates", &hashed(), &quadratic()).unwrap(),
    )
    .unwrap();
    let titles = frame_titles(&svg);
    assert!(titles.iter().any(|t| t.contains("contains")), "{titles:?}");
    insta::assert_debug_snapshot!("differential_svg_frames", titles);
}

#[test]
fn hotspots_name_the_nested_loop_function() {
    let h = hotspots(Some(&hashed()), &quadratic());
    assert!(
        h.summary.starts_with("shop::find_duplicate_skus self"),
        "{}",
        h.summary
    );
    assert_eq!(h.by_self[0].name, "shop::find_duplicate_skus");
    assert!(h.by_self[0].self_head > 0.9, "{:?}", h.by_self[0]);
    assert!(
        h.new_functions.iter().any(|f| f.contains("contains")),
        "{:?}",
        h.new_functions
    );
    insta::assert_json_snapshot!(
        "hotspots_find_duplicates",
        rounded(serde_json::to_value(&h).unwrap())
    );
}

/// A pprof profile with one stack of `names` (leaf last), 10 samples.
fn profile_with(names: &[&str]) -> Vec<u8> {
    encode_as_pprof(&[(names.iter().map(|n| n.to_string()).collect(), 10)])
}

#[test]
fn hostile_symbols_are_escaped_in_svg_and_markdown() {
    let hostile = [
        "<script>alert(1)</script>",
        "a&b",
        "say \"hi\"",
        "x|y",
        "`tick`",
        "@org/team",
        "::error::forged",
    ];
    let folded = fold(&profile_with(&hostile)).unwrap();
    assert_eq!(folded.total(), 10);
    let svg = String::from_utf8(flamegraph_svg("<b>title</b>", &folded).unwrap()).unwrap();
    let titles = frame_titles(&svg);
    assert!(
        titles
            .iter()
            .any(|t| t.contains("<script>alert(1)</script>")),
        "the name survives as text: {titles:?}"
    );
    assert!(!svg.contains("<script>alert"), "raw markup in the SVG");

    // The same names as a regressed benchmark's hotspots, in the PR comment.
    let mut base = record(&[("bench/x", 1000.0), ("bench/y", 1000.0)], 1);
    let mut head = record(&[("bench/x", 5000.0), ("bench/y", 1000.0)], 2);
    base.benches[0].profile = Some(FoldedStacks::default());
    head.benches[0].profile = Some(folded);
    let baseline = Baseline {
        record: base,
        source: RecordSource::File("base.json".into()),
        commit: None,
        chosen_as: "test".into(),
        history: vec![record(&[("bench/x", 1010.0), ("bench/y", 990.0)], 3)],
        notes: Vec::new(),
    };
    let report =
        compare::stored::against_stored("suite", &head, "head", &baseline, &Settings::default());
    assert!(
        report.comparisons[0].hotspots.is_some(),
        "{:?}",
        report.comparisons[0]
    );
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    assert_github_safe(&markdown, "suite", None);
}
