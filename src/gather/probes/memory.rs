//! The memory probe: the task's memory over the 30 minutes before an out-of-memory stop.
//!
//! One CloudWatch `GetMetricData` call carries the queries: Container Insights'
//! `MemoryUtilized` for the task itself (MiB; needs Container Insights with enhanced
//! observability) and, for a service task, `AWS/ECS` `MemoryUtilization` for the service
//! (percent). The task's series wins when it has points; the service's is the fallback.
//! A peak at 90 % of the limit or more confirms the out-of-memory cause with its figures;
//! a lower peak is shown as a fact. The series itself goes to [`ProbeResults::memory`]
//! for the graph ([`crate::render::memory_graph`]).

use super::{unchecked, ProbeClients, ProbeInput};
use crate::evidence::probes::{
    Check, CheckId, CheckOutcome, CheckRequest, MemoryPoint, MemorySeries,
};
use crate::evidence::{Evidence, ProbeResults};
use crate::gather::ecs::to_chrono;
use crate::gather::failure::aws_failure;
use crate::text::figure;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, ScanBy,
};
use chrono::{DateTime, Duration, Utc};

/// The check's name.
const PROBE: CheckId = CheckId::Memory;
/// How far back from the stop the graph reaches.
const WINDOW_MINUTES: i64 = 30;
/// One point a minute: the finest `AWS/ECS` and Container Insights publish.
const PERIOD_SECONDS: i32 = 60;
/// A peak at this share of the limit or above confirms the out-of-memory cause.
const CONFIRMING_SHARE: f64 = 0.9;

/// The task's series is asked for under ClusterName and TaskId and, in the same call,
/// under ClusterName, TaskDefinitionFamily and TaskId (the set enhanced observability
/// publishes task metrics with): CloudWatch matches a dimension set exactly, and asking
/// for both costs no extra round trip.
const TASK_QUERY: &str = "task";
const TASK_FAMILY_QUERY: &str = "task_family";
const SERVICE_QUERY: &str = "service";

/// Asked for (out-of-memory causes, and SIGKILLs, which are often the kernel's OOM
/// killer), for a task whose stop time is known.
pub fn applies(input: ProbeInput<'_>) -> bool {
    *input.request == CheckRequest::MemoryBeforeStop && input.evidence.task.stopped_at.is_some()
}

/// Fetch the memory series in one call and judge its peak against the limit.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let evidence = input.evidence;
    let task = &evidence.task;
    let Some(stopped_at) = task.stopped_at else {
        return ProbeResults::default();
    };
    let cluster = task.cluster_name();
    let start = stopped_at - Duration::minutes(WINDOW_MINUTES);
    let end = stopped_at + Duration::minutes(1);

    let mut request = clients
        .cloudwatch
        .get_metric_data()
        .start_time(smithy_time(start))
        .end_time(smithy_time(end))
        .scan_by(ScanBy::TimestampAscending)
        .metric_data_queries(query(
            TASK_QUERY,
            "ECS/ContainerInsights",
            "MemoryUtilized",
            &[("ClusterName", cluster), ("TaskId", task.id())],
        ));
    if let Some(family) = family(evidence) {
        request = request.metric_data_queries(query(
            TASK_FAMILY_QUERY,
            "ECS/ContainerInsights",
            "MemoryUtilized",
            &[
                ("ClusterName", cluster),
                ("TaskDefinitionFamily", family),
                ("TaskId", task.id()),
            ],
        ));
    }
    if let Some(service) = task.service_name() {
        request = request.metric_data_queries(query(
            SERVICE_QUERY,
            "AWS/ECS",
            "MemoryUtilization",
            &[("ClusterName", cluster), ("ServiceName", service)],
        ));
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            return super::only_unchecked(unchecked(
                &format!("the memory of task {} before it stopped", task.id()),
                "cloudwatch:GetMetricData",
                &aws_failure(&err),
            ))
        }
    };
    let results = answer.metric_data_results();
    let series = points_of(results, TASK_QUERY)
        .or_else(|| points_of(results, TASK_FAMILY_QUERY))
        .map(|points| MemorySeries {
            source: "Container Insights MemoryUtilized (task)".into(),
            unit: "MiB".into(),
            points,
            limit: memory_limit_mib(evidence),
            stopped_at: Some(stopped_at),
        })
        .or_else(|| {
            points_of(results, SERVICE_QUERY).map(|points| MemorySeries {
                source: "AWS/ECS MemoryUtilization (service average)".into(),
                unit: "Percent".into(),
                points,
                limit: Some(100.0),
                stopped_at: Some(stopped_at),
            })
        });
    let Some(series) = series else {
        return super::only_unchecked(format!(
            "Container Insights is off for cluster {cluster}: turn it on (aws ecs update-cluster-settings --cluster {cluster} --settings name=containerInsights,value=enhanced) to get the memory graph."
        ));
    };
    ProbeResults {
        checks: vec![judge(&series)],
        memory: Some(series),
        ..ProbeResults::default()
    }
}

/// The task definition's family: the definition's own, else from the task's ARN.
fn family(evidence: &Evidence) -> Option<&str> {
    if let Some(definition) = evidence.task_definition.as_ref() {
        if !definition.family.is_empty() {
            return Some(&definition.family);
        }
    }
    let name = crate::arn::task_definition_name(&evidence.task.task_definition);
    let family = name.split(':').next().unwrap_or(name);
    (!family.is_empty()).then_some(family)
}

