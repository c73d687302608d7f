//! The models' `pattern` constraints with `regex-lite` (already a workspace dependency; the full `regex` crate
//! is not one): a value satisfies a pattern when the whole value matches, as AWS's validator (Java's
//! `Matcher.matches`) decides.
//!
//! Two Java features the models use are outside `regex-lite`, so a pattern is translated first:
//! - a leading negative lookahead of a literal (`^(?!aws:)…`, tag keys) becomes a refused prefix;
//! - the Unicode classes `\p{L}`, `\p{Z}`, `\p{N}` (tags) become their ASCII members, and the value's non-ASCII
//!   letters, separators and numbers are mapped to an ASCII member of the same class before matching. Rust's
//!   `char::is_alphabetic`/`is_numeric`/`is_whitespace` stand in for the Unicode categories.

use regex_lite::Regex;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A model pattern ready to match.
#[derive(Debug)]
struct Compiled {
    regex: Regex,
    refused_prefix: Option<String>,
    letters: bool,
    numbers: bool,
    separators: bool,
}

/// Each pattern compiled once; `None` remembers one that cannot be translated.
type Cache = HashMap<&'static str, Option<Arc<Compiled>>>;

/// Whether `value` satisfies `pattern`; `None` when the pattern cannot be translated (the unit tests compile
/// every pattern of the generated tables, so this is a new model's problem, not a request's).
pub(super) fn matches(pattern: &'static str, value: &str) -> Option<bool> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let compiled = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(pattern)
            .or_insert_with(|| compile(pattern).map(Arc::new))
            .clone()?
    };
    if let Some(prefix) = &compiled.refused_prefix {
        if value.starts_with(prefix.as_str()) {
            return Some(false);
        }
    }
    let mapped: String = value
        .chars()
        .map(|c| match c {
            c if c.is_ascii() => c,
            c if compiled.letters && c.is_alphabetic() => 'a',
            c if compiled.numbers && c.is_numeric() => '0',
            c if compiled.separators && c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    Some(compiled.regex.is_match(&mapped))
}

fn compile(pattern: &str) -> Option<Compiled> {
    let mut rest = pattern;
    let mut anchored = false;
    if let Some(after) = rest.strip_prefix('^') {
        rest = after;
        anchored = true;
    }
    let mut refused_prefix = None;
    if let Some(after) = rest.strip_prefix("(?!") {
        let end = after.find(')')?;
        let literal = &after[..end];
        // Only a plain literal lookahead is understood.
        if literal.chars().any(|c| "\\[](){}.*+?|^$".contains(c)) {
            return None;
        }
        refused_prefix = Some(literal.to_string());
        rest = &after[end + 1..];
    }
    let rest = if anchored {
        format!("^{rest}")
    } else {
        rest.to_string()
    };
    let (mut translated, mut in_class) = (String::new(), false);
    let (mut letters, mut numbers, mut separators) = (false, false, false);
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                if next == 'p' {
                    let class: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let ascii = match class.trim_start_matches('{') {
                        "L" => {
                            letters = true;
                            "a-zA-Z"
                        }
                        "N" => {
                            numbers = true;
                            "0-9"
                        }
                        "Z" => {
                            separators = true;
                            " "
                        }
                        _ => return None,
                    };
                    if in_class {
                        translated.push_str(ascii);
                    } else {
                        translated.push_str(&format!("[{ascii}]"));
                    }
                } else if next == 'P' {
                    return None;
                } else {
                    translated.push('\\');
                    translated.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                translated.push(c);
                // A `]` or `^]` right after the opening bracket is a member, not the end.
                if chars.peek() == Some(&'^') {
                    translated.push(chars.next()?);
                }
                if chars.peek() == Some(&']') {
                    translated.push(chars.next()?);
                }
            }
            ']' if in_class => {
                in_class = false;
                translated.push(c);
            }
            c => translated.push(c),
        }
    }
    let regex = Regex::new(&format!("^(?:{translated})$")).ok()?;
    Some(Compiled {
        regex,
        refused_prefix,
        letters,
        numbers,
        separators,
    })
}
