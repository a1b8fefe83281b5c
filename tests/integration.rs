//! flamegate's one integration test binary.

#[path = "integration/support.rs"]
mod support;

#[path = "integration/baseline_git.rs"]
mod baseline_git;
#[path = "integration/criterion_reader.rs"]
mod criterion_reader;
#[path = "integration/paired.rs"]
mod paired;
#[path = "integration/profiles.rs"]
mod profiles;
#[path = "integration/real_bench.rs"]
mod real_bench;
#[path = "integration/render_snapshots.rs"]
mod render_snapshots;
