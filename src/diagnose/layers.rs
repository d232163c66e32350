//! A stop reason read by its layers.
//!
//! ECS builds a reason by wrapping one error in another, outermost first:
//! `CannotStartContainerError: ResourceInitializationError: failed to create new
//! container runtime task: failed to create shim task: OCI runtime create failed: runc
//! create failed: unable to start container process: exec: "x": executable file not
//! found in $PATH: unknown`. The outer names say which step failed; the innermost words
//! say why. [`ReasonChain::parse`] splits a reason into [`Layer`]s:
//!
//! - a [`LayerKind::Code`]: an error's name (`CannotStartContainerError`, and the same
//!   name as people paste it, `Cannotstartcontainererror`), Docker's `API error (500)`
//!   of older agents or `Error response from daemon` of newer ones;
//! - a [`LayerKind::Step`]: a phrase that only says where it failed (`failed to create
//!   shim task`, `unable to pull secrets or registry auth`, `service call has been
//!   retried 5 time(s)`, `dependency graph`, `container_linux.go:380`);
//! - the [`LayerKind::Message`]: the rest, the innermost words, without runc's trailing
//!   `: unknown`.
//!
//! Before splitting, the reason is cleaned the way people paste it: the console's
//! `STOPPED (...)` or parentheses around it go, escaped quotes (`\"`, `\\\"`) become
//! quotes, the typographic apostrophe the agent writes (`can’t`) becomes `'`, and runs of
//! white space become one space. A reason cut short (the agent sends at most 1,024
//! bytes; Fargate ends a cut reason with `...`) is marked [`ReasonChain::is_truncated`].
//! Nothing here decides a cause: the rules read the layers.

use regex::Regex;
use std::sync::LazyLock;

/// ECS sends at most this many bytes of a reason.
pub const MAX_REASON_BYTES: usize = 1024;

/// What a layer of a reason is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// An error's name or Docker's wrapper: `CannotStartContainerError`, `API error (500)`.
    Code,
    /// A phrase that only says where it failed: `failed to create shim task`.
    Step,
    /// The innermost words.
    Message,
}

/// One layer of a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub kind: LayerKind,
    /// The layer's own words, as written (`CannotStartContainerError`, `failed to create
    /// shim task`, `exec: "x": executable file not found in $PATH`).
    pub text: String,
}

/// A reason split into its layers, outermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonChain {
    layers: Vec<Layer>,
    cleaned: String,
    truncated: bool,
}

/// `Name: ` at the start: a word followed by a colon and white space (or the end).
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z][A-Za-z0-9]*)\s*:(?:\s+|$)").expect("valid name regex")
});
/// Docker's wrapper in agents before 1.24: `API error (500): `.
static API_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^API error \((\d{3})\)\s*:\s*").expect("valid API error regex")
});
/// Docker's wrapper in agents from 1.24 on.
static DAEMON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^Error response from daemon\s*:\s*").expect("valid daemon regex")
});
/// Phrases that only say where it failed, matched against a whole segment (the words
/// up to the next `: `).
static STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(?:",
        r"(?:failed|unable) to .+|cannot start container .+|could not .+",
        r"|(?:oci runtime|runc) (?:create|start|exec|run) failed|oci runtime error",
        r"|\w+_linux\.go:\d+|starting container process caused|container init caused",
        r"|error during container init|\[\d+\] system error",
        r"|.+ has been retried \d+ times?(?:\(s\))?|.+ retried \d+ times?",
        r"|execution resource retrieval failed|dependency graph",
        r"|container resource provisioning(?: bridge mode)?",
        r"|resource cannot be initialized for task \S+",
        r"|file download command|non empty error stream|pull command failed|stderr",
        r"|.+ caused by|mount callback failed on \S+|startcontainer|containerd",
        r"|fetching secret data from ssm parameter store in \S+",
        r"|asm fetching .+|trying to retrieve secret with value \S+ resulted in error",
        r"|(?:ssm secret|asm secret|asm|environment file|credentialspec) resource",
        r"|task secret data|task environment files",
        r")$"
    ))
    .expect("valid step regex")
});
/// Backslashes before a quote, as escaped JSON inside a Docker message shows them.
static ESCAPED_QUOTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\\+""#).expect("valid escaped quote regex"));
/// The old runc form `caused "exec: ..."`: read as `caused: exec: ...`.
static CAUSED_QUOTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bcaused "+"#).expect("valid caused regex"));
/// How the console and people frame a pasted reason.
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:status reason|stopped reason|stopped)\s*:?\s*").expect("valid frame regex")
});

