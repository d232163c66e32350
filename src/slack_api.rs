//! The Slack Web API client: post, update, ephemeral, permalinks, file uploads and
//! `response_url` replies. The only module that calls Slack's Web API; the bot
//! ([`crate::slack`]) and the alerts ([`crate::alerts`]) both post through it.
//!
//! Built on slack-morphism's hyper client with an `https_or_http` rustls connector, so
//! `SLACK_API_URL` can point at a local fake in tests. A 429 is retried after its
//! `Retry-After` (nothing is dropped); `not_in_channel` and `channel_not_found` come back
//! as [`PostError::NotInChannel`] so the bot can answer through `response_url` instead.
//! `response_url` replies go only to Slack's own hosts (or the configured API host).

use crate::config::Settings;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use secrecy::ExposeSecret;
use serde::Serialize;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use slack_morphism::{ClientResult, SlackClientApiCallContext, SlackClientHttpConnector};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Pages of a channel's history read at most when looking for a message.
const HISTORY_PAGES: usize = 5;

/// The slack-morphism client type the bot uses.
pub type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;
pub type Client = SlackClient<Connector>;

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The bot is not a member of the channel (or cannot see it).
    #[error("Slack answered {0}: the bot is not in this channel")]
    NotInChannel(String),
    #[error("Slack kept answering 429 (rate limited) after {0} retries")]
    RateLimited(u32),
    #[error("Slack refused the call: {0}")]
    Api(String),
    #[error("could not reach Slack: {0}")]
    Transport(String),
    #[error("response_url {0} is not a Slack URL; refusing to post to it")]
    ForeignResponseUrl(String),
}

/// Posts messages with the bot token.
#[derive(Clone)]
pub struct Poster {
    client: Arc<Client>,
    token: SlackApiToken,
    api_url: Url,
    max_retries: u32,
    max_retry_after: Duration,
}

/// Install rustls' process-wide crypto provider once: slack-morphism's client asks for
/// the default one, and `ring` is the only one compiled in (the AWS clients name it
/// themselves, [`crate::aws`]).
pub fn install_crypto_provider() {
    // Err means one is already installed: that is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A hyper-rustls connector that speaks HTTPS and, for local tests, plain HTTP.
pub fn connector() -> Connector {
    install_crypto_provider();
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match builder.with_native_roots() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "no system CA certificates found; HTTPS calls to Slack will fail until ca-certificates is installed");
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    SlackClientHyperConnector::with_connector(builder.https_or_http().enable_http1().build())
}

#[derive(Serialize)]
struct ResponseUrlMessage<'a> {
    #[serde(flatten)]
    content: &'a SlackMessageContent,
    response_type: &'a str,
    replace_original: bool,
}

impl Poster {
    pub fn new(settings: &Settings) -> anyhow::Result<Poster> {
        let api_url = Url::parse(&settings.api_url)?;
        let client = Arc::new(SlackClient::new(
            connector().with_slack_api_url(&settings.api_url),
        ));
        Ok(Poster {
            client,
            token: SlackApiToken::new(settings.bot_token.expose_secret().into()),
            api_url,
            max_retries: settings.limits.max_slack_retries,
            max_retry_after: settings.limits.max_retry_after,
        })
    }

    /// The underlying client (Socket Mode shares it).
    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    /// `auth.test`: proves the token works. Returns the bot's user id.
    pub async fn auth_test(&self) -> Result<String, PostError> {
        let session = self.client.open_session(&self.token);
        let response = self.retrying("auth.test", || session.auth_test()).await?;
        Ok(response.user_id.to_string())
    }

