//! The shared state store: the same contract for the in-memory store and for DynamoDB
//! (moto's server over HTTP, through the real SDK), including racing replicas.

mod support;

use ecs_why::state::dynamo::DynamoStore;
use ecs_why::state::memory::MemoryStore;
use ecs_why::state::StateStore;
use std::sync::Arc;
use support::moto::{create_state_table, Moto};
use support::store_contract as contract;

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    let store = MemoryStore::default();
    contract::first_time_is_once(&store).await;
    contract::incidents_group_and_count_once(&store).await;
    contract::a_stalled_parent_can_be_taken_over(&store).await;
    contract::an_unposted_line_is_taken_over_when_its_claim_runs_out(&store).await;
    contract::an_incident_recovers_once(&store).await;
    contract::acknowledge_and_mute(&store).await;
    contract::racing_first_times_have_one_winner(Arc::new(MemoryStore::default())).await;
    contract::a_key_is_held_once_and_released_by_its_holder(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_contract_on_moto() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    create_state_table(&config, "ecs-why-state").await;
    let store = DynamoStore::from_sdk_config(&config, "ecs-why-state");
    contract::first_time_is_once(&store).await;
    contract::incidents_group_and_count_once(&store).await;
    contract::a_stalled_parent_can_be_taken_over(&store).await;
    contract::an_unposted_line_is_taken_over_when_its_claim_runs_out(&store).await;
    contract::an_incident_recovers_once(&store).await;
    contract::acknowledge_and_mute(&store).await;
    let shared: Arc<dyn StateStore> = Arc::new(store.clone());
    contract::racing_first_times_have_one_winner(shared.clone()).await;
    contract::a_key_is_held_once_and_released_by_its_holder(shared).await;
}

#[tokio::test]
async fn a_missing_table_is_named_with_the_fix() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let store = DynamoStore::from_sdk_config(&config, "no-such-table");
    let err = store
        .first_time("event#1", ecs_why::state::FIRST_TIME_KEEP)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-table"), "{err}");
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert!(err.contains("ECS_WHY_STATE_TABLE"), "{err}");
}