impl ReasonChain {
    /// Read `raw` by its layers. Never fails: a reason with no layer it knows is one
    /// [`LayerKind::Message`].
    pub fn parse(raw: &str) -> ReasonChain {
        let truncated_by_length = raw.len() >= MAX_REASON_BYTES;
        let (cleaned, ellipsis) = clean(raw);
        let mut layers = Vec::new();
        let mut rest = cleaned.as_str();
        loop {
            if let Some(m) = API_ERROR.captures(rest) {
                let status = m.get(1).map_or("", |s| s.as_str());
                layers.push(code(format!("API error ({status})")));
                rest = &rest[m.get(0).map_or(0, |all| all.end())..];
                continue;
            }
            if let Some(m) = DAEMON.find(rest) {
                layers.push(code(DAEMON_WRAPPER.to_string()));
                rest = &rest[m.end()..];
                continue;
            }
            if let Some(m) = NAME.captures(rest) {
                let name = m.get(1).map_or("", |n| n.as_str());
                if is_error_name(name) {
                    layers.push(code(name.to_string()));
                    rest = &rest[m.get(0).map_or(0, |all| all.end())..];
                    continue;
                }
            }
            match rest.split_once(": ") {
                Some((segment, inner)) if is_step(segment) && !inner.is_empty() => {
                    layers.push(Layer {
                        kind: LayerKind::Step,
                        text: segment.trim().to_string(),
                    });
                    rest = inner;
                }
                _ => break,
            }
        }
        let mut message = without_runc_tail(rest).to_string();
        // A few words alone ("context deadline exceeded") say why only with the action
        // they answer ("failed to get image reference"): keep that step with them. Not
        // runc's `exec: "x": ...`, which names its program itself.
        let answers_an_action = layers
            .last()
            .is_some_and(|l| l.kind == LayerKind::Step && ACTION.is_match(&l.text));
        if message.split_whitespace().count() <= SHORT_MESSAGE_WORDS
            && answers_an_action
            && !message.starts_with("exec:")
        {
            if let Some(step) = layers.pop() {
                message = format!("{}: {message}", step.text);
            }
        }
        if !message.is_empty() {
            layers.push(Layer {
                kind: LayerKind::Message,
                text: message,
            });
        }
        ReasonChain {
            layers,
            truncated: truncated_by_length || ellipsis,
            cleaned,
        }
    }

    /// Every layer, outermost first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The whole reason, cleaned (quotes unescaped, one apostrophe, single spaces).
    pub fn cleaned(&self) -> &str {
        &self.cleaned
    }

    /// Was the reason cut short (1,024 bytes, or a trailing `...`)?
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The error names and Docker wrappers, outermost first.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.layers
            .iter()
            .filter(|l| l.kind == LayerKind::Code)
            .map(|l| l.text.as_str())
    }

    /// The outermost error name, if the reason starts with one.
    pub fn outer_code(&self) -> Option<&str> {
        self.layers
            .first()
            .filter(|l| l.kind == LayerKind::Code)
            .map(|l| l.text.as_str())
    }

    /// Is `name` one of the reason's codes (without regard to case)?
    pub fn has_code(&self, name: &str) -> bool {
        self.codes().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Is one of the reason's steps `phrase`, or does one start with it (without regard
    /// to case)?
    pub fn has_step(&self, phrase: &str) -> bool {
        self.layers.iter().any(|l| {
            l.kind == LayerKind::Step && l.text.to_lowercase().starts_with(&phrase.to_lowercase())
        })
    }

    /// The innermost words ("" when the reason is only codes).
    pub fn message(&self) -> &str {
        self.layers
            .last()
            .filter(|l| l.kind == LayerKind::Message)
            .map_or("", |l| l.text.as_str())
    }

    /// The words worth quoting: the message when it sits under two or more wrappers
    /// (their names are on the card's layer line), else the whole cleaned reason.
    pub fn telling_words(&self) -> &str {
        if self.is_layered() && !self.message().is_empty() {
            self.message()
        } else {
            self.cleaned()
        }
    }

    /// Does the message sit under two or more wrappers? Only then is reading it by
    /// layers worth a line of its own: `Name: message` reads well as it is.
    pub fn is_layered(&self) -> bool {
        self.layers
            .iter()
            .filter(|l| l.kind != LayerKind::Message)
            .count()
            >= 2
    }

    /// The layers as a reader sees them: every error name, `…` for each run of steps
    /// (Docker's `Error response from daemon` is one: it says only who answered), then
    /// the message cut to `max_chars` (and `…` when the reason was cut short).
    pub fn shown(&self, max_chars: usize) -> Vec<String> {
        let mut shown: Vec<String> = Vec::new();
        for layer in &self.layers {
            let says_nothing = layer.kind == LayerKind::Step || layer.text == DAEMON_WRAPPER;
            match layer.kind {
                _ if says_nothing && shown.last().is_some_and(|s| s == ELLIPSIS) => {}
                _ if says_nothing => shown.push(ELLIPSIS.to_string()),
                LayerKind::Code | LayerKind::Step => shown.push(layer.text.clone()),
                LayerKind::Message => {
                    let mut text = crate::text::truncate(&layer.text, max_chars).into_owned();
                    if self.truncated && !text.ends_with(ELLIPSIS) {
                        text.push_str(ELLIPSIS);
                    }
                    shown.push(text);
                }
            }
        }
        shown
    }
}

