//! The catalog's entries, as data: title, meaning and general fixes of every cause.
//!
//! The table is in `CauseId` order (a compile-time check in `catalog` holds it there),
//! so looking a cause up is indexing, never a search that could miss. Fix steps that a
//! rule also quotes on its own are named constants in [`fixes`], so no rule depends on
//! where a step sits in a list.

use super::{Cause, CauseId};
use strum::EnumCount;

/// Fix steps a rule quotes by name as well as the table listing them.
pub mod fixes {
    /// `spot-interruption`, second step.
    pub const SPOT_HANDLE_SIGTERM: &str =
        "Handle SIGTERM to finish work within the two-minute warning.";
    /// `out-of-memory`, second step.
    pub const OOM_FIND_LEAK: &str = "Look for a memory leak or an unbounded cache; set the runtime's heap limit below the container limit (e.g. `-XX:MaxRAMPercentage=75`, `--max-old-space-size`).";
    /// `out-of-memory`, third step.
    pub const OOM_WATCH_METRIC: &str = "Watch the service's MemoryUtilization metric in CloudWatch (Container Insights shows it per task).";
    /// `entrypoint-failed`, first step.
    pub const ENTRYPOINT_CHECK_COMMAND: &str = "Check the task definition's `entryPoint` and `command` against the image (`docker run --entrypoint sh IMAGE -c 'ls -l PATH'`).";
    /// `entrypoint-failed`, second step.
    pub const ENTRYPOINT_MAKE_EXECUTABLE: &str = "Make the script executable (`chmod +x`) and check its shebang line and line endings (CRLF breaks `#!/bin/sh`).";
    /// `container-health-check-failed`, third step.
    pub const HEALTH_CHECK_PORT_AND_TIMEOUT: &str = "Check that the command probes the right port and path, and that its timeout is long enough.";
    /// `stopped-by-user`, second step.
    pub const USER_STOP_CHECK_AUTOMATION: &str =
        "If an automation stops tasks, check its logic and schedule.";
    /// `task-limit-quota`, second step.
    pub const QUOTA_SPREAD_WORKLOADS: &str =
        "Stop unused tasks or spread workloads across Regions or accounts.";
}

use fixes::*;

