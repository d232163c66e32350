//! Follow-up buttons: their action ids and the reference each button carries.
//!
//! A button's value holds only references (region, cluster, task ARN, and for "more
//! logs" the container and page token), never evidence. Values come back from Slack as
//! untrusted input, so [`ButtonRef::decode`] validates every field before use.

use serde::{Deserialize, Serialize};

/// The follow-up a button asks for. The string form is the Block Kit `action_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUp {
    MoreLogs,
    WhoStopped,
    TaskDefinition,
    ServiceEvents,
    Rerun,
    OpenConsole,
    /// On an alert's parent card: record who acknowledged the incident.
    Acknowledge,
    /// On an alert's parent card: stop posting the incident's stops for an hour.
    Mute,
}

impl FollowUp {
    pub const ALL: [FollowUp; 8] = [
        FollowUp::MoreLogs,
        FollowUp::WhoStopped,
        FollowUp::TaskDefinition,
        FollowUp::ServiceEvents,
        FollowUp::Rerun,
        FollowUp::OpenConsole,
        FollowUp::Acknowledge,
        FollowUp::Mute,
    ];

    pub fn action_id(self) -> &'static str {
        match self {
            FollowUp::MoreLogs => "ecs_why_more_logs",
            FollowUp::WhoStopped => "ecs_why_who_stopped",
            FollowUp::TaskDefinition => "ecs_why_task_definition",
            FollowUp::ServiceEvents => "ecs_why_service_events",
            FollowUp::Rerun => "ecs_why_rerun",
            FollowUp::OpenConsole => "ecs_why_open_console",
            FollowUp::Acknowledge => "ecs_why_acknowledge",
            FollowUp::Mute => "ecs_why_mute",
        }
    }

    pub fn from_action_id(id: &str) -> Option<FollowUp> {
        FollowUp::ALL.into_iter().find(|f| f.action_id() == id)
    }
}

/// What a follow-up button refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonRef {
    #[serde(rename = "r")]
    pub region: String,
    #[serde(rename = "c")]
    pub cluster: String,
    #[serde(rename = "t")]
    pub task_arn: String,
    /// Container whose logs to page through ("more logs" only).
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// CloudWatch Logs page token ("more logs" only).
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// The alert incident's key (Acknowledge and Mute only).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// How long to mute (Mute only): `1h`, `4h` or `recovered`; none offers the choice.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub mute: Option<String>,
}

/// The lengths of a mute a card offers.
pub const MUTE_CHOICES: [&str; 3] = ["1h", "4h", "recovered"];

/// Why a button value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ButtonRefError {
    #[error("the button value is not an ecs-why reference; press the button on a newer card")]
    Malformed,
    #[error("the button value is too long ({0} bytes, at most 2000)")]
    TooLong(usize),
    #[error("the button's {0} is not valid; run `/ecs why` again")]
    InvalidField(&'static str),
}

/// Block Kit's limit on a button value.
pub const MAX_VALUE_LEN: usize = 2000;

impl ButtonRef {
    /// Encode for a button's `value`. Drops the page token if the value would be too long.
    pub fn encode(&self) -> String {
        let encoded = serde_json::to_string(self).unwrap_or_default();
        if encoded.len() <= MAX_VALUE_LEN {
            return encoded;
        }
        let shorter = ButtonRef {
            page_token: None,
            ..self.clone()
        };
        serde_json::to_string(&shorter).unwrap_or_default()
    }

    /// Parse and validate a value that came back from Slack.
    pub fn decode(value: &str) -> Result<ButtonRef, ButtonRefError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(ButtonRefError::TooLong(value.len()));
        }
        let parsed: ButtonRef =
            serde_json::from_str(value).map_err(|_| ButtonRefError::Malformed)?;
        if !is_region(&parsed.region) {
            return Err(ButtonRefError::InvalidField("region"));
        }
        if !crate::task_ref::is_cluster(&parsed.cluster) {
            return Err(ButtonRefError::InvalidField("cluster"));
        }
        // An incident of tasks that never started has no task: its buttons (Acknowledge,
        // Mute) carry only the incident.
        let incident_only = parsed.task_arn.is_empty() && parsed.incident.is_some();
        if !incident_only && !crate::task_ref::is_task_arn(&parsed.task_arn) {
            return Err(ButtonRefError::InvalidField("task ARN"));
        }
        if let Some(container) = &parsed.container {
            if container.is_empty()
                || container.len() > 255
                || !container
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ButtonRefError::InvalidField("container"));
            }
        }
        if let Some(incident) = &parsed.incident {
            if !incident.starts_with("incident#")
                || incident.len() > 1000
                || incident.chars().any(char::is_control)
            {
                return Err(ButtonRefError::InvalidField("incident"));
            }
        }
        if let Some(mute) = &parsed.mute {
            if !MUTE_CHOICES.contains(&mute.as_str()) {
                return Err(ButtonRefError::InvalidField("mute"));
            }
        }
        if let Some(token) = &parsed.page_token {
            if token.len() > 1024 || token.chars().any(|c| c.is_control()) {
                return Err(ButtonRefError::InvalidField("page token"));
            }
        }
        Ok(parsed)
    }
}

/// An AWS region name such as `us-east-1` or `ap-southeast-2`.
pub fn is_region(s: &str) -> bool {
    crate::task_ref::is_region(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ButtonRef {
        ButtonRef {
            region: "eu-west-1".into(),
            cluster: "prod".into(),
            task_arn:
                "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
                    .into(),
            container: Some("web".into()),
            page_token: Some("b/123".into()),
            incident: None,
            mute: None,
        }
    }

    #[test]
    fn round_trips() {
        let value = sample().encode();
        assert_eq!(ButtonRef::decode(&value), Ok(sample()));
    }

    #[test]
    fn refuses_tampered_values() {
        let mut bad = sample();
        bad.cluster = "prod<!channel>".into();
        assert_eq!(
            ButtonRef::decode(&bad.encode()),
            Err(ButtonRefError::InvalidField("cluster"))
        );
        assert_eq!(ButtonRef::decode("hello"), Err(ButtonRefError::Malformed));
        let long = "x".repeat(2001);
        assert_eq!(ButtonRef::decode(&long), Err(ButtonRefError::TooLong(2001)));
    }

    #[test]
    fn action_ids_round_trip() {
        for f in FollowUp::ALL {
            assert_eq!(FollowUp::from_action_id(f.action_id()), Some(f));
        }
        assert_eq!(FollowUp::from_action_id("nope"), None);
    }
}