/// A message of this many words or fewer keeps the step before it.
const SHORT_MESSAGE_WORDS: usize = 5;

/// Docker's wrapper, as a code.
const DAEMON_WRAPPER: &str = "Error response from daemon";

/// What stands for the layers left out.
pub const ELLIPSIS: &str = "…";

fn code(text: String) -> Layer {
    Layer {
        kind: LayerKind::Code,
        text,
    }
}

/// An error's name: `…Error` or `…Exception` (in any case, as people retype them), or
/// a CamelCase word of two humps or more (`TaskFailedToStart`, `RequestCanceled`,
/// `UnparsablePort`). A lower-case word (`exec`) or a capitalised one (`Ssm`) is not.
fn is_error_name(word: &str) -> bool {
    let lower = word.to_lowercase();
    let suffixed = ["error", "exception"]
        .iter()
        .any(|s| lower.len() > s.len() + 2 && lower.ends_with(s));
    let humps = word.chars().filter(char::is_ascii_uppercase).count();
    let camel = word.starts_with(|c: char| c.is_ascii_uppercase())
        && humps >= 2
        && word.chars().any(|c| c.is_ascii_lowercase());
    suffixed || camel
}

/// The reason as people paste it, cleaned; and whether it ended in an ellipsis.
fn clean(raw: &str) -> (String, bool) {
    let text = raw.replace('’', "'");
    let text = ESCAPED_QUOTE.replace_all(&text, "\"");
    let text = CAUSED_QUOTE.replace_all(&text, "caused: ");
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let before = text.len();
        if let Some(m) = FRAME.find(&text) {
            if m.end() < text.len() && text[m.end()..].starts_with('(') {
                text = text[m.end()..].to_string();
            }
        }
        if text.starts_with('(') && text.ends_with(')') && balanced_inside(&text) {
            text = text[1..text.len() - 1].trim().to_string();
        }
        if text.len() == before {
            break;
        }
    }
    let mut ellipsis = false;
    for tail in ["...", "…"] {
        if let Some(cut) = text.strip_suffix(tail) {
            text = cut.trim_end().to_string();
            ellipsis = true;
        }
    }
    (text, ellipsis)
}

/// A step that names an action (what it failed to do), not a retry or a place.
static ACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:failed to|unable to|could not|cannot) ").expect("valid action regex")
});

/// A step is a short phrase: at most this many words.
const MAX_STEP_WORDS: usize = 12;

/// Is `segment` (the words before a `: `) a step: a phrase the list knows, short, with
/// no sentence in it (`Failed to resolve "fs-1" - check that ... for more detail.` is
/// efs-utils' message, not a step), closing what it opens?
fn is_step(segment: &str) -> bool {
    let segment = segment.trim();
    STEP.is_match(segment)
        && segment.split_whitespace().count() <= MAX_STEP_WORDS
        && !segment.contains(". ")
        && !segment.contains(" - ")
        && closed(segment)
}

