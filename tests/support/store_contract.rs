//! The behaviour every [`StateStore`] must share; tests/state.rs runs it against the
//! memory store and against DynamoDB on moto's server.
#![allow(dead_code)]

use ecs_why::state::{now, Join, Joined, StateStore, FIRST_TIME_KEEP};
use std::sync::Arc;
use std::time::Duration;

fn join(key: &str, task: &str, now: i64) -> Join {
    Join {
        key: key.into(),
        channel: "C1".into(),
        task_id: task.into(),
        stopped_at: now - 5,
        now,
        window: Duration::from_secs(3600),
        lease: Duration::from_secs(30),
    }
}

pub async fn first_time_is_once(store: &dyn StateStore) {
    let key = format!("event#{}", now());
    assert!(store.first_time(&key, FIRST_TIME_KEEP).await.unwrap());
    assert!(!store.first_time(&key, FIRST_TIME_KEEP).await.unwrap());
    let other = format!("{key}-2");
    assert!(store.first_time(&other, FIRST_TIME_KEEP).await.unwrap());
}

pub async fn racing_first_times_have_one_winner(store: Arc<dyn StateStore>) {
    let key = format!("race#{}", now());
    let tries = (0..8).map(|_| {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move { store.first_time(&key, FIRST_TIME_KEEP).await })
    });
    let results = futures::future::join_all(tries).await;
    let winners = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(winners, 1);
}

pub async fn incidents_group_and_count_once(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#svc#{t0}");
    let Joined::Opened(first) = store.join(&join(&key, "task-a", t0)).await.unwrap() else {
        panic!("the first stop opens the incident");
    };
    assert_eq!(first.count(), 1);
    assert_eq!(first.parent_ts, None);
    let Joined::Added(second) = store.join(&join(&key, "task-b", t0 + 60)).await.unwrap() else {
        panic!("a later stop joins it");
    };
    assert_eq!(second.count(), 2);
    assert!(matches!(
        store.join(&join(&key, "task-b", t0 + 61)).await.unwrap(),
        Joined::Duplicate(_)
    ));
    store.set_parent(&key, "111.222", "{}").await.unwrap();
    let read = store.incident(&key).await.unwrap().unwrap();
    assert_eq!(read.parent_ts.as_deref(), Some("111.222"));
    assert_eq!(read.count(), 2);
    assert_eq!(read.channel, "C1");
    // An hour and more after the last stop, the same key opens a new incident.
    let later = join(&key, "task-c", t0 + 60 + 3601);
    let Joined::Opened(fresh) = store.join(&later).await.unwrap() else {
        panic!("a stop after the window opens a new incident");
    };
    assert_eq!(fresh.count(), 1);
    assert_eq!(fresh.parent_ts, None);
}

pub async fn a_stalled_parent_can_be_taken_over(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#stalled#{t0}");
    store.join(&join(&key, "task-a", t0)).await.unwrap();
    let lease = Duration::from_secs(30);
    assert_eq!(store.take_over(&key, t0 + 1, lease).await.unwrap(), None);
    let taken = store.take_over(&key, t0 + 31, lease).await.unwrap();
    assert!(taken.is_some(), "the lease ran out");
    assert_eq!(store.take_over(&key, t0 + 32, lease).await.unwrap(), None);
    store.set_parent(&key, "1.2", "{}").await.unwrap();
    assert_eq!(store.take_over(&key, t0 + 999, lease).await.unwrap(), None);
}

pub async fn acknowledge_and_mute(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#ack#{t0}");
    store.join(&join(&key, "task-a", t0)).await.unwrap();
    let acked = store
        .acknowledge(&key, "U1", t0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("U1"));
    assert_eq!(acked.acknowledged_at, Some(t0 + 5));
    let muted = store.mute(&key, t0 + 3600).await.unwrap().unwrap();
    assert!(muted.is_muted(t0 + 10));
    assert!(!muted.is_muted(t0 + 3601));
    assert_eq!(store.mute("incident#none", t0).await.unwrap(), None);
}
