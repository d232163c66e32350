//! `--format text`: a [`Diagnosis`] as a card for the terminal.
//!
//! Order follows what the on-call reader needs: the headline (service and specific
//! cause; task, cluster), what stopped it (stop code, reason, each container's exit
//! code, the telling reason read by its layers when it has them), the likely cause (the catalog's title and id) with its evidence, findings from the logs, numbered fixes, who stopped it, notes, and
//! the console link. Lines wrap at [`WIDTH`] columns so the card reads in an 80 to 100
//! column terminal. Colour (anstyle) only when the caller says so: the CLI decides from
//! the TTY and `NO_COLOR`. Untrusted text is redacted and has its control characters
//! shown as text, so a log line cannot drive the terminal.

use super::escape;
use super::json::time;
use crate::arn;
use crate::diagnose::Diagnosis;
use crate::evidence::StoppedBy;
use anstream::adapter::strip_str;
use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;
use textwrap::core::Fragment;
use textwrap::wrap_algorithms::wrap_first_fit;

/// Target line width.
pub const WIDTH: usize = 88;
/// Width of the label column in "what stopped it" and "stopped by".
const LABEL: usize = 16;

/// The terminal card for one diagnosis. Ends with a newline.
pub fn to_text(d: &Diagnosis, colour: bool) -> String {
    let p = Painter { colour };
    let mut out = String::new();
    headline(&mut out, &p, d);
    what_stopped_it(&mut out, &p, d);
    cause(&mut out, &p, d);
    checked(&mut out, &p, d);
    findings(&mut out, &p, d);
    fixes(&mut out, &p, d);
    if let Some(by) = &d.stopped_by {
        stopped_by(&mut out, &p, by, d.task.stopped_reason.as_deref());
    }
    notes(&mut out, &p, d);
    if let Some(url) = &d.console_url {
        // On a line of its own and never wrapped, so terminals can make it a link.
        section(&mut out, &p, "Open in the AWS console");
        let _ = writeln!(out, "{}", escape::terminal(url, false));
    }
    out
}

