//! The state shared by several replicas, in a DynamoDB table (`ECS_WHY_STATE_TABLE`):
//! String partition key `pk`, TTL attribute `expires_at`, no sort key.
//!
//! Items: `seen#…` keys written by [`StateStore::first_time`] (a conditional put: absent
//! or expired), and incidents (`incident#…`) whose stops are a map from task id to stop
//! time, so counting a stop is one conditional update (`attribute_not_exists(stops.#t)`)
//! that two replicas cannot both win. DynamoDB deletes expired items lazily (within days),
//! so every condition also compares the expiry with now.
//!
//! A stop whose thread line is not posted yet carries a claim, a top-level attribute
//! `unposted#<task id>` holding until when its counter may post it; posting removes it,
//! and a claim that runs out (its replica died) is taken over by a conditional update.
//! The open incidents of a service in a channel are listed in an index item (the
//! `scope`, a string set `keys`) that service events read to close them.

use super::{
    incident_expiry, now, recent_index, secs, Incident, Join, Joined, Previous, StateError,
    StateStore, ALL_OPEN,
};
use crate::gather::call_metrics::CountCalls;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

type Item = HashMap<String, AttributeValue>;

/// The attribute holding the claim on a stop's unposted line.
const UNPOSTED: &str = "unposted#";
/// The attribute of a held key's value ([`StateStore::hold`]).
const HELD_VALUE: &str = "held";
/// How long an index of open incidents outlives its last change.
const INDEX_KEEP: i64 = 2 * 86_400;

fn unposted_attribute(task_id: &str) -> String {
    format!("{UNPOSTED}{task_id}")
}

