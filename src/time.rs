//! Times as people write and read them: timestamps as documents carry them (ISO 8601 /
//! RFC 3339 strings from the AWS CLI v2 and EventBridge, or epoch seconds as numbers
//! from the AWS CLI v1 and the raw API), and durations in a few characters.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};

/// Deserialise an optional timestamp given as an ISO 8601 string or epoch seconds.
pub fn flexible<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Seconds(seconds)) => from_epoch_seconds(seconds)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{seconds} is not a valid epoch time"))),
        Some(Raw::Text(text)) => parse(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a timestamp (expected ISO 8601 like 2024-05-02T15:29:11Z, or epoch seconds)"
            ))
        }),
    }
}

/// Parse ISO 8601 (with or without offset; without means UTC) or epoch seconds in a string.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(parsed) = DateTime::parse_from_str(text, format) {
            return Some(parsed.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    text.parse::<f64>().ok().and_then(from_epoch_seconds)
}

/// Epoch seconds (fractions allowed) to a UTC time; values in milliseconds are
/// recognised by their size and converted.
pub fn from_epoch_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    // Anything past the year 5000 in seconds is almost certainly milliseconds.
    let seconds = if seconds > 95_617_584_000.0 {
        seconds / 1000.0
    } else {
        seconds
    };
    let whole = seconds.trunc() as i64;
    let nanos = ((seconds - seconds.trunc()) * 1e9).round() as u32;
    Utc.timestamp_opt(whole, nanos.min(999_999_999)).single()
}

/// `3m 12s`, `2h 5m`, `1d 4h`, `45s`.
pub fn duration(seconds: i64) -> String {
    if seconds < 0 {
        return "clock skew".to_string();
    }
    let (d, h, m, s) = (
        seconds / 86_400,
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_aws_tools_print() {
        let expected = Utc.with_ymd_and_hms(2023, 5, 2, 15, 29, 11).unwrap();
        for text in [
            "2023-05-02T15:29:11Z",
            "2023-05-02T15:29:11+00:00",
            "2023-05-02T17:29:11+02:00",
            "2023-05-02T15:29:11",
            "2023-05-02 15:29:11+00:00",
            "1683041351",
        ] {
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        assert_eq!(from_epoch_seconds(1_683_041_351_000.0), Some(expected));
        assert_eq!(
            parse("2023-05-02T15:29:11.177Z").map(|t| t.timestamp_subsec_millis()),
            Some(177)
        );
        assert_eq!(parse("yesterday"), None);
    }
}