struct Painter {
    colour: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.colour && !text.is_empty() {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

fn bold() -> Style {
    Style::new().bold()
}
fn dim() -> Style {
    Style::new().dimmed()
}
fn heading() -> Style {
    AnsiColor::Cyan.on_default().bold()
}
fn red() -> Style {
    AnsiColor::Red.on_default().bold()
}
fn green() -> Style {
    AnsiColor::Green.on_default()
}
fn yellow() -> Style {
    AnsiColor::Yellow.on_default()
}
fn magenta() -> Style {
    AnsiColor::Magenta.on_default()
}

fn section(out: &mut String, p: &Painter, title: &str) {
    out.push('\n');
    let _ = writeln!(out, "{}", p.paint(heading(), title));
}

fn headline(out: &mut String, p: &Painter, d: &Diagnosis) {
    let title = escape::terminal(&super::headline_text(d), false);
    for (i, line) in wrap(&title, WIDTH).into_iter().enumerate() {
        let line = if i == 0 {
            p.paint(red(), &format!("✖ {line}"))
        } else {
            p.paint(red(), &format!("  {line}"))
        };
        let _ = writeln!(out, "{line}");
    }
    let t = &d.task;
    let mut parts = vec![format!(
        "task {}",
        escape::terminal(arn::task_id(&t.arn), false)
    )];
    if !t.cluster.is_empty() {
        parts.push(format!(
            "cluster {}",
            escape::terminal(arn::cluster_name(&t.cluster), false)
        ));
    }
    if let Some(group) = &t.group {
        let group = match group.strip_prefix("service:") {
            Some(service) => format!("service {service}"),
            None => group.replacen(':', " ", 1),
        };
        parts.push(escape::terminal(&group, false));
    }
    if let Some(region) = t.region.as_deref().or_else(|| arn::region(&t.arn)) {
        parts.push(escape::terminal(region, false));
    }
    let _ = writeln!(out, "  {}", p.paint(dim(), &parts.join(" · ")));
}

fn what_stopped_it(out: &mut String, p: &Painter, d: &Diagnosis) {
    let t = &d.task;
    section(out, p, "What stopped it");
    if let Some(code) = &t.stop_code {
        labelled(out, p, "Stop code", &escape::terminal(code.as_str(), false));
    }
    if let Some(reason) = &t.stopped_reason {
        labelled(out, p, "Stopped reason", &escape::terminal(reason, false));
    }
    if !t.containers.is_empty() {
        let name_width = t
            .containers
            .iter()
            .map(|c| escape::chars(&c.name))
            .max()
            .unwrap_or(0)
            .min(24);
        for (i, c) in t.containers.iter().enumerate() {
            let label = if i == 0 { "Containers" } else { "" };
            let name = pad(&escape::terminal(&c.name, false), name_width);
            let (code, style) = match c.exit_code {
                Some(0) => ("exit 0".to_string(), green()),
                Some(n) => (format!("exit {n}"), red()),
                None => ("no exit code".to_string(), dim()),
            };
            let reason = c
                .reason
                .as_deref()
                .map(|r| escape::terminal(r, false))
                .unwrap_or_default();
            // The reason wraps under itself, after the name and exit code.
            let indent = name_width + 2 + 13;
            let lines = wrap(&reason, WIDTH.saturating_sub(2 + LABEL + indent).max(24));
            let first = lines.first().map(String::as_str).unwrap_or("");
            let code = if first.is_empty() {
                p.paint(style, &code)
            } else {
                p.paint(style, &pad(&code, 13))
            };
            let head = format!("{name}  {code}{first}");
            let _ = write!(out, "  {}", p.paint(dim(), &pad(label, LABEL)));
            let _ = writeln!(out, "{}", head.trim_end());
            for line in lines.iter().skip(1) {
                let _ = writeln!(out, "  {}{line}", " ".repeat(LABEL + indent));
            }
        }
    }
    if let Some(layers) = &d.reason_layers {
        let of = layers
            .container
            .as_deref()
            .map(|c| format!("{}: ", escape::terminal(c, false)))
            .unwrap_or_default();
        labelled(
            out,
            p,
            "Read by layers",
            &format!("{of}{}", escape::terminal(&layers.joined(), false)),
        );
    }
    match (t.started_at, t.stopped_at) {
        (Some(start), Some(stop)) => {
            let ran = format!(
                "{} → {} ({})",
                time(&start),
                time(&stop),
                crate::time::duration((stop - start).num_seconds())
            );
            labelled(out, p, "Ran", &ran);
        }
        (None, Some(stop)) => labelled(out, p, "Stopped at", &time(&stop)),
        (Some(start), None) => labelled(out, p, "Started at", &time(&start)),
        (None, None) => {}
    }
}

fn cause(out: &mut String, p: &Painter, d: &Diagnosis) {
    let category = super::json::category(d);
    out.push('\n');
    let _ = writeln!(
        out,
        "{}  {}",
        p.paint(heading(), &format!("{} cause", d.confidence.word())),
        p.paint(dim(), &format!("[{category}]"))
    );
    // The catalog's title: the headline above names the specific cause.
    for line in wrap(&escape::terminal(&d.title, false), WIDTH - 2) {
        let _ = writeln!(out, "  {}", p.paint(bold(), &line));
    }
    for line in wrap(&escape::terminal(&d.summary, false), WIDTH - 2) {
        let _ = writeln!(out, "  {line}");
    }
    if !d.evidence.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "  {}", p.paint(bold(), "Evidence"));
        for e in &d.evidence {
            bullet(out, "  • ", &escape::terminal(e, false));
        }
    }
    if !d.proof.is_empty() {
        out.push('\n');
        let _ = writeln!(
            out,
            "  {}",
            p.paint(bold(), "Proof (checked in the account)")
        );
        for line in &d.proof {
            bullet(
                out,
                &format!("  {} ", p.paint(green(), "✓")),
                &escape::terminal(line, false),
            );
        }
    }
    if let Some(change) = d.key_change.as_ref().filter(|c| !d.proof.contains(c)) {
        out.push('\n');
        labelled(out, p, "What changed", &escape::terminal(change, false));
    }
}

/// What the probes checked besides the proof, what changed since the previous
/// deployment, and what they could not check. Nothing when the probes did not run.
fn checked(out: &mut String, p: &Painter, d: &Diagnosis) {
    let Some(probes) = &d.probes else {
        return;
    };
    if !d.ruled_out.is_empty() || !d.context.is_empty() || probes.memory.is_some() {
        section(out, p, "Also checked");
        for line in &d.ruled_out {
            bullet(out, "  ruled out: ", &escape::terminal(line, false));
        }
        for line in &d.context {
            bullet(out, "  • ", &escape::terminal(line, false));
        }
        if let Some(memory) = &probes.memory {
            bullet(
                out,
                "  memory ",
                &escape::terminal(&super::memory_graph::sparkline(memory), false),
            );
        }
    }
    if let Some(changes) = &probes.changes {
        section(
            out,
            p,
            &escape::terminal(&super::probes::changes_heading(changes), false),
        );
        if changes.changes.is_empty() {
            bullet(
                out,
                "  ",
                &escape::terminal(&super::probes::no_changes(changes), false),
            );
        }
        for change in &changes.changes {
            bullet(
                out,
                "  • ",
                &escape::terminal(&super::probes::change_line(change), false),
            );
        }
    }
    if let Some(story) = &probes.deployment {
        section(out, p, "Deployment");
        bullet(
            out,
            "  ",
            &escape::terminal(&super::probes::deployment_line(story), false),
        );
    }
    if !d.unchecked.is_empty() {
        section(out, p, "Not checked");
        for line in &d.unchecked {
            bullet(
                out,
                &format!("  {} ", p.paint(yellow(), "?")),
                &escape::terminal(line, false),
            );
        }
    }
}