/// A DynamoDB table holding the shared state.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// The standard credential chain; honours `AWS_ENDPOINT_URL_DYNAMODB`.
    pub async fn from_env(table: &str, region: Option<&str>) -> DynamoStore {
        let mut loader = crate::aws::loader();
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        let config = loader.load().await;
        DynamoStore::from_sdk_config(&config, table)
    }

    /// Around an existing SDK configuration (tests point it at moto).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: &str) -> DynamoStore {
        let conf = aws_sdk_dynamodb::config::Builder::from(&crate::aws::with_https_client(config))
            .interceptor(CountCalls)
            .build();
        DynamoStore {
            client: Client::from_conf(conf),
            table: table.to_string(),
        }
    }

    fn failure<E>(&self, operation: &str, err: &SdkError<E>) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, detail) = match err {
            SdkError::ServiceError(service) => (
                service.err().code().unwrap_or("an error").to_string(),
                service.err().message().unwrap_or_default().to_string(),
            ),
            SdkError::TimeoutError(_) => ("a time-out".to_string(), String::new()),
            SdkError::DispatchFailure(_) => (
                "a connection failure".to_string(),
                DisplayErrorContext(err).to_string(),
            ),
            _ => ("an unreadable answer".to_string(), String::new()),
        };
        let request = err
            .request_id()
            .map(|id| format!(", request id {id}"))
            .unwrap_or_default();
        tracing::warn!(
            operation,
            table = self.table,
            code,
            "state store call failed"
        );
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                crate::text::truncate(&crate::redact::redact(&detail), 200)
            )
        };
        StateError(format!(
            "DynamoDB {operation} on {} answered {code}{detail}{request}; check ECS_WHY_STATE_TABLE, \
             AWS_ENDPOINT_URL_DYNAMODB and the task role's dynamodb:{operation} permission",
            self.table
        ))
    }

    async fn read(&self, key: &str) -> Result<Option<Incident>, StateError> {
        Ok(self.get(key).await?.as_ref().map(incident_from))
    }

    /// The item under `key`, read consistently.
    async fn get(&self, key: &str) -> Result<Option<Item>, StateError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failure("GetItem", &e))?;
        Ok(output.item)
    }

    /// An update that must find the item; `None` when there is none (or `condition`
    /// does not hold).
    async fn update(
        &self,
        key: &str,
        expression: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        names: Vec<(&str, &str)>,
    ) -> Result<Option<Incident>, StateError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(expression)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        for (placeholder, name) in names {
            request = request.expression_attribute_names(placeholder, name);
        }
        match request.send().await {
            Ok(output) => Ok(output.attributes().map(incident_from)),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(self.failure("UpdateItem", &e)),
        }
    }

    async fn open(&self, join: &Join) -> Result<Option<Incident>, StateError> {
        // The index first: an index naming an incident that was not opened is harmless,
        // an open incident missing from it would never be recovered.
        self.index(&join.scope, &join.key, "ADD").await?;
        self.index(ALL_OPEN, &join.key, "ADD").await?;
        self.index(&recent_index(&join.channel), &join.key, "ADD")
            .await?;
        let mut incident = join.new_incident();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_from(&incident)))
            .condition_expression(
                "attribute_not_exists(pk) OR (active_until < :now AND attribute_not_exists(stops.#t))",
            )
            .expression_attribute_values(":now", n(join.now))
            .expression_attribute_names("#t", &join.task_id)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(output) => output.attributes().map(incident_from),
            Err(e) if is_condition_failed(&e) => return Ok(None),
            Err(e) => return Err(self.failure("PutItem", &e)),
        };
        incident.previous = old.as_ref().and_then(Incident::as_previous);
        if let Some(previous) = &incident.previous {
            self.update(
                &join.key,
                "SET prev_ts = :ts, prev_ended = :ended",
                "attribute_exists(pk)",
                vec![
                    (":ts", s(&previous.parent_ts)),
                    (":ended", n(previous.ended_at)),
                ],
                vec![],
            )
            .await?;
        }
        Ok(Some(incident))
    }

    /// Add `key` to (or delete it from) the open incidents of `scope`.
    async fn index(&self, scope: &str, key: &str, op: &str) -> Result<(), StateError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(scope))
            .update_expression(format!("{op} #keys :k SET expires_at = :expires"))
            .expression_attribute_names("#keys", "keys")
            .expression_attribute_values(":k", AttributeValue::Ss(vec![key.to_string()]))
            .expression_attribute_values(":expires", n(now() + INDEX_KEEP))
            .send()
            .await
            .map_err(|e| self.failure("UpdateItem", &e))?;
        Ok(())
    }

    /// A counted stop whose claim ran out: take it.
    async fn reclaim(&self, join: &Join) -> Result<Option<Incident>, StateError> {
        let claim = unposted_attribute(&join.task_id);
        self.update(
            &join.key,
            "SET #c = :claim",
            "attribute_exists(#c) AND #c < :now",
            vec![(":claim", n(join.claim_until())), (":now", n(join.now))],
            vec![("#c", claim.as_str())],
        )
        .await
    }

    async fn add(&self, join: &Join) -> Result<Option<Incident>, StateError> {
        let active_until = join.active_until();
        let claim = unposted_attribute(&join.task_id);
        self.update(
            &join.key,
            "SET stops.#t = :at, #c = :claim, active_until = :until, expires_at = :expires",
            "attribute_exists(pk) AND active_until >= :now AND attribute_not_exists(stops.#t)",
            vec![
                (":at", n(join.stopped_at)),
                (":claim", n(join.claim_until())),
                (":until", n(active_until)),
                (":expires", n(incident_expiry(active_until))),
                (":now", n(join.now)),
            ],
            vec![("#t", join.task_id.as_str()), ("#c", claim.as_str())],
        )
        .await
    }

    async fn join_incident(&self, join: &Join) -> Result<Joined, StateError> {
        // Open, else count in the open one, else it was counted already; an incident
        // that expires between two steps sends us round again.
        for _ in 0..3 {
            if let Some(opened) = self.open(join).await? {
                return Ok(Joined::Opened(opened));
            }
            if let Some(added) = self.add(join).await? {
                return Ok(Joined::Added(added));
            }
            if let Some(reclaimed) = self.reclaim(join).await? {
                return Ok(Joined::Reclaimed(reclaimed));
            }
            if let Some(existing) = self.read(&join.key).await? {
                if existing.stops.contains_key(&join.task_id) {
                    match existing.unposted.get(&join.task_id) {
                        None => return Ok(Joined::Duplicate(existing)),
                        Some(until) if *until >= join.now => return Ok(Joined::Busy),
                        // Its claim ran out just now: round again to take it.
                        Some(_) => {}
                    }
                }
            }
        }
        Err(StateError(format!(
            "incident {} kept changing while a stop was counted; it will be retried",
            join.key
        )))
    }

    async fn claim_first(&self, key: &str, keep: Duration) -> Result<bool, StateError> {
        let at = now();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("expires_at", n(at + secs(keep)))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(self.failure("PutItem", &e)),
        }
    }
}

impl DynamoStore {
    /// Put `value` under `key` for `keep` if `condition` holds (`:now` is bound);
    /// false when it does not.
    async fn put_held(
        &self,
        key: &str,
        value: &str,
        keep: Duration,
        condition: &str,
        old: Option<&str>,
    ) -> Result<bool, StateError> {
        let at = now();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item(HELD_VALUE, s(value))
            .item("expires_at", n(at + secs(keep)))
            .condition_expression(condition)
            .expression_attribute_values(":now", n(at));
        if let Some(old) = old {
            request = request
                .expression_attribute_names("#v", HELD_VALUE)
                .expression_attribute_values(":old", s(old));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(self.failure("PutItem", &e)),
        }
    }