/// Does `segment` close every bracket and quote it opens? A step never stops inside
/// one: in `dependency [db(img) (STOPPED->RUNNING) - Exit: 1]`, `Exit: 1` is not a layer.
fn closed(segment: &str) -> bool {
    let count = |c: char| segment.matches(c).count();
    count('(') == count(')') && count('[') == count(']') && count('"') % 2 == 0
}

/// Do the parentheses of `(…)` close only at its end (so they frame all of it)?
fn balanced_inside(text: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 < text.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// The message without runc's `: unknown`, stray closing quotes or colons.
fn without_runc_tail(message: &str) -> &str {
    let mut message = message.trim();
    loop {
        let before = message.len();
        for tail in [": unknown", " : unknown"] {
            if let Some(cut) = message.strip_suffix(tail) {
                message = cut.trim_end();
            }
        }
        message = message.trim_end_matches(['"', ':', ' ']);
        if message.len() == before {
            return message;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(chain: &ReasonChain) -> Vec<LayerKind> {
        chain.layers().iter().map(|l| l.kind).collect()
    }

    #[test]
    fn a_wrapped_runtime_error_is_read_to_its_innermost_words() {
        let chain = ReasonChain::parse(
            r#"CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "019552fb": executable file not found in $PATH: unknown"#,
        );
        assert_eq!(chain.outer_code(), Some("CannotStartContainerError"));
        assert!(chain.has_code("resourceinitializationerror"));
        assert_eq!(
            chain.message(),
            r#"exec: "019552fb": executable file not found in $PATH"#
        );
        assert!(chain.is_layered());
        assert_eq!(
            chain.shown(200),
            vec![
                "CannotStartContainerError",
                "ResourceInitializationError",
                "…",
                r#"exec: "019552fb": executable file not found in $PATH"#
            ]
        );
    }

    #[test]
    fn docker_wrappers_old_and_new_are_codes() {
        let old = ReasonChain::parse(
            r#"CannotStartContainerError: API error (500): Cannot start container 54b6: [8] System error: exec: "node index.js": executable file not found in $PATH"#,
        );
        assert_eq!(
            old.codes().collect::<Vec<_>>(),
            vec!["CannotStartContainerError", "API error (500)"]
        );
        assert_eq!(
            old.message(),
            r#"exec: "node index.js": executable file not found in $PATH"#
        );
        let new = ReasonChain::parse(
            "CannotStartContainerError: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting \"/data\" to rootfs: not a directory: unknown",
        );
        assert!(new.has_code("Error response from daemon"));
        assert_eq!(
            new.message(),
            "error mounting \"/data\" to rootfs: not a directory"
        );
    }

    #[test]
    fn names_are_read_without_regard_to_case_and_pasted_frames_go() {
        let chain = ReasonChain::parse(
            "(Cannotstartcontainererror: ResourceInitializationError: failed to create shim task: OCI runtime create failed: error creating device nodes: mknod /dev/null: errno 524: unknown)",
        );
        assert_eq!(chain.outer_code(), Some("Cannotstartcontainererror"));
        assert!(chain.has_code("CannotStartContainerError"));
        assert_eq!(
            chain.message(),
            "error creating device nodes: mknod /dev/null: errno 524"
        );
        let stopped = ReasonChain::parse(
            "STOPPED (DockerTimeoutError: Could not transition to started; timed out after waiting 8m0s)",
        );
        assert_eq!(stopped.outer_code(), Some("DockerTimeoutError"));
        assert!(!stopped.is_layered());
    }

    #[test]
    fn words_that_are_not_names_stay_in_the_message() {
        for (reason, message) in [
            (
                "Essential container in task exited",
                "Essential container in task exited",
            ),
            (
                "Task failed ELB health checks in (target-group...)",
                "Task failed ELB health checks in (target-group",
            ),
        ] {
            let chain = ReasonChain::parse(reason);
            assert_eq!(kinds(&chain).last(), Some(&LayerKind::Message), "{reason}");
            assert!(
                chain.message().starts_with(message),
                "{reason}: {}",
                chain.message()
            );
        }
        let agent =
            ReasonChain::parse("Ssm secret resource: unable to find execution role credentials");
        assert!(agent.has_step("ssm secret resource"));
        assert_eq!(agent.message(), "unable to find execution role credentials");
        assert_eq!(ReasonChain::parse("").layers(), &[]);
        assert!(!ReasonChain::parse("TaskFailedToStart: AGENT").is_layered());
        assert_eq!(
            ReasonChain::parse("TaskFailedToStart: AGENT").outer_code(),
            Some("TaskFailedToStart")
        );
    }

    #[test]
    fn both_apostrophes_and_escaped_quotes_read_the_same() {
        let curly = ReasonChain::parse("CannotPullContainerError: The task can’t pull the image.");
        let straight =
            ReasonChain::parse("CannotPullContainerError: The task can't pull the image.");
        assert_eq!(curly.message(), straight.message());
        let escaped = ReasonChain::parse(
            r#"CannotStartContainerError: API error (400): OCI runtime create failed: container_linux.go:348: starting container process caused "exec: \"mxnet-model-server.sh\": executable file not found in $PATH":"#,
        );
        assert_eq!(
            escaped.message(),
            r#"exec: "mxnet-model-server.sh": executable file not found in $PATH"#
        );
    }

    #[test]
    fn a_reason_cut_short_says_so() {
        let fargate = ReasonChain::parse(
            r#"CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: OCI runtime create failed: container_linux.go:370: starting container process caused: exec: "/opt/run.sh": stat /opt/run.sh...no such file or direct..."#,
        );
        assert!(fargate.is_truncated());
        assert!(fargate.message().starts_with(r#"exec: "/opt/run.sh""#));
        assert!(fargate.shown(200).last().is_some_and(|m| m.ends_with('…')));
        let agent = ReasonChain::parse(&format!("CannotPullContainerError: {}", "x".repeat(1100)));
        assert!(agent.is_truncated());
        assert!(
            !ReasonChain::parse("OutOfMemoryError: Container killed due to memory usage")
                .is_truncated()
        );
    }

    #[test]
    fn a_short_message_keeps_the_step_it_answers() {
        let chain = ReasonChain::parse(
            "CannotCreateVolumeError: unable to copy contents to volume on host: containerd: failed to get image reference: context deadline exceeded",
        );
        assert_eq!(
            chain.message(),
            "failed to get image reference: context deadline exceeded"
        );
        let host = ReasonChain::parse(
            "HostConfigError: Unable to resolve volume mounts; invalid path: data /var/data; app -> /var/data",
        );
        assert_eq!(
            host.message(),
            "Unable to resolve volume mounts; invalid path: data /var/data; app -> /var/data"
        );
        assert!(!host.is_layered());
    }

    #[test]
    fn a_long_message_that_starts_like_a_step_stays_whole() {
        let efs = ReasonChain::parse(
            r#"ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve "fs-0119f8e1.efs.us-east-1.amazonaws.com" - check that your file system ID is correct. See https://docs.aws.amazon.com/console/efs/mount-dns-name for more detail. : unsuccessful EFS utils command execution; code: 1"#,
        );
        assert!(
            efs.message().starts_with("Failed to resolve"),
            "{}",
            efs.message()
        );
        let retried = ReasonChain::parse(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: /prod/orders/stripe-key",
        );
        assert_eq!(
            retried.message(),
            "invalid parameters: /prod/orders/stripe-key"
        );
    }

    #[test]
    fn a_step_never_ends_inside_brackets() {
        let chain = ReasonChain::parse(
            "CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [migrate(web:v9) (STOPPED->STOPPED) - Exit: 1] for target [app(web:v9) (NONE->RUNNING)] as dependency did not exit successfully.",
        );
        assert!(chain.has_step("dependency graph"));
        assert!(chain
            .message()
            .starts_with("failed to resolve container ordering dependency [migrate"));
        assert!(chain.message().ends_with("did not exit successfully."));
    }

    #[test]
    fn sdk_and_retry_wrappers_are_steps() {
        let chain = ReasonChain::parse(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:us-west-2:1:secret:db-AbCdEf from secrets manager: RequestCanceled: request context canceled caused by: context deadline exceeded. Please check your task network configuration.",
        );
        assert!(chain.has_step("unable to pull secrets or registry auth"));
        assert!(chain.has_code("RequestCanceled"));
        assert_eq!(
            chain.message(),
            "context deadline exceeded. Please check your task network configuration."
        );
        assert_eq!(
            chain.shown(200),
            vec![
                "ResourceInitializationError",
                "…",
                "RequestCanceled",
                "…",
                "context deadline exceeded. Please check your task network configuration."
            ]
        );
    }
}