/// Every cause, in `CauseId` order. The last entry is `other`, the fallback.
pub const CATALOG: [Cause; CauseId::COUNT] = [
    Cause {
        id: CauseId::ImagePullFailed,
        title: "The container image could not be pulled",
        meaning: "ECS could not download the container image before starting the task \
                  (CannotPullContainerError): the repository or tag does not exist, the \
                  execution role may not read it, the registry is unreachable from the \
                  task's subnet, or the host ran out of disk space.",
        general_fixes: &[
            "Check that the repository and tag exist: `aws ecr describe-images --repository-name REPO --image-ids imageTag=TAG`.",
            "Give the task execution role `ecr:GetAuthorizationToken`, `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` (the AWS managed policy AmazonECSTaskExecutionRolePolicy).",
            "From a private subnet, add a NAT gateway or the VPC endpoints `com.amazonaws.REGION.ecr.api`, `ecr.dkr` and the S3 gateway endpoint; in a public subnet on Fargate, turn on `assignPublicIp`.",
        ],
    },
    Cause {
        id: CauseId::SecretsOrRegistryAuth,
        title: "Secrets or registry credentials could not be retrieved",
        meaning: "Before starting the containers, ECS fetches the secrets and registry \
                  credentials named in the task definition with the task execution role \
                  (ResourceInitializationError). The call was denied, the secret or \
                  parameter does not exist, the KMS key may not be used, or the service \
                  endpoint was unreachable.",
        general_fixes: &[
            "Give the task execution role `secretsmanager:GetSecretValue` / `ssm:GetParameters` on the referenced ARNs, and `kms:Decrypt` on a customer-managed key.",
            "Check that each `valueFrom` ARN or parameter name exists in the task's region and account.",
            "From a private subnet, add a NAT gateway or VPC endpoints for Secrets Manager, SSM and KMS.",
        ],
    },
    Cause {
        id: CauseId::NetworkSetupFailed,
        title: "The task's network could not be set up",
        meaning: "ECS could not create or attach the task's elastic network interface or \
                  configure its networking (awsvpc mode), so no container started.",
        general_fixes: &[
            "Check that the subnets have free IP addresses and that the account's ENI quota is not reached.",
            "Check that the subnets and security groups named in the service's network configuration still exist.",
            "Run the task again: transient ENI attachment failures usually clear on retry.",
        ],
    },
    Cause {
        id: CauseId::ContainerExitedAppError,
        title: "The application exited with an error",
        meaning: "An essential container's process ended with a non-zero exit code, so ECS \
                  stopped the whole task. The cause is inside the application: its last \
                  log lines usually say what went wrong.",
        general_fixes: &[
            "Read the container's last log lines for the error (a stack trace, a missing setting, a refused connection).",
            "Run the same image locally with the same command and environment variable names to reproduce it.",
        ],
    },
    Cause {
        id: CauseId::ContainerExitedSuccess,
        title: "The essential container finished (exit code 0)",
        meaning: "An essential container's process ended on its own with exit code 0. ECS \
                  stops a task when any essential container exits, even successfully. \
                  For a service, this looks like a crash loop.",
        general_fixes: &[
            "If the container should run forever (a server), make sure its command keeps a process in the foreground.",
            "If it is a one-off job, run it as a standalone task (RunTask or a scheduled task), not as a service.",
            "If it is a sidecar or init step, mark it `essential: false` and use `dependsOn` with condition `SUCCESS`.",
        ],
    },
    Cause {
        id: CauseId::ContainerKilledSigkill,
        title: "The container was killed with SIGKILL after it did not stop in time",
        meaning: "Exit code 137 means the process received SIGKILL. Either a stop was \
                  asked for (ECS sends SIGTERM, waits `stopTimeout` seconds, 30 by \
                  default, then sends SIGKILL) and the process did not exit in time, or \
                  something outside killed it without asking (the kernel's OOM killer \
                  under memory pressure, with no out-of-memory reason recorded).",
        general_fixes: &[
            "Handle SIGTERM in the application and exit promptly (finish in-flight work, close connections).",
            "Make the application PID 1 or use an init (`initProcessEnabled: true`) so that SIGTERM reaches it; shell-form commands do not forward signals.",
            "Raise `stopTimeout` (up to 120 s on Fargate) if a clean shutdown needs longer.",
        ],
    },
    Cause {
        id: CauseId::OutOfMemory,
        title: "The container ran out of memory",
        meaning: "The container used more memory than its limit and the kernel killed it \
                  (OutOfMemoryError, exit code 137 with OOM evidence).",
        general_fixes: &[
            "Raise the container's or task's memory limit in a new task definition revision.",
            OOM_FIND_LEAK,
            OOM_WATCH_METRIC,
        ],
    },
    Cause {
        id: CauseId::Segfault,
        title: "The container crashed with a segmentation fault",
        meaning: "Exit code 139 means the process received SIGSEGV: it read or wrote memory \
                  it does not own, usually in native code or a library built for another \
                  platform.",
        general_fixes: &[
            "Check native dependencies and the base image: a library built for another libc (musl vs glibc) or CPU often does this.",
            "Reproduce locally with the same image and enable core dumps or a debugger.",
        ],
    },
    Cause {
        id: CauseId::EntrypointFailed,
        title: "The container's command could not be run",
        meaning: "Exit code 126 means the entry point is not executable; 127 means the \
                  command was not found in the image; \"exec format error\" means the \
                  binary was built for another CPU architecture. The application never \
                  started.",
        general_fixes: &[
            ENTRYPOINT_CHECK_COMMAND,
            ENTRYPOINT_MAKE_EXECUTABLE,
            "For \"exec format error\", build the image for the task's CPU architecture (`docker buildx build --platform linux/amd64,linux/arm64`) or set `runtimePlatform.cpuArchitecture` to match the image.",
        ],
    },
    Cause {
        id: CauseId::ContainerHealthCheckFailed,
        title: "The container health check failed",
        meaning: "The health check in the task definition kept failing (or did not pass \
                  before `startPeriod` ended), so ECS marked an essential container \
                  UNHEALTHY and stopped the task.",
        general_fixes: &[
            "Run the health-check command inside the container to see why it fails (the tool it uses, e.g. curl, must exist in the image).",
            "Give slow-starting applications a `startPeriod` (up to 300 s) long enough to boot.",
            HEALTH_CHECK_PORT_AND_TIMEOUT,
        ],
    },
    Cause {
        id: CauseId::ElbHealthCheckFailed,
        title: "The load balancer's health checks failed",
        meaning: "The target group's health checks failed for this task, so the service \
                  replaced it. The container may be healthy from inside but unreachable or \
                  too slow from the load balancer.",
        general_fixes: &[
            "Check the target group's health-check path, port and success codes against what the application serves.",
            "Allow the load balancer's security group to reach the container port in the task's security group.",
            "Raise the service's `healthCheckGracePeriodSeconds` if the application needs time to start.",
        ],
    },
    Cause {
        id: CauseId::StoppedByUser,
        title: "Someone stopped the task",
        meaning: "A person or a program called StopTask (the stop code is UserInitiated). \
                  CloudTrail records who.",
        general_fixes: &[
            "Ask the caller named in CloudTrail why they stopped it.",
            USER_STOP_CHECK_AUTOMATION,
        ],
    },
    Cause {
        id: CauseId::ScalingEvent,
        title: "The service scaled in",
        meaning: "The service's desired count went down (by a person, Application Auto \
                  Scaling, or a scheduled action), and ECS stopped this task. This is \
                  normal operation.",
        general_fixes: &[
            "Nothing to fix if the scale-in was intended; check the service's auto scaling policies and scheduled actions otherwise.",
        ],
    },
    Cause {
        id: CauseId::DeploymentReplaced,
        title: "A deployment replaced the task",
        meaning: "The service rolled out a new deployment (a new task definition or a \
                  forced deployment) and stopped this task as part of replacing old \
                  tasks. This is normal operation.",
        general_fixes: &[
            "Nothing to fix if the deployment was intended; check the service's events and deployments for who started it.",
        ],
    },
    Cause {
        id: CauseId::InfrastructureMaintenance,
        title: "AWS retired the task for maintenance",
        meaning: "ECS stopped the task to patch or replace the infrastructure it ran on \
                  (Fargate task retirement or a termination notice). A service starts a \
                  replacement.",
        general_fixes: &[
            "Run services with at least two tasks across Availability Zones so that retirement does not cause downtime.",
            "Watch AWS Health events for scheduled task retirements, and handle SIGTERM so the task stops cleanly.",
        ],
    },
    Cause {
        id: CauseId::SpotInterruption,
        title: "The Spot capacity was reclaimed",
        meaning: "The task ran on Fargate Spot or EC2 Spot, and AWS took the capacity back \
                  with a two-minute warning.",
        general_fixes: &[
            "Mix FARGATE and FARGATE_SPOT (or on-demand and Spot instances) in the capacity provider strategy, with a base on on-demand.",
            SPOT_HANDLE_SIGTERM,
        ],
    },
    Cause {
        id: CauseId::InstanceUnhealthyOrTerminated,
        title: "The container instance stopped, drained or became unhealthy",
        meaning: "The EC2 instance hosting the task was stopped, terminated, set to \
                  DRAINING, or lost its ECS agent connection, so its tasks were stopped; or \
                  ECS stopped the task because the infrastructure under it failed its \
                  health checks (stop code InfrastructureHealth).",
        general_fixes: &[
            "Check the Auto Scaling group's activity history and the instance's status checks.",
            "Enable managed termination protection and draining on the capacity provider so tasks move before instances go.",
        ],
    },
    Cause {
        id: CauseId::InsufficientResourcesPlacement,
        title: "No capacity to place the task",
        meaning: "ECS could not find a container instance with enough free CPU, memory, \
                  ports or ENIs for the task, none matched its placement constraints, or \
                  the capacity provider of its strategy had no instance registered.",
        general_fixes: &[
            "Add capacity (scale the Auto Scaling group, or use a capacity provider with managed scaling).",
            "Lower the task's CPU or memory reservation, or use dynamic host ports (`hostPort: 0`) in bridge mode.",
            "Check placement constraints and that instances have the required attributes.",
        ],
    },
    Cause {
        id: CauseId::TaskLimitQuota,
        title: "An account quota was reached",
        meaning: "The account reached an ECS or Fargate quota (for example the number of \
                  Fargate vCPUs or tasks that may run at once), so the task could not run.",
        general_fixes: &[
            "Check the quota in Service Quotas (Amazon ECS / AWS Fargate) and request an increase.",
            QUOTA_SPREAD_WORKLOADS,
        ],
    },
    Cause {
        id: CauseId::ContainerCreateFailed,
        title: "The container could not be created or started",
        meaning: "The container runtime failed to create, start or inspect the container \
                  (CannotCreateContainerError, CannotStartContainerError, \
                  CannotInspectContainerError, ContainerRuntimeError), or ECS could not set \
                  up what it needs (ResourceInitializationError): a bad setting, a port \
                  already in use, a missing log group, an EFS volume that would not mount \
                  or an EBS volume that would not attach, or a wrong CPU architecture.",
        general_fixes: &[
            "Read the full reason text: it names the failing setting.",
            "Check host ports, volumes and mount points, and that the image matches the platform's CPU architecture.",
        ],
    },
    Cause {
        id: CauseId::DockerTimeout,
        title: "The container runtime timed out",
        meaning: "The container runtime did not answer in time (DockerTimeoutError; \
                  ContainerRuntimeTimeoutError on Fargate), usually because the instance is \
                  overloaded or its disk is slow or full.",
        general_fixes: &[
            "Check the instance's CPU, disk I/O and free space; use larger instances or gp3 volumes with more throughput.",
            "Restart the Docker daemon or replace the instance if it persists.",
        ],
    },
    Cause {
        id: CauseId::InternalError,
        title: "ECS had an internal error",
        meaning: "ECS reported an internal error while starting or running the task. It is \
                  usually transient and on AWS's side.",
        general_fixes: &[
            "Run the task again; a service retries by itself.",
            "If it repeats, open an AWS Support case with the task ARN and time.",
        ],
    },
    Cause {
        id: CauseId::Other,
        title: "Unrecognised stop reason",
        meaning: "ecs-why does not recognise this stop reason. The raw reason is shown as \
                  evidence; nothing here is guessed.",
        general_fixes: &[
            "Read the stopped reason and each container's reason in the evidence.",
            "Check the container's logs and the service's events around the stop time.",
            "Search AWS's \"Amazon ECS stopped task error codes\" page for the reason text.",
        ],
    },
];