    /// [`StateStore::hold`]: a conditional put (absent or expired); when it is held,
    /// the holder's value, read consistently.
    async fn hold_key(
        &self,
        key: &str,
        value: &str,
        keep: Duration,
    ) -> Result<Option<String>, StateError> {
        let absent = "attribute_not_exists(pk) OR expires_at < :now";
        if self.put_held(key, value, keep, absent, None).await? {
            return Ok(None);
        }
        // Held: by whom. (Released in between: someone held it a moment ago.)
        Ok(Some(self.held_value(key).await?.unwrap_or_default()))
    }

    async fn held_value(&self, key: &str) -> Result<Option<String>, StateError> {
        let Some(item) = self.get(key).await? else {
            return Ok(None);
        };
        let expires = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        if expires < now() {
            return Ok(None);
        }
        Ok(item.get(HELD_VALUE).and_then(|v| v.as_s().ok()).cloned())
    }

    async fn replace_key(
        &self,
        key: &str,
        old: &str,
        new: &str,
        keep: Duration,
    ) -> Result<bool, StateError> {
        let still_old = "#v = :old AND expires_at >= :now";
        self.put_held(key, new, keep, still_old, Some(old)).await
    }

    async fn release_key(&self, key: &str, value: &str) -> Result<(), StateError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", HELD_VALUE)
            .expression_attribute_values(":v", s(value))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(self.failure("DeleteItem", &e)),
        }
    }
}

impl StateStore for DynamoStore {
    fn first_time<'a>(
        &'a self,
        key: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(self.claim_first(key, keep))
    }

    fn join<'a>(&'a self, join: &'a Join) -> BoxFuture<'a, Result<Joined, StateError>> {
        Box::pin(self.join_incident(join))
    }

    fn take_over<'a>(
        &'a self,
        key: &'a str,
        now: i64,
        lease: Duration,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.update(
            key,
            "SET posting_until = :until, posting_by = :me",
            "attribute_exists(pk) AND attribute_not_exists(parent_ts) AND posting_until < :now",
            vec![
                (":until", n(now + secs(lease))),
                (":now", n(now)),
                (":me", s(holder)),
            ],
            vec![],
        ))
    }

    fn renew_lease<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async move {
            let renewed = self
                .update(
                    key,
                    "SET posting_until = :until",
                    "attribute_exists(pk) AND attribute_not_exists(parent_ts) AND posting_by = :me",
                    vec![(":until", n(until)), (":me", s(holder))],
                    vec![],
                )
                .await?;
            Ok(renewed.is_some())
        })
    }

    fn renew_claim<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let claim = unposted_attribute(task_id);
            self.update(
                key,
                "SET #c = :until",
                "attribute_exists(#c)",
                vec![(":until", n(until))],
                vec![("#c", claim.as_str())],
            )
            .await
            .map(|_| ())
        })
    }

    fn line_posted<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let claim = unposted_attribute(task_id);
            self.update(
                key,
                "REMOVE #c",
                "attribute_exists(pk)",
                vec![],
                vec![("#c", claim.as_str())],
            )
            .await
            .map(|_| ())
        })
    }

    fn open_incidents<'a>(
        &'a self,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(scope))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.failure("GetItem", &e))?;
            let keys: BTreeSet<String> = output
                .item()
                .and_then(|item| item.get("keys"))
                .and_then(|v| v.as_ss().ok())
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default();
            Ok(keys.into_iter().collect())
        })
    }

    fn recover<'a>(
        &'a self,
        key: &'a str,
        scope: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(async move {
            let recovered = self
                .update(
                    key,
                    "SET recovered_at = :at, active_until = :closed",
                    "attribute_exists(pk) AND attribute_not_exists(recovered_at) AND active_until >= :at",
                    vec![(":at", n(at)), (":closed", n(at - 1))],
                    vec![],
                )
                .await?;
            self.index(scope, key, "DELETE").await?;
            self.index(ALL_OPEN, key, "DELETE").await?;
            Ok(recovered)
        })
    }

    fn list<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.index(index, key, "ADD"))
    }

    fn unlist<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.index(index, key, "DELETE"))
    }

    fn set_escalated<'a>(
        &'a self,
        key: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.update(
            key,
            "SET escalated_at = :at",
            "attribute_exists(pk)",
            vec![(":at", n(at))],
            vec![],
        ))
    }

    fn forget<'a>(&'a self, key: &'a str, scope: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            self.index(scope, key, "DELETE").await?;
            self.index(ALL_OPEN, key, "DELETE").await
        })
    }

    fn set_deployment<'a>(
        &'a self,
        key: &'a str,
        deployment: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.update(
            key,
            "SET deployment = :d",
            "attribute_exists(pk)",
            vec![(":d", s(deployment))],
            vec![],
        ))
    }

    fn set_parent<'a>(
        &'a self,
        key: &'a str,
        ts: &'a str,
        card: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            self.update(
                key,
                "SET parent_ts = :ts, card = :card",
                "attribute_exists(pk)",
                vec![(":ts", s(ts)), (":card", s(card))],
                vec![],
            )
            .await
            .map(|_| ())
        })
    }

    fn incident<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.read(key))
    }

    fn acknowledge<'a>(
        &'a self,
        key: &'a str,
        user: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.update(
            key,
            "SET acknowledged_by = :user, acknowledged_at = :at",
            "attribute_exists(pk)",
            vec![(":user", s(user)), (":at", n(at))],
            vec![],
        ))
    }

    fn mute<'a>(
        &'a self,
        key: &'a str,
        until: i64,
        until_recovered: bool,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        Box::pin(self.update(
            key,
            "SET muted_until = :until, mute_recovered = :recovered",
            "attribute_exists(pk)",
            vec![
                (":until", n(until)),
                (":recovered", AttributeValue::Bool(until_recovered)),
            ],
            vec![],
        ))
    }
    fn hold<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        Box::pin(self.hold_key(key, value, keep))
    }

    fn held<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        Box::pin(self.held_value(key))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(self.release_key(key, value))
    }

    fn replace<'a>(
        &'a self,
        key: &'a str,
        old: &'a str,
        new: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(self.replace_key(key, old, new, keep))
    }
}