/// One query of the call: the metric's per-minute maximum.
fn query(id: &str, namespace: &str, metric: &str, dimensions: &[(&str, &str)]) -> MetricDataQuery {
    let mut metric_builder = Metric::builder().namespace(namespace).metric_name(metric);
    for (name, value) in dimensions {
        metric_builder =
            metric_builder.dimensions(Dimension::builder().name(*name).value(*value).build());
    }
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric_builder.build())
                .period(PERIOD_SECONDS)
                .stat("Maximum")
                .build(),
        )
        .return_data(true)
        .build()
}

/// The points of query `id`, oldest first; `None` when it returned none.
fn points_of(results: &[MetricDataResult], id: &str) -> Option<Vec<MemoryPoint>> {
    let result = results.iter().find(|r| r.id() == Some(id))?;
    let mut points: Vec<MemoryPoint> = result
        .timestamps()
        .iter()
        .zip(result.values())
        .filter_map(|(at, value)| {
            Some(MemoryPoint {
                at: to_chrono(at)?,
                value: *value,
            })
        })
        .collect();
    points.sort_by_key(|p| p.at);
    (!points.is_empty()).then_some(points)
}

/// The task's memory in MiB: the task's own size, else its definition's, else the sum
/// of the containers' hard limits when every container has one.
pub fn memory_limit_mib(evidence: &Evidence) -> Option<f64> {
    let parse = |text: Option<&String>| text.and_then(|t| t.trim().parse::<f64>().ok());
    if let Some(limit) = parse(evidence.task.memory.as_ref()) {
        return Some(limit);
    }
    let definition = evidence.task_definition.as_ref()?;
    if let Some(limit) = parse(definition.memory.as_ref()) {
        return Some(limit);
    }
    let hard_limits: Option<Vec<i32>> = definition.containers.iter().map(|c| c.memory).collect();
    hard_limits
        .filter(|limits| !limits.is_empty())
        .map(|limits| limits.iter().map(|l| f64::from(*l)).sum())
}

/// The check for a series: its peak against its limit.
pub fn judge(series: &MemorySeries) -> Check {
    let (Some(first), Some(peak)) = (
        series.points.first(),
        series
            .points
            .iter()
            .max_by(|a, b| a.value.total_cmp(&b.value)),
    ) else {
        return Check::new(
            PROBE,
            CheckOutcome::Context,
            "no memory figures before the stop",
        );
    };
    let minutes = series
        .stopped_at
        .map(|stop| minutes_between(first.at, stop))
        .unwrap_or(WINDOW_MINUTES);
    let amount = |value: f64| figure(value, &series.unit);
    let Some(limit) = series.limit.filter(|l| *l > 0.0) else {
        return Check::new(
            PROBE,
            CheckOutcome::Context,
            format!(
                "memory went from {} to a peak of {} in the {minutes} minutes before the stop; no memory limit is set to compare with",
                amount(first.value),
                amount(peak.value)
            ),
        );
    };
    let share = peak.value / limit;
    // A percentage is already of the limit: `of 100 %` would say nothing.
    let (of_limit, share_text) = if series.unit.eq_ignore_ascii_case("percent") {
        (format!("of the limit ({})", series.source), String::new())
    } else {
        (
            format!("of {}", amount(limit)),
            format!(" ({:.0} %)", share * 100.0),
        )
    };
    if share >= CONFIRMING_SHARE {
        Check::new(
            PROBE,
            CheckOutcome::Confirms,
            format!(
                "memory climbed from {} to {} {of_limit} in the {minutes} minutes before the stop",
                amount(first.value),
                amount(peak.value),
            ),
        )
    } else {
        Check::new(
            PROBE,
            CheckOutcome::Context,
            format!(
                "memory peaked at {} {of_limit}{share_text} in the {minutes} minutes before the stop; one-minute samples can miss a spike in the last seconds",
                amount(peak.value),
            ),
        )
    }
}

/// Whole minutes from `from` to `to`, at least 1.
fn minutes_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let seconds = (to - from).num_seconds().max(0);
    ((seconds + 59) / 60).max(1)
}

fn smithy_time(at: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(at.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64], limit: Option<f64>) -> MemorySeries {
        let stop = DateTime::parse_from_rfc3339("2026-11-20T14:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("a fixed time");
        MemorySeries {
            source: "test".into(),
            unit: "MiB".into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| MemoryPoint {
                    at: stop - Duration::minutes((values.len() - i) as i64),
                    value: *v,
                })
                .collect(),
            limit,
            stopped_at: Some(stop),
        }
    }

    #[test]
    fn a_peak_near_the_limit_confirms_and_a_low_one_is_context() {
        let climb = judge(&series(&[310.0, 600.0, 1019.0], Some(1024.0)));
        assert_eq!(climb.outcome, CheckOutcome::Confirms);
        assert_eq!(
            climb.detail,
            "memory climbed from 310 MiB to 1,019 MiB of 1,024 MiB in the 3 minutes before the stop"
        );
        let mut percent = series(&[31.0, 64.0, 97.0], Some(100.0));
        percent.unit = "Percent".into();
        percent.source = "AWS/ECS MemoryUtilization (service average)".into();
        assert_eq!(
            judge(&percent).detail,
            "memory climbed from 31 % to 97 % of the limit (AWS/ECS MemoryUtilization (service average)) in the 3 minutes before the stop"
        );
        let flat = judge(&series(&[300.0, 310.0, 305.0], Some(1024.0)));
        assert_eq!(flat.outcome, CheckOutcome::Context);
        assert!(
            flat.detail
                .starts_with("memory peaked at 310 MiB of 1,024 MiB (30 %)"),
            "{}",
            flat.detail
        );
    }
}
