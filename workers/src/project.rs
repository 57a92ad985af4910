//! A config folder as a whole: every segment (and, as they are added, campaigns and templates),
//! loaded and cross-checked, with every problem located.
//!
//! ```no_run
//! let (project, errors) = jalin_workers::project::Project::load("config".as_ref());
//! for e in &errors { eprintln!("{e}"); }
//! println!("{} segments", project.segments.len());
//! ```

use jalin_engine::config::ConfigError;
use jalin_engine::segments::{SegmentSet, load_segments};
use std::path::{Path, PathBuf};

/// Everything in a config folder that loaded cleanly.
#[derive(Debug, Default)]
pub struct Project {
    /// The folder.
    pub dir: PathBuf,
    /// `segments/*.toml`.
    pub segments: SegmentSet,
}

impl Project {
    /// Loads `dir`, returning what is valid and every error (an empty list means all is valid).
    pub fn load(dir: &Path) -> (Project, Vec<ConfigError>) {
        let shown = dir.display().to_string();
        let mut errors = Vec::new();
        if !dir.is_dir() {
            errors.push(ConfigError {
                file: shown,
                line: 1,
                column: 1,
                path: String::new(),
                message: "the config folder does not exist (use --config DIR)".into(),
            });
            return (Project::default(), errors);
        }
        let (segments, mut segment_errors) =
            load_segments(&dir.join("segments"), &format!("{shown}/segments"));
        errors.append(&mut segment_errors);
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        (
            Project {
                dir: dir.to_owned(),
                segments,
            },
            errors,
        )
    }
}
