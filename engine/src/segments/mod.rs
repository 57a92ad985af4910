//! Segments: who a campaign is for, written as rule trees in `config/segments/*.toml` and
//! compiled to parameterised SQL for SQLite and PostgreSQL.
//!
//! ```toml
//! # config/segments/lapsed-distributors.toml
//! description = "Distributors who bought at least 3 times last year, none in 90 days"
//!
//! [rule]
//! all = [
//!   { field = "kind", eq = "distributor" },
//!   { orders = { count = { gte = 3 }, within_days = 365 } },
//!   { days_since_last_order = { gte = 90 } },
//!   { consent = "email" },
//! ]
//! ```
//!
//! Values never enter SQL text: the compiler binds each one. Leaves are two-valued (a missing
//! value compares false, except `ne` / `not_in`, which a missing value satisfies), so `not`
//! means exactly "everyone else", the same in SQL and in [`reference`], the in-memory
//! evaluator the compiler is tested against.

mod bind;
mod compile;
mod parse;
pub mod reference;
mod rule;
mod run;

pub use compile::{Compiled, Compiler};
pub use rule::{
    Cmp, Column, EventFilter, Field, FieldOp, OrderFilter, OrderMeasure, Rule, Score, Value,
    Window, created_at_range,
};
pub use run::{PreviewRow, count_members, members, preview};

pub use crate::config::valid_name;
use crate::config::{ConfigError, Node, SourceFile};
use std::collections::BTreeMap;
use std::path::Path;

/// One segment: its name (the file name), what it is for, and its rule.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The file name without `.toml`.
    pub name: String,
    /// What the segment is for, in a sentence.
    pub description: String,
    /// Who is in it.
    pub rule: Rule,
    /// The file it came from.
    pub file: String,
}

/// Every segment of a config folder, checked for unknown references and cycles.
#[derive(Debug, Clone, Default)]
pub struct SegmentSet {
    segments: BTreeMap<String, Segment>,
}

impl SegmentSet {
    /// A set from segments already parsed (tests, tools).
    pub fn from_segments(segments: impl IntoIterator<Item = Segment>) -> Self {
        SegmentSet {
            segments: segments.into_iter().map(|s| (s.name.clone(), s)).collect(),
        }
    }

    /// The segment called `name`.
    pub fn get(&self, name: &str) -> Option<&Segment> {
        self.segments.get(name)
    }

    /// Every segment, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.segments.keys().map(String::as_str).collect()
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Reports references to segments that do not exist and cycles (a segment that includes
    /// itself, directly or through others). `broken` names segment files that exist but did
    /// not parse (they have their own errors). Segments in a cycle, or that depend on a missing
    /// or broken one, are removed from the set so that everything left compiles.
    pub fn check_references(&mut self, broken: &[String]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut names: Vec<&str> = self.segments.keys().map(String::as_str).collect();
        names.extend(broken.iter().map(String::as_str));
        for s in self.segments.values() {
            for (name, at) in s.rule.segment_refs() {
                if !names.contains(&name) {
                    errors.push(at.error(format!(
                        "unknown segment {name:?} ({})",
                        crate::config::hint(name, &names)
                    )));
                }
            }
        }
        let mut in_cycle = Vec::new();
        for start in self.segments.keys() {
            // Depth-first from each segment; a path that returns to `start` is a cycle.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
            while let Some((at, path)) = stack.pop() {
                let Some(seg) = self.segments.get(&at) else {
                    continue;
                };
                for (next, loc) in seg.rule.segment_refs() {
                    if next == start {
                        if !in_cycle.contains(start) {
                            let mut chain = path.clone();
                            chain.push(next.to_owned());
                            errors.push(loc.error(format!(
                                "segments refer to each other in a circle: {}",
                                chain.join(" → ")
                            )));
                            in_cycle.push(start.clone());
                        }
                    } else if !path.iter().any(|p| p == next) && path.len() < 64 {
                        let mut p = path.clone();
                        p.push(next.to_owned());
                        stack.push((next.to_owned(), p));
                    }
                }
            }
        }
        for name in in_cycle {
            self.segments.remove(&name);
        }
        // Drop segments that depend on one that is not in the set, until none do.
        loop {
            let missing: Vec<String> = self
                .segments
                .values()
                .filter(|s| {
                    s.rule
                        .segment_refs()
                        .iter()
                        .any(|(n, _)| !self.segments.contains_key(*n))
                })
                .map(|s| s.name.clone())
                .collect();
            if missing.is_empty() {
                break;
            }
            for name in missing {
                self.segments.remove(&name);
            }
        }
        errors
    }
}

/// Parses one segment file; `name` is the segment's name.
pub fn parse_segment(src: &SourceFile, name: &str) -> Result<Segment, Vec<ConfigError>> {
    let doc = src.parse().map_err(|e| vec![e])?;
    let root = Node::root(src, &doc);
    let mut errors = Vec::new();
    root.check_keys(&["description", "rule"], &mut errors);
    let description = root
        .get("description")
        .and_then(|d| d.str(&mut errors).map(str::to_owned))
        .unwrap_or_default();
    let rule = root
        .require(
            "rule",
            "who is in the segment, e.g. [rule] all = [ … ]",
            &mut errors,
        )
        .and_then(|r| parse::parse_rule(&r, &mut errors));
    match rule {
        Some(rule) if errors.is_empty() => Ok(Segment {
            name: name.to_owned(),
            description,
            rule,
            file: src.name.clone(),
        }),
        _ => Err(errors),
    }
}

/// Loads `DIR/*.toml`, naming files relative to `shown` in messages. Returns the segments that
/// are valid and every problem found.
pub fn load_segments(dir: &Path, shown: &str) -> (SegmentSet, Vec<ConfigError>) {
    let (files, mut errors) = crate::config::read_toml_dir(dir, shown, "segment");
    let mut segments = Vec::new();
    let mut broken = Vec::new();
    for (name, src) in files {
        match parse_segment(&src, &name) {
            Ok(s) => segments.push(s),
            Err(mut es) => {
                errors.append(&mut es);
                broken.push(name);
            }
        }
    }
    let mut set = SegmentSet::from_segments(segments);
    errors.extend(set.check_references(&broken));
    (set, errors)
}

#[cfg(test)]
mod tests;