fn findings(out: &mut String, p: &Painter, d: &Diagnosis) {
    if d.findings.is_empty() {
        return;
    }
    section(out, p, &format!("Findings ({})", d.findings.len()));
    for f in &d.findings {
        let kind = super::finding_label(f.kind);
        let container = f
            .container
            .as_deref()
            .map(|c| format!(" ({})", escape::terminal(c, false)))
            .unwrap_or_default();
        let head = format!("{}{container}: ", p.paint(magenta(), kind));
        let plain_head_len = escape::chars(kind) + escape::chars(&container) + 2;
        let detail = escape::terminal(&f.detail, false);
        // The first line shares its row with the head; the rest use the full width.
        let lines = wrap_hanging(
            &detail,
            (WIDTH - 4).saturating_sub(plain_head_len).max(24),
            WIDTH - 4,
        );
        let _ = writeln!(
            out,
            "  • {head}{}",
            lines.first().map(String::as_str).unwrap_or("")
        );
        for line in lines.iter().skip(1) {
            let _ = writeln!(out, "    {line}");
        }
        if let Some(line) = &f.line {
            for l in wrap(&escape::terminal(line, false), WIDTH - 8) {
                let _ = writeln!(out, "    {} {}", p.paint(dim(), "│"), p.paint(dim(), &l));
            }
        }
    }
}

fn fixes(out: &mut String, p: &Painter, d: &Diagnosis) {
    if d.fixes.is_empty() {
        return;
    }
    section(out, p, "What to do");
    let width = d.fixes.len().to_string().len();
    for (i, fix) in d.fixes.iter().enumerate() {
        let number = format!("{:>width$}. ", i + 1);
        bullet(
            out,
            &format!("  {}", p.paint(bold(), &number)),
            &escape::terminal(fix, false),
        );
    }
}

/// Who stopped it; the reason the caller gave only when it is not the stopped reason
/// shown above.
fn stopped_by(out: &mut String, p: &Painter, by: &StoppedBy, stopped_reason: Option<&str>) {
    section(out, p, "Stopped by");
    let who = match (&by.arn, &by.identity_type) {
        (Some(arn), Some(kind)) => format!("{arn} ({kind})"),
        (Some(arn), None) => arn.clone(),
        (None, Some(kind)) => kind.clone(),
        (None, None) => "unknown caller".to_string(),
    };
    labelled(out, p, "Caller", &escape::terminal(&who, false));
    if let Some(t) = &by.time {
        labelled(out, p, "At", &time(t));
    }
    if let Some(ip) = &by.source_ip {
        labelled(out, p, "From", &escape::terminal(ip, false));
    }
    if let Some(agent) = &by.user_agent {
        labelled(out, p, "User agent", &escape::terminal(agent, false));
    }
    if let Some(reason) = by.reason.as_deref().filter(|r| Some(*r) != stopped_reason) {
        labelled(out, p, "Reason given", &escape::terminal(reason, false));
    }
}

fn notes(out: &mut String, p: &Painter, d: &Diagnosis) {
    if d.notes.is_empty() {
        return;
    }
    section(out, p, "Notes");
    for n in &d.notes {
        bullet(
            out,
            &format!("  {} ", p.paint(yellow(), "!")),
            &escape::terminal(&n.text, false),
        );
    }
}

/// `  Label           value`, with the value wrapped under itself.
fn labelled(out: &mut String, p: &Painter, label: &str, value: &str) {
    let lines = wrap(value, WIDTH - 2 - LABEL);
    let _ = writeln!(
        out,
        "  {}{}",
        p.paint(dim(), &pad(label, LABEL)),
        lines.first().map(String::as_str).unwrap_or("")
    );
    for line in lines.iter().skip(1) {
        let _ = writeln!(out, "  {}{line}", " ".repeat(LABEL));
    }
}

