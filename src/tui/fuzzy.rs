//! A small fuzzy matcher for the conversation filter.
//!
//! Matching is on characters (so CJK works: "终聊" matches "终端聊天"),
//! case-insensitive, and a query of several words needs every word to match
//! (fzf-style AND). The score prefers contiguous runs, word starts and prefixes.

use super::text::fold_chars;

/// A successful match: a score (higher is better) and the matched char indices
/// of the haystack, for highlighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzyMatch {
    pub score: i64,
    pub positions: Vec<usize>,
}

const MATCH: i64 = 16;
const WORD_START: i64 = 10;
const CONSECUTIVE: i64 = 12;
const FIRST_CHAR: i64 = 8;
const GAP: i64 = 1;
const GAP_MAX: i64 = 8;

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '_' | '-' | '.' | '/' | '@' | '#' | ':' | '(' | '[')
}

/// Is char `i` of `hay` the start of a word? Every ideograph is a word of its own.
fn word_start(hay: &[char], orig: &[char], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let prev = orig[i - 1];
    let cur = orig[i];
    is_separator(prev)
        || (prev.is_lowercase() && cur.is_uppercase())
        || (prev.is_ascii_digit() != cur.is_ascii_digit() && cur.is_alphanumeric())
        || is_wide_script(hay[i])
}

fn is_wide_script(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF
        | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Best score of `needle` as a subsequence of `hay` (both folded). Tries every
/// start of the first char, then matches greedily, preferring word starts.
fn match_term(needle: &[char], hay: &[char], orig: &[char]) -> Option<FuzzyMatch> {
    let first = *needle.first()?;
    let mut best: Option<FuzzyMatch> = None;
    for (start, _) in hay.iter().enumerate().filter(|(_, c)| **c == first) {
        let mut positions = Vec::with_capacity(needle.len());
        positions.push(start);
        let mut at = start + 1;
        let mut ok = true;
        for (k, &nc) in needle.iter().enumerate().skip(1) {
            // Prefer continuing the run; else the next word start holding `nc` if the
            // rest still fits after it; else the next occurrence.
            if hay.get(at) == Some(&nc) {
                positions.push(at);
                at += 1;
                continue;
            }
            let rest = at..hay.len();
            let tail = &needle[k + 1..];
            let found = rest
                .clone()
                .find(|&i| {
                    hay[i] == nc && word_start(hay, orig, i) && is_subsequence(tail, &hay[i + 1..])
                })
                .or_else(|| rest.clone().find(|&i| hay[i] == nc));
            match found {
                Some(i) => {
                    positions.push(i);
                    at = i + 1;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            // Later starts cannot succeed where an earlier one failed on the same tail.
            break;
        }
        let score = score(&positions, hay, orig);
        if best.as_ref().is_none_or(|b| score > b.score) {
            best = Some(FuzzyMatch { score, positions });
        }
    }
    best
}

fn is_subsequence(needle: &[char], hay: &[char]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|c| it.any(|h| h == c))
}

fn score(positions: &[usize], hay: &[char], orig: &[char]) -> i64 {
    let mut s = 0;
    for (k, &p) in positions.iter().enumerate() {
        s += MATCH;
        if word_start(hay, orig, p) {
            s += WORD_START;
        }
        if p == 0 {
            s += FIRST_CHAR;
        }
        if k > 0 {
            let gap = (p - positions[k - 1] - 1) as i64;
            if gap == 0 {
                s += CONSECUTIVE;
            } else {
                s -= (gap * GAP).min(GAP_MAX);
            }
        }
    }
    // Shorter haystacks are a closer match for the same query.
    s - (hay.len() as i64 / 8)
}

/// Match `query` against `haystack`. An empty query matches everything with score 0.
pub fn fuzzy_match(query: &str, haystack: &str) -> Option<FuzzyMatch> {
    let orig: Vec<char> = haystack.chars().collect();
    let hay = fold_chars(haystack);
    let mut total = FuzzyMatch {
        score: 0,
        positions: Vec::new(),
    };
    for term in query.split_whitespace() {
        let needle = fold_chars(term);
        let m = match_term(&needle, &hay, &orig)?;
        total.score += m.score;
        total.positions.extend(m.positions);
    }
    total.positions.sort_unstable();
    total.positions.dedup();
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(q: &str, h: &str) -> i64 {
        fuzzy_match(q, h).map_or(i64::MIN, |m| m.score)
    }

    #[test]
    fn subsequence_case_insensitive() {
        assert!(fuzzy_match("tw", "Team Work").is_some());
        assert!(fuzzy_match("TEAM", "team work").is_some());
        assert!(fuzzy_match("xyz", "team work").is_none());
        assert!(fuzzy_match("wt", "team work").is_none(), "order matters");
    }

    #[test]
    fn cjk_matches_on_characters() {
        let m = fuzzy_match("终聊", "终端聊天").expect("match");
        assert_eq!(m.positions, vec![0, 2]);
        assert!(fuzzy_match("聊终", "终端聊天").is_none());
        assert!(fuzzy_match("产品", "产品讨论组 product").is_some());
    }

    #[test]
    fn every_word_must_match() {
        assert!(fuzzy_match("team work", "Team Work").is_some());
        assert!(fuzzy_match("team play", "Team Work").is_none());
        assert_eq!(fuzzy_match("", "anything").map(|m| m.score), Some(0));
    }

    #[test]
    fn ranking_prefers_prefixes_runs_and_word_starts() {
        assert!(score("bob", "bob") > score("bob", "jimbob"));
        assert!(score("tw", "Team Work") > score("tw", "network"));
        assert!(score("ali", "alice") > score("ali", "natalie"));
        assert!(score("pg", "public_group") > score("pg", "upgrade"));
    }

    #[test]
    fn preferring_a_word_start_never_loses_a_match() {
        // The word-start "b" after "_" leaves no "c"; the earlier "b" must be used.
        let m = fuzzy_match("abc", "axbc_b").expect("match");
        assert_eq!(m.positions, vec![0, 2, 3]);
    }

    #[test]
    fn positions_point_at_chars_for_highlighting() {
        let m = fuzzy_match("tw", "Team Work").expect("match");
        assert_eq!(m.positions, vec![0, 5]);
        let m = fuzzy_match("é", "Café").expect("match");
        assert_eq!(m.positions, vec![3]);
    }
}