    /// `chat.postMessage`; returns the new message's ts.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        content: &SlackMessageContent,
    ) -> Result<String, PostError> {
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content.clone())
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        request.thread_ts = thread_ts.map(|ts| ts.into());
        let session = self.client.open_session(&self.token);
        let response = self
            .retrying("chat.postMessage", || session.chat_post_message(&request))
            .await?;
        Ok(response.ts.to_string())
    }

    /// `chat.postMessage` in the thread of `thread_ts`, also sent to the channel
    /// (`reply_broadcast`); returns the new message's ts.
    pub async fn post_broadcast(
        &self,
        channel: &str,
        thread_ts: &str,
        content: &SlackMessageContent,
    ) -> Result<String, PostError> {
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content.clone())
            .with_unfurl_links(false)
            .with_unfurl_media(false)
            .with_reply_broadcast(true);
        request.thread_ts = Some(thread_ts.into());
        let session = self.client.open_session(&self.token);
        let response = self
            .retrying("chat.postMessage", || session.chat_post_message(&request))
            .await?;
        Ok(response.ts.to_string())
    }

    /// `chat.update` of a message the bot posted.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        content: &SlackMessageContent,
    ) -> Result<(), PostError> {
        let request = SlackApiChatUpdateRequest::new(channel.into(), content.clone(), ts.into());
        let session = self.client.open_session(&self.token);
        self.retrying("chat.update", || session.chat_update(&request))
            .await?;
        Ok(())
    }

    /// Share a file in a thread with Slack's upload flow (v2): `files.getUploadURLExternal`,
    /// the bytes to the URL it gives, then `files.completeUploadExternal` into `channel`
    /// under `thread_ts`. Needs the `files:write` scope.
    pub async fn upload_file(
        &self,
        channel: &str,
        thread_ts: &str,
        file: &crate::render::blocks::Attachment,
    ) -> Result<(), PostError> {
        let session = self.client.open_session(&self.token);
        let ask =
            SlackApiFilesGetUploadUrlExternalRequest::new(file.filename.clone(), file.bytes.len())
                .with_alt_txt(file.alt_text.clone());
        let upload = self
            .retrying("files.getUploadURLExternal", || {
                session.get_upload_url_external(&ask)
            })
            .await?;
        let send = SlackApiFilesUploadViaUrlRequest::new(
            upload.upload_url.clone(),
            file.bytes.clone(),
            file.content_type.clone(),
        );
        self.retrying("files.uploadViaUrl", || session.files_upload_via_url(&send))
            .await?;
        let complete =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                upload.file_id.clone(),
            )
            .with_title(file.title.clone())])
            .with_channel_id(channel.into())
            .with_thread_ts(thread_ts.into());
        self.retrying("files.completeUploadExternal", || {
            session.files_complete_upload_external(&complete)
        })
        .await?;
        Ok(())
    }

    /// `chat.getPermalink`: a link to a message the bot posted (needs no extra scope).
    pub async fn permalink(&self, channel: &str, ts: &str) -> Result<String, PostError> {
        let request = SlackApiChatGetPermalinkRequest::new(channel.into(), ts.into());
        let session = self.client.open_session(&self.token);
        let response = self
            .retrying("chat.getPermalink", || session.chat_get_permalink(&request))
            .await?;
        Ok(response.permalink.to_string())
    }

    /// `usergroups.users.list`: the user ids in a user group (needs `usergroups:read`).
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, PostError> {
        let request = SlackApiUserGroupsUsersListRequest::new(group.into());
        let session = self.client.open_session(&self.token);
        let response = self
            .retrying("usergroups.users.list", || {
                session.usergroups_users_list(&request)
            })
            .await?;
        Ok(response.users.iter().map(|u| u.to_string()).collect())
    }

    /// `chat.postEphemeral`: visible to one user only.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        content: &SlackMessageContent,
    ) -> Result<(), PostError> {
        let mut request =
            SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content.clone());
        request.thread_ts = thread_ts.map(|ts| ts.into());
        let session = self.client.open_session(&self.token);
        self.retrying("chat.postEphemeral", || {
            session.chat_post_ephemeral(&request)
        })
        .await?;
        Ok(())
    }

    /// Reply through a command's or button's `response_url`.
    pub async fn respond(
        &self,
        response_url: &str,
        content: &SlackMessageContent,
        in_channel: bool,
    ) -> Result<(), PostError> {
        let url = self.checked_response_url(response_url)?;
        let message = ResponseUrlMessage {
            content,
            response_type: if in_channel {
                "in_channel"
            } else {
                "ephemeral"
            },
            replace_original: false,
        };
        let span = tracing::Span::current();
        self.retrying("response_url", || {
            let context = SlackClientApiCallContext {
                rate_control_params: None,
                token: None,
                tracing_span: &span,
                is_sensitive_url: true,
            };
            self.client
                .http_api
                .connector
                .http_post_uri::<_, serde_json::Value>(url.clone(), &message, context)
        })
        .await?;
        Ok(())
    }

    /// Slack's hosts, or the configured API host (a local fake in tests).
    fn checked_response_url(&self, response_url: &str) -> Result<Url, PostError> {
        let foreign = || PostError::ForeignResponseUrl(response_url.chars().take(80).collect());
        let url = Url::parse(response_url).map_err(|_| foreign())?;
        let host = url.host_str().unwrap_or_default();
        let slack =
            url.scheme() == "https" && (host == "slack.com" || host.ends_with(".slack.com"));
        let configured = url.scheme() == self.api_url.scheme()
            && url.host_str() == self.api_url.host_str()
            && url.port_or_known_default() == self.api_url.port_or_known_default();
        if slack || configured {
            Ok(url)
        } else {
            Err(foreign())
        }
    }

    /// The newest top-level message of `channel` posted after `since` (epoch seconds)
    /// whose metadata `matches`, by `conversations.history` (needs `channels:history`,
    /// `groups:history` in private channels). Reads at most [`HISTORY_PAGES`] pages.
    pub async fn find_message(
        &self,
        channel: &str,
        since: i64,
        matches: impl Fn(&SlackMessageMetadata) -> bool,
    ) -> Result<Option<String>, PostError> {
        let session = self.client.open_session(&self.token);
        let mut cursor: Option<SlackCursorId> = None;
        for _ in 0..HISTORY_PAGES {
            let request = SlackApiConversationsHistoryRequest::new()
                .with_channel(channel.into())
                .with_oldest(format!("{since}.000000").into())
                .with_limit(200)
                .with_include_all_metadata(true)
                .opt_cursor(cursor.clone());
            let page = self
                .retrying("conversations.history", || {
                    session.conversations_history(&request)
                })
                .await?;
            let found = page
                .messages
                .iter()
                .find(|m| m.content.metadata.as_ref().is_some_and(&matches));
            if let Some(message) = found {
                return Ok(Some(message.origin.ts.to_string()));
            }
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Call, retrying after 429 as `Retry-After` asks; each attempt is counted under
    /// `method` in the metrics.
    async fn retrying<T, F, Fut>(&self, method: &'static str, mut call: F) -> Result<T, PostError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        let mut attempt = 0;
        loop {
            let result = call().await;
            crate::metrics::slack_call(method, result.is_ok());
            match result {
                Ok(value) => return Ok(value),
                Err(SlackClientError::RateLimitError(e)) => {
                    if attempt >= self.max_retries {
                        return Err(PostError::RateLimited(attempt));
                    }
                    attempt += 1;
                    let wait = e
                        .retry_after
                        .unwrap_or(Duration::from_secs(1))
                        .min(self.max_retry_after);
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        attempt,
                        "Slack rate limited us; waiting as Retry-After asks"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(classify(e)),
            }
        }
    }
}

fn classify(e: SlackClientError) -> PostError {
    match e {
        SlackClientError::ApiError(api) => match api.code.as_str() {
            "not_in_channel" | "channel_not_found" => PostError::NotInChannel(api.code),
            _ => PostError::Api(api.code),
        },
        SlackClientError::HttpError(h) => PostError::Api(format!(
            "HTTP {} {}",
            h.status_code,
            h.http_response_body
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        )),
        other => PostError::Transport(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poster(api: &str) -> Poster {
        let settings = Settings::from_vars(|name| match name {
            "SLACK_SIGNING_SECRET" => Some("s".into()),
            "SLACK_BOT_TOKEN" => Some("xoxb-1".into()),
            "SLACK_API_URL" => Some(api.into()),
            _ => None,
        })
        .unwrap();
        Poster::new(&settings).unwrap()
    }

    #[test]
    fn response_urls_must_be_slacks() {
        let p = poster("http://127.0.0.1:9999/api");
        assert!(p
            .checked_response_url("https://hooks.slack.com/commands/T1/1/x")
            .is_ok());
        assert!(p
            .checked_response_url("http://127.0.0.1:9999/resp/1")
            .is_ok());
        assert!(p
            .checked_response_url("http://127.0.0.1:80/resp/1")
            .is_err());
        assert!(p
            .checked_response_url("https://evil.example/slack.com")
            .is_err());
        assert!(p.checked_response_url("http://hooks.slack.com/x").is_err());
        assert!(p.checked_response_url("not a url").is_err());
    }
}
