//! Secrets recognised by their shape alone: runs of base64 characters that look random.
//!
//! Most keys have no telling prefix (an AWS secret access key is 40 characters of
//! base64), so after the named formats have had their turn every line is cut into
//! *tokens*: maximal runs of `A-Z a-z 0-9 + / _ -` (plus `=` padding), which is the
//! alphabet of base64 and base64url. A token is a secret when it looks like random
//! bytes, judged by structure the way gitleaks' `generic-api-key` rule and
//! detect-secrets' high-entropy plugins do:
//!
//! - long enough ([`MIN_LEN`] characters) to be a key and not a word;
//! - upper case, lower case and digits all present, with neither case rare
//!   ([`MIN_CASE_SHARE`]): random base64 is about half of each, while an identifier in
//!   CamelCase, a hex id (`0f1e...`, a task id, a SHA, a digest, a UUID) or a path in
//!   lower case is not;
//! - Shannon entropy per character above a threshold that grows with the length
//!   ([`entropy_threshold`]), as a short sample cannot show many distinct characters;
//! - the character class (upper, lower, digit) changing often from one character to
//!   the next ([`MIN_CLASS_CHANGES`]): words in CamelCase change only at word
//!   boundaries.
//!
//! Words between `/`, `-` and `_` (`task/`, `-Service`) cut a token into runs judged
//! one by one, so a key at the end of a URL path is still found and an ARN holding a
//! random id is not taken for a key, while a key that itself contains `/` or `+` (as
//! base64 keys do) is caught whole. Bare hex is never a secret here: ids,
//! SHAs and digests are hex; a hex key is caught when it is labelled (`api_key=...`).
//!
//! The thresholds were measured on `tests/redaction/clean.txt` (log lines that must pass
//! unchanged) and `tests/redaction/secrets.txt` (lines that each hide one secret); see
//! `tests/redaction.rs`.

use std::borrow::Cow;

/// Fewest characters in a token taken for a key. Shorter random strings exist
/// (short ids, 16-character hashes) but keys are at least 20 characters in practice.
/// Together the rules catch 89% of random 20-character base64 keys, 98% of 32, 99.5% of
/// 40 and all of 64 (`random_keys_are_caught_and_random_ids_are_not` in
/// `tests/redaction.rs`); at 20 characters a key often lacks a digit.
const MIN_LEN: usize = 20;

/// The rarer of upper and lower case must be at least this share of the letters.
/// Random base64 falls below 0.25 in 4% of 20-character keys, 0.9% at 32 and 0.4% at
/// 40; CamelCase names with digits sit at 0.1–0.22 (`ProcessorV1Beta2ServiceGrpcImpl`
/// is 0.21, so 0.2 would take it for a key).
const MIN_CASE_SHARE: f64 = 0.25;

/// Share of neighbouring characters whose class (upper, lower, digit, symbol) differs.
/// Random base64 is near 0.6 (below 0.4 in 2% of 20-character keys, 0.1% at 40);
/// English words in CamelCase are near 0.15–0.4.
const MIN_CLASS_CHANGES: f64 = 0.4;

/// Minimum Shannon entropy in bits per character for a token of `len` characters.
///
/// A random base64 string of `len` characters shows about `log2(len) - 0.4` bits
/// (20 characters: 3.9; 40: 4.9; 64 and more: 5.3 or more, up to 6), because a short
/// sample repeats few characters; fake keys with `EXAMPLE` written into them show
/// 0.3–0.5 bits less (the lowest in `secrets.txt`: 4.40 at 40 characters). The
/// threshold, `0.8 * log2(len)` capped at 4.25 bits from 40 characters on, sits below
/// both; detect-secrets' 4.5 would miss those keys. Entropy alone does not tell keys
/// from CamelCase names (`SunCertPathBuilderException` shows 4.1 bits, as much as a key
/// of its length): the case share and class changes do that. It rules out what mixes
/// classes without being random: repeated patterns (`Ab1Ab1Ab1...`), padding, counters.
pub(super) fn entropy_threshold(len: usize) -> f64 {
    (0.8 * (len as f64).log2()).min(4.25)
}

/// What a token that looks random most likely is, for the marker that replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// 40 characters of standard base64: the shape of an AWS secret access key.
    AwsSecretKey,
    /// The fixed prefix STS gives session tokens (`IQoJb3JpZ2lu`, `FwoGZXIvYXdz`).
    AwsSessionToken,
    /// Anything else that looks random.
    HighEntropy,
}

