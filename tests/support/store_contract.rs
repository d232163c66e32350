//! The behaviour every [`StateStore`] must share; tests/state.rs runs it against the
//! memory store and against DynamoDB on moto's server.
#![allow(dead_code)]

use ecs_why::state::{now, Join, Joined, StateStore, ALL_OPEN, FIRST_TIME_KEEP};
use std::sync::Arc;
use std::time::Duration;

fn join(key: &str, task: &str, now: i64) -> Join {
    join_by(key, task, now, "replica-a")
}

fn join_by(key: &str, task: &str, now: i64, holder: &str) -> Join {
    Join {
        key: key.into(),
        channel: "C1".into(),
        task_id: task.into(),
        stopped_at: now - 5,
        now,
        window: Duration::from_secs(3600),
        lease: Duration::from_secs(30),
        claim: Duration::from_secs(30),
        holder: holder.into(),
        scope: scope_of(key),
        escalation: Some((
            Duration::from_secs(900),
            vec!["S0ONCALL".into(), "U0LEAD".into()],
        )),
    }
}

fn scope_of(key: &str) -> String {
    format!("open#{key}")
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
    assert!(
        second.unposted.contains_key("task-b"),
        "counted, its line not posted yet"
    );
    assert_eq!(
        store.join(&join(&key, "task-b", t0 + 61)).await.unwrap(),
        Joined::Busy,
        "a repeat while its line is being posted waits"
    );
    store.line_posted(&key, "task-b").await.unwrap();
    assert!(matches!(
        store.join(&join(&key, "task-b", t0 + 62)).await.unwrap(),
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
    let previous = fresh.previous.expect("the new incident knows the last one");
    assert_eq!(previous.parent_ts, "111.222");
    assert_eq!(
        previous.ended_at,
        t0 + 55,
        "the last one ended with its last stop"
    );
    let stored = store.incident(&key).await.unwrap().unwrap();
    assert_eq!(
        stored.previous.map(|p| p.parent_ts).as_deref(),
        Some("111.222")
    );
}

/// A stop counted by a replica that died before posting its line is taken over once
/// the claim runs out; a live replica renews its claim and keeps it.
pub async fn an_unposted_line_is_taken_over_when_its_claim_runs_out(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#claims#{t0}");
    store.join(&join(&key, "task-a", t0)).await.unwrap();
    assert!(matches!(
        store.join(&join(&key, "task-b", t0)).await.unwrap(),
        Joined::Added(_)
    ));
    assert_eq!(
        store
            .join(&join_by(&key, "task-b", t0 + 29, "replica-b"))
            .await
            .unwrap(),
        Joined::Busy
    );
    let Joined::Reclaimed(taken) = store
        .join(&join_by(&key, "task-b", t0 + 31, "replica-b"))
        .await
        .unwrap()
    else {
        panic!("the claim ran out: the line is taken over");
    };
    assert_eq!(taken.count(), 2, "counted once");
    // The new holder renews its claim while it posts.
    store.renew_claim(&key, "task-b", t0 + 120).await.unwrap();
    assert_eq!(
        store.join(&join(&key, "task-b", t0 + 90)).await.unwrap(),
        Joined::Busy
    );
    store.line_posted(&key, "task-b").await.unwrap();
    assert!(matches!(
        store.join(&join(&key, "task-b", t0 + 200)).await.unwrap(),
        Joined::Duplicate(_)
    ));
}

/// Steady again: the incident closes once (of racing replicas one wins), leaves its
/// service's open incidents, and the next stop opens a new incident that links it.
pub async fn an_incident_recovers_once(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#recover#{t0}");
    let scope = scope_of(&key);
    store.join(&join(&key, "task-a", t0)).await.unwrap();
    assert_eq!(
        store.open_incidents(&scope).await.unwrap(),
        vec![key.clone()]
    );
    assert!(store.open_incidents(ALL_OPEN).await.unwrap().contains(&key));
    assert!(store
        .open_incidents("open#nothing")
        .await
        .unwrap()
        .is_empty());
    let opened = store.incident(&key).await.unwrap().unwrap();
    assert_eq!(opened.scope, scope);
    assert_eq!(opened.escalate_at, Some(t0 + 900));
    assert_eq!(opened.escalate_to, ["S0ONCALL", "U0LEAD"]);
    let escalated = store.set_escalated(&key, t0 + 901).await.unwrap().unwrap();
    assert_eq!(escalated.escalated_at, Some(t0 + 901));
    store.set_parent(&key, "5.6", "{}").await.unwrap();
    let closed = store
        .recover(&key, &scope, t0 + 600)
        .await
        .unwrap()
        .expect("the first recovery closes it");
    assert_eq!(closed.recovered_at, Some(t0 + 600));
    assert_eq!(
        store.recover(&key, &scope, t0 + 601).await.unwrap(),
        None,
        "once"
    );
    assert!(store.open_incidents(&scope).await.unwrap().is_empty());
    assert!(!store.open_incidents(ALL_OPEN).await.unwrap().contains(&key));
    let Joined::Opened(again) = store.join(&join(&key, "task-z", t0 + 700)).await.unwrap() else {
        panic!("a stop after the recovery opens a new incident");
    };
    assert_eq!(again.recovered_at, None);
    assert_eq!(
        again.previous.map(|p| (p.parent_ts, p.ended_at)),
        Some(("5.6".to_string(), t0 + 600))
    );
    assert_eq!(
        store.open_incidents(&scope).await.unwrap(),
        vec![key.clone()]
    );
    store.forget(&key, &scope).await.unwrap();
    assert!(
        store.open_incidents(&scope).await.unwrap().is_empty(),
        "forgotten"
    );
    assert!(!store.open_incidents(ALL_OPEN).await.unwrap().contains(&key));
    // A repeated delivery of a stop counted before the recovery opens nothing.
    assert!(matches!(
        store.join(&join(&key, "task-z", t0 + 701)).await.unwrap(),
        Joined::Duplicate(_)
    ));
    let noted = store
        .set_deployment(&key, "deployment ecs-svc/1 failed")
        .await
        .unwrap()
        .expect("noted");
    assert_eq!(
        noted.deployment.as_deref(),
        Some("deployment ecs-svc/1 failed")
    );
}

pub async fn a_stalled_parent_can_be_taken_over(store: &dyn StateStore) {
    let t0 = now();
    let key = format!("incident#C1#stalled#{t0}");
    store.join(&join(&key, "task-a", t0)).await.unwrap();
    let lease = Duration::from_secs(30);
    assert_eq!(
        store
            .take_over(&key, t0 + 1, lease, "replica-b")
            .await
            .unwrap(),
        None
    );
    // The opener is alive and renews its lease; another replica cannot renew it.
    assert!(store.renew_lease(&key, "replica-a", t0 + 40).await.unwrap());
    assert!(!store.renew_lease(&key, "replica-b", t0 + 90).await.unwrap());
    assert_eq!(
        store
            .take_over(&key, t0 + 31, lease, "replica-b")
            .await
            .unwrap(),
        None
    );
    let taken = store
        .take_over(&key, t0 + 41, lease, "replica-b")
        .await
        .unwrap();
    let taken = taken.expect("the lease ran out");
    assert_eq!(taken.posting_by.as_deref(), Some("replica-b"));
    assert!(
        !store.renew_lease(&key, "replica-a", t0 + 90).await.unwrap(),
        "no longer its own"
    );
    assert_eq!(
        store
            .take_over(&key, t0 + 42, lease, "replica-c")
            .await
            .unwrap(),
        None
    );
    store.set_parent(&key, "1.2", "{}").await.unwrap();
    assert!(
        !store.renew_lease(&key, "replica-b", t0 + 90).await.unwrap(),
        "posted"
    );
    assert_eq!(
        store
            .take_over(&key, t0 + 999, lease, "replica-c")
            .await
            .unwrap(),
        None
    );
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
    let muted = store.mute(&key, t0 + 3600, false).await.unwrap().unwrap();
    assert!(!muted.mute_until_recovered);
    assert!(muted.is_muted(t0 + 10));
    assert!(!muted.is_muted(t0 + 3601));
    let until_recovered = store
        .mute(&key, t0 + 7 * 86_400, true)
        .await
        .unwrap()
        .unwrap();
    assert!(until_recovered.mute_until_recovered);
    assert_eq!(store.mute("incident#none", t0, false).await.unwrap(), None);
}

/// A held key has one holder, others learn who; a release by someone else keeps it.
pub async fn a_key_is_held_once_and_released_by_its_holder(store: Arc<dyn StateStore>) {
    let key = format!("action#{}", now());
    let keep = Duration::from_secs(60);
    let tries = (0..8).map(|i| {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move { store.hold(&key, &format!("U{i}"), keep).await })
    });
    let results: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let winners = results.iter().filter(|r| r.is_none()).count();
    assert_eq!(winners, 1, "{results:?}");
    let holder = store.held(&key).await.unwrap().expect("held");
    assert!(
        results.iter().flatten().all(|seen| *seen == holder),
        "every loser is told the one holder: {results:?} vs {holder}"
    );
    assert!(!store
        .replace(&key, "somebody-else", "U7", keep)
        .await
        .unwrap());
    assert!(
        store.replace(&key, &holder, &holder, keep).await.unwrap(),
        "renewed"
    );
    store.release(&key, "somebody-else").await.unwrap();
    assert_eq!(
        store.held(&key).await.unwrap().as_deref(),
        Some(holder.as_str())
    );
    store.release(&key, &holder).await.unwrap();
    assert_eq!(store.held(&key).await.unwrap(), None);
    assert_eq!(store.hold(&key, "U9", keep).await.unwrap(), None);
    assert_eq!(store.held(&key).await.unwrap().as_deref(), Some("U9"));
    assert!(store.replace(&key, "U9", "U9 done", keep).await.unwrap());
    assert_eq!(store.held(&key).await.unwrap().as_deref(), Some("U9 done"));
    let index = format!("running#{key}");
    store.list(&index, "a").await.unwrap();
    store.list(&index, "b").await.unwrap();
    store.unlist(&index, "a").await.unwrap();
    assert_eq!(store.listed(&index).await.unwrap(), ["b"]);
}
