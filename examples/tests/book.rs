//! The guide cannot rot: every internal link and anchor resolves, every
//! included file and anchor exists, and every Rust block is an include of a
//! compiled file, never a free-standing snippet.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn book_sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

fn chapters() -> Vec<PathBuf> {
    let mut chapters: Vec<PathBuf> = fs::read_dir(book_sources())
        .expect("book/src")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    chapters.sort();
    chapters
}

/// A chapter's text outside fenced code blocks, and its fenced blocks with
/// their info strings.
fn split(text: &str) -> (String, Vec<(String, String)>) {
    let mut prose = String::new();
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    (prose, blocks)
}

/// The ids mdbook gives a chapter's headings.
fn heading_ids(text: &str) -> BTreeSet<String> {
    split(text)
        .0
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .chars()
                .filter_map(|c| {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        Some(c.to_ascii_lowercase())
                    } else if c.is_whitespace() {
                        Some('-')
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect()
}

/// Link targets in markdown prose: `](target)`.
fn link_targets(prose: &str) -> Vec<String> {
    prose
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| {
            target
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn internal_links_and_anchors_resolve() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).expect("a chapter");
        for target in link_targets(&split(&text).0) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if file.is_empty() {
                chapter.clone()
            } else {
                book_sources().join(file)
            };
            let Ok(linked_text) = fs::read(&linked) else {
                problems.push(format!("{}: no file {target}", chapter.display()));
                continue;
            };
            if !anchor.is_empty()
                && !heading_ids(&String::from_utf8_lossy(&linked_text)).contains(anchor)
            {
                problems.push(format!(
                    "{}: no heading #{anchor} in {file}",
                    chapter.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    assert!(checked > 20, "the links were found ({checked})");
}

#[test]
fn every_rust_block_includes_a_compiled_file_and_its_anchor() {
    let mut problems = Vec::new();
    let mut includes = 0;
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).expect("a chapter");
        for (info, body) in split(&text).1 {
            if !info.starts_with("rust") {
                continue;
            }
            for line in body.lines().filter(|line| !line.trim().is_empty()) {
                let Some(include) = line
                    .trim()
                    .strip_prefix("{{#include ")
                    .and_then(|rest| rest.strip_suffix("}}"))
                else {
                    problems.push(format!(
                        "{}: Rust that is not an include: {line}",
                        chapter.display()
                    ));
                    continue;
                };
                includes += 1;
                let (file, anchor) = include.split_once(':').unwrap_or((include, ""));
                let Ok(source) = fs::read_to_string(book_sources().join(file)) else {
                    problems.push(format!("{}: no file {file}", chapter.display()));
                    continue;
                };
                let has_anchor = anchor.is_empty()
                    || (source.contains(&format!("ANCHOR: {anchor}\n"))
                        && source.contains(&format!("ANCHOR_END: {anchor}\n")));
                if !has_anchor {
                    problems.push(format!(
                        "{}: no anchor {anchor} in {file}",
                        chapter.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(includes > 20, "the includes were found ({includes})");
}