impl Kind {
    pub(super) fn marker(self) -> &'static str {
        match self {
            Kind::AwsSecretKey => "[REDACTED AWS SECRET KEY]",
            Kind::AwsSessionToken => "[REDACTED AWS SESSION TOKEN]",
            Kind::HighEntropy => "[REDACTED HIGH-ENTROPY STRING]",
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-')
}

/// What separates the pieces of a token: words in paths, ARNs and names. (`+` is only
/// base64.)
fn is_separator(b: u8) -> bool {
    matches!(b, b'/' | b'_' | b'-')
}

/// Replace every random-looking token of `text` with the marker of its kind. Borrowed
/// (and no allocation made) when there is none.
pub(super) fn redact_tokens(text: Cow<'_, str>) -> Cow<'_, str> {
    let mut spans = Spans::default();
    find_secrets(&text, &mut spans);
    if spans.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, kind) in spans.iter() {
        out.push_str(&text[copied..start]);
        out.push_str(kind.marker());
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Found secrets as byte ranges, in order. The first few live on the stack.
#[derive(Default)]
struct Spans {
    inline: [(usize, usize, Option<Kind>); 4],
    count: usize,
    more: Vec<(usize, usize, Kind)>,
}

impl Spans {
    fn push(&mut self, start: usize, end: usize, kind: Kind) {
        if self.count < self.inline.len() {
            self.inline[self.count] = (start, end, Some(kind));
        } else {
            self.more.push((start, end, kind));
        }
        self.count += 1;
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn iter(&self) -> impl Iterator<Item = (usize, usize, Kind)> + '_ {
        self.inline
            .iter()
            .filter_map(|&(s, e, k)| k.map(|k| (s, e, k)))
            .chain(self.more.iter().copied())
    }
}

/// Cut `text` into tokens and record the random-looking ones.
fn find_secrets(text: &str, spans: &mut Spans) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        // Base64 padding belongs to the token.
        let mut end = i;
        while end < bytes.len() && end - i < 2 && bytes[end] == b'=' {
            end += 1;
        }
        if i - start >= MIN_LEN {
            check_token(bytes, start, i, end, spans);
        }
        i = end.max(i);
    }
}

/// Check the token `bytes[start..body_end]` (with padding up to `end`). Its pieces
/// between `/`, `-` and `_` that are words (`task`, `service`, `OpsAdmin`) cut it into
/// runs, and each run of other pieces is judged on its own: an ARN or a path is not one
/// random string because a random id sits in it, while a key that itself contains `/`
/// or `+` (as base64 keys do) is one run and caught whole.
fn check_token(bytes: &[u8], start: usize, body_end: usize, end: usize, spans: &mut Spans) {
    let mut run_start: Option<usize> = None;
    let mut run_end = start;
    let mut piece_start = start;
    for j in start..=body_end {
        if j < body_end && !is_separator(bytes[j]) {
            continue;
        }
        let piece = &bytes[piece_start..j];
        if is_word(piece) {
            if let Some(s) = run_start.take() {
                check_run(bytes, s, run_end, end, body_end, spans);
            }
        } else if !piece.is_empty() {
            run_start.get_or_insert(piece_start);
            run_end = j;
        }
        piece_start = j + 1;
    }
    if let Some(s) = run_start {
        check_run(bytes, s, run_end, end, body_end, spans);
    }
}

/// Judge one run of pieces, `bytes[start..run_end]`; padding up to `end` follows it when
/// it ends the token.
fn check_run(
    bytes: &[u8],
    start: usize,
    run_end: usize,
    end: usize,
    body_end: usize,
    spans: &mut Spans,
) {
    if let Some(kind) = classify(&bytes[start..run_end]) {
        spans.push(start, if run_end == body_end { end } else { run_end }, kind);
    }
}

/// A piece that is a word or words in CamelCase (`role`, `EcsStack`, `OpsAdmin`), maybe
/// numbered (`DemoTrafficGen01`): four letters or more, each capital followed by at
/// least two lower-case letters, then at most four digits. A random piece of eight
/// characters looks like this about one time in a hundred. A CloudFormation logical id
/// counts as a word too: a capital, letters and digits, then an 8-digit upper-case hex
/// hash (`ServiceD69D759B`, `DemoTrafficGen01TaskDef59B414B2`), as CDK names every
/// cluster, service and queue; a random piece ends in 8 such digits once in 60,000.
fn is_word(piece: &[u8]) -> bool {
    if let Some(cut) = piece.len().checked_sub(8) {
        if cut >= 4
            && piece[0].is_ascii_uppercase()
            && piece[..cut].iter().all(u8::is_ascii_alphanumeric)
            && piece[cut..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
        {
            return true;
        }
    }
    let digits = piece
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let letters = &piece[..piece.len() - digits];
    if digits > 4 || letters.len() < 4 || !letters.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut lower_run = 0usize;
    for (i, &b) in letters.iter().enumerate() {
        if b.is_ascii_uppercase() {
            if i > 0 && lower_run < 2 {
                return false;
            }
            lower_run = 0;
        } else {
            lower_run += 1;
        }
    }
    lower_run >= 2
}

/// The kind of secret `token` is, if it looks random.
pub(super) fn classify(token: &[u8]) -> Option<Kind> {
    if !has_mixed_classes(token) {
        return None;
    }
    let features = Features::of(token)?;
    if !features.looks_random() {
        return None;
    }
    Some(
        if token.starts_with(b"IQoJb3JpZ2lu") || token.starts_with(b"FwoGZXIvYXdz") {
            Kind::AwsSessionToken
        } else if token.len() == 40 && !token.iter().any(|&b| b == b'_' || b == b'-') {
            Kind::AwsSecretKey
        } else {
            Kind::HighEntropy
        },
    )
}

/// A quick test before [`Features::of`] counts characters: most tokens of a log line
/// (paths, class names, hex ids) lack digits or one of the cases.
fn has_mixed_classes(token: &[u8]) -> bool {
    token.iter().any(u8::is_ascii_digit)
        && token.iter().any(u8::is_ascii_uppercase)
        && token.iter().any(u8::is_ascii_lowercase)
}

/// What [`classify`] measures of a token; public to the tests, which print it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Features {
    /// Letters and digits.
    pub alnum: usize,
    /// All characters.
    pub len: usize,
    /// The rarer case's share of the letters.
    pub case_share: f64,
    pub digits: usize,
    pub letters: usize,
    /// Bits per character.
    pub entropy: f64,
    /// Share of neighbouring characters of different classes.
    pub class_changes: f64,
}

impl Features {
    /// `None` for a token too short to measure.
    pub(super) fn of(token: &[u8]) -> Option<Features> {
        let mut counts = [0u16; 128];
        let (mut upper, mut lower, mut digits) = (0usize, 0usize, 0usize);
        let mut changes = 0usize;
        let mut previous: Option<u8> = None;
        for &b in token {
            counts[usize::from(b & 0x7f)] += 1;
            let class = match b {
                b'A'..=b'Z' => {
                    upper += 1;
                    0
                }
                b'a'..=b'z' => {
                    lower += 1;
                    1
                }
                b'0'..=b'9' => {
                    digits += 1;
                    2
                }
                _ => 3,
            };
            if previous.is_some_and(|p| p != class) {
                changes += 1;
            }
            previous = Some(class);
        }
        let alnum = upper + lower + digits;
        if token.len() < MIN_LEN {
            return None;
        }
        let len = token.len() as f64;
        let entropy = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = f64::from(c) / len;
                -p * p.log2()
            })
            .sum();
        let letters = (upper + lower).max(1) as f64;
        Some(Features {
            alnum,
            len: token.len(),
            case_share: upper.min(lower) as f64 / letters,
            digits,
            letters: upper + lower,
            entropy,
            class_changes: changes as f64 / (len - 1.0),
        })
    }

    pub(super) fn looks_random(&self) -> bool {
        self.digits > 0
            && self.case_share >= MIN_CASE_SHARE
            && self.class_changes >= MIN_CLASS_CHANGES
            && self.entropy >= entropy_threshold(self.len)
    }

    /// A value under a key-like label needs less: a single run of letters and digits
    /// (no `/`, `-`, `_` between words, as in an object key or a path), at least one
    /// digit in seven, and the entropy. Lower-case keys (base36) qualify here, where
    /// alone they would pass for ids.
    pub(super) fn looks_random_when_labelled(&self) -> bool {
        self.looks_random()
            || (self.alnum == self.len
                && self.letters > 0
                && self.digits * 7 >= self.alnum
                && self.entropy >= entropy_threshold(self.len))
    }
}
