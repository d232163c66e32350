//! Hand-built tasks for the diagnosis's unit tests: a stopped task of service `api` in
//! cluster `prod`, with the containers a test gives it.

use crate::evidence::{Container, Task};

/// A task of service `api` whose essential container exited, holding `containers`.
pub fn task_with(containers: Vec<Container>) -> Task {
    Task {
        arn: "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef".into(),
        cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
        group: Some("service:api".into()),
        stop_code: Some("EssentialContainerExited".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        containers,
        ..Default::default()
    }
}

/// A container named `name` that exited with `exit_code`.
pub fn container(name: &str, exit_code: Option<i32>) -> Container {
    Container {
        name: name.into(),
        exit_code,
        ..Default::default()
    }
}