/// A bulleted paragraph: `marker` then the text, continuation lines indented to match.
/// `marker` may carry colour codes; its visible width is measured without them.
fn bullet(out: &mut String, marker: &str, text: &str) {
    let visible = escape::chars(&strip_str(marker).to_string());
    let lines = wrap(text, WIDTH.saturating_sub(visible).max(24));
    let _ = writeln!(
        out,
        "{marker}{}",
        lines.first().map(String::as_str).unwrap_or("")
    );
    for line in lines.iter().skip(1) {
        let _ = writeln!(out, "{}{line}", " ".repeat(visible));
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = escape::chars(s);
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// Words up to this many characters are never split, even when longer than a line.
const MAX_WHOLE_WORD: usize = 256;

/// Greedy word wrap to `width` characters. A word longer than a line (an ARN, a URL,
/// a command's argument) stays whole on a line of its own, so it can still be copied;
/// only a word longer than [`MAX_WHOLE_WORD`] (junk, not an identifier) is cut.
/// Always returns at least one (possibly empty) line.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, width)
}

/// [`wrap`] with the first line `first_width` wide and the others `width` wide.
///
/// Lines are filled by textwrap's first-fit algorithm. Words are measured in
/// characters, as the rest of the card is (textwrap's own measure is the terminal
/// display width, which would move line breaks around wide characters); each line of
/// `text` is a paragraph of its own.
fn wrap_hanging(text: &str, first_width: usize, width: usize) -> Vec<String> {
    let (first_width, width) = (first_width.max(8), width.max(8));
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let words: Vec<Word<'_>> = paragraph
            .split_whitespace()
            .flat_map(|whole| pieces(whole, width))
            .map(Word::new)
            .collect();
        let line_widths = if lines.is_empty() {
            [first_width as f64, width as f64]
        } else {
            [width as f64; 2]
        };
        for line in wrap_first_fit(&words, &line_widths) {
            let texts: Vec<&str> = line.iter().map(|word| word.text).collect();
            lines.push(texts.join(" "));
        }
    }
    lines
}

/// A word to wrap, measured in characters and followed by one space.
#[derive(Debug)]
struct Word<'a> {
    text: &'a str,
    chars: usize,
}

impl<'a> Word<'a> {
    fn new(text: &'a str) -> Word<'a> {
        Word {
            text,
            chars: escape::chars(text),
        }
    }
}

impl Fragment for Word<'_> {
    fn width(&self) -> f64 {
        self.chars as f64
    }

    fn whitespace_width(&self) -> f64 {
        1.0
    }

    fn penalty_width(&self) -> f64 {
        0.0
    }
}

/// `word` itself, or `width`-character pieces of it when it is longer than
/// [`MAX_WHOLE_WORD`].
fn pieces(word: &str, width: usize) -> Vec<&str> {
    if escape::chars(word) <= MAX_WHOLE_WORD {
        return vec![word];
    }
    let mut out = Vec::new();
    let mut rest = word;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .nth(width)
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_keeps_long_words_whole() {
        assert_eq!(wrap("a b c", 10), vec!["a b c"]);
        assert_eq!(wrap("aaaa bbbb cccc", 9), vec!["aaaa bbbb", "cccc"]);
        // An ARN or a command argument is never cut: a copied command must still work.
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/checkout-9ZyXwV";
        assert_eq!(
            wrap(&format!("from `{arn}`: check"), 20),
            vec!["from".to_string(), format!("`{arn}`:"), "check".to_string()]
        );
        assert_eq!(wrap("", 10), vec![""]);
        let junk = "x".repeat(MAX_WHOLE_WORD + 1);
        assert!(wrap(&junk, 100).iter().all(|l| l.chars().count() <= 100));
    }

    #[test]
    fn wraps_by_characters_not_display_width() {
        // Wide characters count one each, as everywhere else on the card.
        assert_eq!(wrap("中文中文 中文中文", 9), vec!["中文中文 中文中文"]);
        assert_eq!(
            wrap("first\n\nthird line", 8),
            vec!["first", "", "third", "line"]
        );
    }

    #[test]
    fn hanging_wrap_uses_the_full_width_after_the_first_line() {
        let text = "one two three four five six seven eight";
        assert_eq!(
            wrap_hanging(text, 10, 30),
            vec!["one two", "three four five six seven", "eight"]
        );
    }

    #[test]
    fn finding_details_continue_at_the_full_width() {
        use crate::diagnose::diagnose;
        use crate::evidence::Evidence;
        let evidence: Evidence = serde_json::from_str(include_str!(
            "../../tests/cases/container-exited-app-error--missing-var-defined-as-secret.json"
        ))
        .expect("recorded case");
        let card = to_text(&diagnose(&evidence), false);
        assert!(
            card.contains("secret:prod/checkout/stripe-9ZyXwV`"),
            "the secret ARN stays whole:\n{card}"
        );
        assert!(
            !card.contains("\n    from\n"),
            "continuation lines use the full width:\n{card}"
        );
    }
}
