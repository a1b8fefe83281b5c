//! The search itself, apart from how commits are measured: which commit to
//! look at next, given what is known of the others. Commits are indices
//! into a first-parent range, 0 the good end and the last the bad end.

/// What is known of one commit of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Unknown,
    /// Its level is the good end's.
    Good,
    /// Its level is the bad end's.
    Bad,
    /// It cannot be measured (does not build, has no such benchmark), or
    /// its measurement could not say which end it is nearer.
    Skipped,
}

/// What the search does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Measure this commit.
    Probe(usize),
    /// The first bad commit, with the good one before it (its parent).
    Culprit(usize),
    /// The first bad commit is one of `first..=last`: the commits between
    /// the last good and the first bad one are all skipped.
    Undecided { first: usize, last: usize },
}

/// The next step: the unknown commit nearest the middle of the commits
/// between the last good one before the first bad one and that bad one.
/// Where something between them was skipped, the middle moves to the
/// nearest commit that can still be measured (as `git bisect skip`).
pub fn next(statuses: &[Status]) -> Next {
    let (good, bad) = bounds(statuses);
    if bad == good + 1 {
        return Next::Culprit(bad);
    }
    let middle = good + (bad - good) / 2;
    let unknown = (good + 1..bad)
        .filter(|i| statuses[*i] == Status::Unknown)
        .min_by_key(|i| (i.abs_diff(middle), *i));
    match unknown {
        Some(probe) => Next::Probe(probe),
        None => Next::Undecided {
            first: good + 1,
            last: bad,
        },
    }
}

/// The last good commit before the first bad one, and that bad one.
fn bounds(statuses: &[Status]) -> (usize, usize) {
    let bad = statuses
        .iter()
        .position(|s| *s == Status::Bad)
        .unwrap_or(statuses.len().saturating_sub(1));
    let good = statuses[..bad]
        .iter()
        .rposition(|s| *s == Status::Good)
        .unwrap_or(0);
    (good, bad)
}

/// How many commits may still be the first bad one.
pub fn remaining(statuses: &[Status]) -> usize {
    let (good, bad) = bounds(statuses);
    bad - good
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    /// Bisect a range whose first bad commit is `culprit`, skipping
    /// `skipped`; returns the result and the commits measured between the
    /// ends.
    fn bisect(len: usize, culprit: usize, skipped: &[usize]) -> (Next, Vec<usize>) {
        let mut statuses = vec![Unknown; len];
        statuses[0] = Good;
        statuses[len - 1] = Bad;
        let mut probed = Vec::new();
        loop {
            match next(&statuses) {
                Next::Probe(i) => {
                    probed.push(i);
                    statuses[i] = if skipped.contains(&i) {
                        Skipped
                    } else if i >= culprit {
                        Bad
                    } else {
                        Good
                    };
                }
                done => {
                    if let Next::Culprit(_) = done {
                        assert_eq!(remaining(&statuses), 1);
                    }
                    return (done, probed);
                }
            }
        }
    }

    #[test]
    fn a_culprit_among_fifteen_commits_takes_four_probes() {
        for culprit in 1..16 {
            let (found, probed) = bisect(16, culprit, &[]);
            assert_eq!(found, Next::Culprit(culprit));
            assert!(probed.len() <= 4, "{culprit}: {probed:?}");
        }
    }

    #[test]
    fn a_skipped_commit_is_stepped_around_and_named_when_it_hides_the_culprit() {
        let (found, probed) = bisect(16, 8, &[11]);
        assert_eq!(found, Next::Culprit(8));
        assert!(probed.contains(&11), "{probed:?}");
        // The culprit's parent cannot be measured: either may be first.
        let (found, _) = bisect(16, 9, &[8]);
        assert_eq!(found, Next::Undecided { first: 8, last: 9 });
    }

    #[test]
    fn the_ends_alone_make_the_bad_end_the_culprit() {
        assert_eq!(next(&[Good, Bad]), Next::Culprit(1));
        assert_eq!(
            next(&[Good, Skipped, Bad]),
            Next::Undecided { first: 1, last: 2 }
        );
    }
}