fn is_condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn item_from(incident: &Incident) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(&incident.key));
    item.insert("kind".into(), s("incident"));
    item.insert("channel".into(), s(&incident.channel));
    let stops = incident
        .stops
        .iter()
        .map(|(task, at)| (task.clone(), n(*at)))
        .collect();
    item.insert("stops".into(), AttributeValue::M(stops));
    item.insert("posting_until".into(), n(incident.posting_until));
    if let Some(holder) = &incident.posting_by {
        item.insert("posting_by".into(), s(holder));
    }
    item.insert("opened_at".into(), n(incident.opened_at));
    item.insert("scope".into(), s(&incident.scope));
    if let Some(at) = incident.escalate_at {
        item.insert("escalate_at".into(), n(at));
        item.insert("escalate_to".into(), s(&incident.escalate_to.join(" ")));
    }
    item.insert("active_until".into(), n(incident.active_until));
    item.insert(
        "expires_at".into(),
        n(incident_expiry(incident.active_until)),
    );
    item
}

fn incident_from(item: &Item) -> Incident {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let stops: BTreeMap<String, i64> = item
        .get("stops")
        .and_then(|v| v.as_m().ok())
        .map(|stops| {
            stops
                .iter()
                .filter_map(|(task, at)| Some((task.clone(), at.as_n().ok()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let unposted = item
        .iter()
        .filter_map(|(name, value)| {
            let task = name.strip_prefix(UNPOSTED)?;
            Some((task.to_string(), value.as_n().ok()?.parse().ok()?))
        })
        .collect();
    let previous = text("prev_ts").and_then(|parent_ts| {
        Some(Previous {
            parent_ts,
            ended_at: number("prev_ended")?,
        })
    });
    Incident {
        key: text("pk").unwrap_or_default(),
        channel: text("channel").unwrap_or_default(),
        parent_ts: text("parent_ts"),
        card: text("card"),
        stops,
        posting_until: number("posting_until").unwrap_or_default(),
        active_until: number("active_until").unwrap_or_default(),
        acknowledged_by: text("acknowledged_by"),
        acknowledged_at: number("acknowledged_at"),
        muted_until: number("muted_until"),
        mute_until_recovered: item
            .get("mute_recovered")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        opened_at: number("opened_at").unwrap_or_default(),
        posting_by: text("posting_by"),
        unposted,
        recovered_at: number("recovered_at"),
        deployment: text("deployment"),
        previous,
        scope: text("scope").unwrap_or_default(),
        escalate_at: number("escalate_at"),
        escalate_to: text("escalate_to")
            .map(|whom| whom.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        escalated_at: number("escalated_at"),
    }
}
