//! How commands report: progress lines for people on stderr, results on stdout as text or as one JSON document.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// How this run reports, set once by `main`.
static MODE: OnceLock<Output> = OnceLock::new();

/// The bar or spinner on screen, if any: lines printed meanwhile go above it.
static LIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

pub fn init(mode: Output) {
    let _ = MODE.set(mode);
}

/// Bars and spinners only for a person at a terminal with `--output text`; CI, pipes and JSON get plain lines.
fn live() -> bool {
    MODE.get().copied().unwrap_or(Output::Text) == Output::Text
        && std::io::stderr().is_terminal()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

fn line(text: String) {
    match LIVE.lock().ok().and_then(|l| l.clone()) {
        Some(bar) => bar.println(text),
        None => eprintln!("{text}"),
    }
}

/// Prints a progress line on stderr (never on stdout, which `--output json` keeps for the document).
pub fn step(message: impl std::fmt::Display) {
    line(format!("==> {message}"));
}

/// Prints an indented detail line (a stack event, a scenario's result) on stderr.
pub fn detail(message: impl std::fmt::Display) {
    line(format!("    {message}"));
}

/// Prints how long a phase took.
pub fn done(what: &str, started: Instant) {
    line(format!(
        "    {what} in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
}

/// A long piece of work: at a terminal, a spinner with the time taken (or a bar of `done / total` once the total
/// is known); elsewhere one `==>` line when it starts and one when it ends.
pub struct Task {
    what: String,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Task {
    pub fn start(what: impl Into<String>) -> Task {
        let what = what.into();
        let bar = live().then(|| {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(what.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        match &bar {
            Some(bar) => {
                if let Ok(mut live) = LIVE.lock() {
                    *live = Some(bar.clone());
                }
            }
            None => step(&what),
        }
        Task {
            what,
            started: Instant::now(),
            bar,
        }
    }

    /// From now on a bar: `done` of `total` (`unit` after the numbers).
    pub fn total(&self, total: u64, unit: &str) {
        if let Some(bar) = &self.bar {
            let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}})");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_length(total);
        }
    }

    /// One more done; a total that proves short (CloudFormation reports a replaced resource twice, created and
    /// deleted) grows rather than overflow the bar.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            if bar.length().is_some_and(|len| bar.position() >= len) {
                bar.inc_length(1);
            }
            bar.inc(1);
        }
    }

    /// Whether a bar or spinner shows this task (else plain lines do).
    pub fn is_live(&self) -> bool {
        self.bar.is_some()
    }

    /// What the work is doing now (shown beside the spinner; plain output prints nothing for it).
    pub fn note(&self, message: impl std::fmt::Display) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {message}", self.what));
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Ok(mut live) = LIVE.lock() {
                *live = None;
            }
        }
        done(&self.what, self.started);
    }
}

/// Turns riv-deploy's progress lines into tasks: a line ending in `…` announces work that lasts until the next
/// line (uploading, creating the change set), shown as a spinner at a terminal; an indented line is a detail of
/// the work under way; other lines print as steps.
/// Within a `parent` task already on screen (compiling), an announced piece of work only changes its note.
pub struct Phases<'a> {
    parent: Option<&'a Task>,
    current: Mutex<Option<Task>>,
    /// The bar's total for the next announced work, when it is known beforehand.
    next_total: Mutex<Option<(u64, &'static str)>>,
}

impl<'a> Phases<'a> {
    pub fn new() -> Phases<'static> {
        Phases {
            parent: None,
            current: Mutex::new(None),
            next_total: Mutex::new(None),
        }
    }

    pub fn within(parent: &'a Task) -> Phases<'a> {
        Phases {
            parent: Some(parent),
            current: Mutex::new(None),
            next_total: Mutex::new(None),
        }
    }

    pub fn line(&self, message: &str) {
        if let Some(detail) = message.strip_prefix("  ") {
            // A detail of the work under way: beside the parent's spinner, or an indented line.
            match self.parent {
                Some(parent) if parent.is_live() => parent.note(detail.trim_start()),
                _ => self::detail(detail.trim_start()),
            }
            return;
        }
        self.end();
        match (message.strip_suffix('…'), self.parent) {
            (Some(work), Some(parent)) if parent.is_live() => parent.note(work),
            (Some(work), None) => {
                let task = Task::start(work);
                if let Some((total, unit)) = self.next_total.lock().ok().and_then(|mut n| n.take())
                {
                    task.total(total, unit);
                }
                if let Ok(mut current) = self.current.lock() {
                    *current = Some(task);
                }
            }
            _ => step(message),
        }
    }

    /// The next announced work is a bar of `total` `unit`s (moved on by [`Phases::inc`]).
    pub fn next_total(&self, total: u64, unit: &'static str) {
        if let Ok(mut next) = self.next_total.lock() {
            *next = Some((total, unit));
        }
    }

    /// One more done in the announced work, if any.
    pub fn inc(&self) {
        if let Some(task) = self.current.lock().ok().as_ref().and_then(|c| c.as_ref()) {
            task.inc();
        }
    }

    /// Ends the announced work now (before a prompt, or when the next thing is not a line).
    pub fn end(&self) {
        if let Ok(mut current) = self.current.lock() {
            current.take();
        }
    }
}

/// Exit codes, for scripts: 0 success, 1 failure, 2 a usage error (clap exits with it), 3 "changes found" (`drift`,
/// `fleet drift` and `fleet plan` when a stack differs from its template or would change).
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const CHANGES_FOUND: u8 = 3;
}

/// Not a failure: the command worked and found changes; it exits [`exit::CHANGES_FOUND`] with this message.
#[derive(Debug)]
pub struct ChangesFound(pub String);

impl std::fmt::Display for ChangesFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChangesFound {}

/// Prints a failed command's error for a person: the error on one line, then each cause as a `caused by:` line
/// (first line of each, without repeating what the line above already says). `verbose` (or RUST_BACKTRACE)
/// prints the whole chain with its backtrace instead.
pub fn report_error(error: &anyhow::Error, verbose: bool) {
    if verbose || std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        eprintln!("error: {error:?}");
        return;
    }
    let first = |text: String| text.lines().next().unwrap_or_default().to_string();
    // The error itself in full (a list of failed deletes is several lines); its causes one line each.
    let mut above = error.to_string();
    eprintln!("error: {above}");
    for cause in error.chain().skip(1) {
        let line = first(cause.to_string());
        if line.is_empty() || above.contains(&line) {
            continue;
        }
        let shown = if line.len() > 200 {
            format!("{}…", &line[..line.floor_char_boundary(200)])
        } else {
            line.clone()
        };
        eprintln!("  caused by: {shown}");
        above = line;
    }
}
