//! The `ecs-why` command line: `why` (live), `explain` (offline), `serve` (the Slack
//! bot), `causes` (the catalog) and `healthcheck` (the container's probe of `/healthz`).
//! Exit status: 0 answered, 2 bad input, 1 otherwise (`healthcheck`: 0 healthy, 1 not).

use clap::{Parser, Subcommand};
use ecs_why::diagnose::catalog;
use ecs_why::healthcheck;
use ecs_why::input::read_documents;
use ecs_why::investigate::{Access, ErrorKind, Investigate, Investigator, Subject};
use ecs_why::output::{write_all, write_one, Format};
use ecs_why::task_ref::Target;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ecs-why",
    version,
    about = "Explains why an Amazon ECS task stopped"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Diagnose a stopped task live, through the standard AWS credential chain.
    Why {
        /// Task ARN, task id, ECS console URL, or service name (its newest stopped task).
        task: String,
        /// Cluster name or ARN (for task ids and service names).
        #[arg(long, env = "ECS_WHY_DEFAULT_CLUSTER")]
        cluster: Option<String>,
        /// AWS region (defaults to the region in the ARN or URL, then AWS_REGION).
        #[arg(long)]
        region: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Skip the read-only probes that check the cause against the account (the
        /// answer then says Likely, never Confirmed).
        #[arg(long)]
        no_probes: bool,
    },
    /// Diagnose offline from a file: describe-tasks output, a task, an EventBridge
    /// "ECS Task State Change" event, or a recorded evidence bundle (`-` for stdin).
    Explain {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        file: PathBuf,
    },
    /// Run the Slack bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set).
    Serve,
    /// List the catalog of causes, one a line.
    Causes,
    /// Probe a running bot's /healthz (the container health check): exit 0 on 200, 1
    /// otherwise, with one line on stderr saying what failed.
    Healthcheck {
        /// URL to GET [default: /healthz on the port of ECS_WHY_LISTEN, on loopback]
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer, connecting included.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
}

/// An error with the exit status it should produce.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            status: 2,
            message: message.into(),
        }
    }
    fn other(message: impl Into<String>) -> Failure {
        Failure {
            status: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Why {
            task,
            cluster,
            region,
            format,
            no_probes,
        } => run_async(why(task, cluster, region, format, !no_probes)),
        Command::Explain { format, file } => explain(&file, format),
        Command::Serve => run_async(serve()),
        Command::Causes => causes(),
        Command::Healthcheck { url, timeout } => healthcheck(url, timeout),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let first_line = failure.message.lines().next().unwrap_or_default();
            eprintln!("ecs-why: {first_line}");
            ExitCode::from(failure.status)
        }
    }
}

fn run_async(
    future: impl std::future::Future<Output = Result<(), Failure>>,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(future)
}

/// Colour only when stdout is a terminal and NO_COLOR is unset or empty.
fn colour_wanted() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn why(
    task: String,
    cluster: Option<String>,
    region: Option<String>,
    format: Format,
    probes: bool,
) -> Result<(), Failure> {
    let target = Target::parse(&task, cluster.as_deref(), region.as_deref())
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let archive = std::env::var("ECS_WHY_ARCHIVE_LOG_GROUP")
        .ok()
        .filter(|group| !group.trim().is_empty());
    let mut investigator = Investigator::new(target.region.as_deref(), archive, false).await;
    if !probes {
        investigator = investigator.without_probes();
    }
    if investigator.region().is_none() {
        return Err(Failure::bad_input(
            "no AWS region: pass --region, paste the task ARN or console URL, or set AWS_REGION",
        ));
    }
    let subject = Subject::Named(target);
    let access = Access::own();
    let answered = if probes {
        investigator.investigate_confirmed(&subject, &access).await
    } else {
        investigator.investigate(&subject, &access).await
    };
    let investigation = answered.map_err(|e| match e.kind {
        ErrorKind::BadInput | ErrorKind::TaskMissing => Failure::bad_input(e.message),
        _ => Failure::other(e.message),
    })?;
    let mut out = io::stdout().lock();
    write_one(&mut out, &investigation.diagnosis, format, colour_wanted())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("cannot write the answer: {e}")))
}

fn explain(file: &PathBuf, format: Format) -> Result<(), Failure> {
    let (name, text) = if file.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::bad_input(format!("cannot read standard input: {e}")))?;
        ("standard input".to_string(), text)
    } else {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", file.display())))?;
        (file.display().to_string(), text)
    };
    let evidence = read_documents(&name, &text).map_err(|e| Failure::bad_input(e.to_string()))?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    write_all(&mut out, &evidence, format, colour_wanted())
        .and_then(|()| out.flush())
        .or_else(ignore_broken_pipe)
}

/// `ecs-why explain big.json | head` is normal use: a closed pipe is not an error.
fn ignore_broken_pipe(error: io::Error) -> Result<(), Failure> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Failure::other(format!("cannot write the answer: {error}")))
    }
}

fn causes() -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    for cause in catalog::CATALOG {
        writeln!(out, "{:<34} {}", cause.id.as_str(), cause.title).or_else(ignore_broken_pipe)?;
    }
    Ok(())
}

/// Every failure is exit 1, bad flags included: Docker reserves a health check's exit
/// status 2, so the CLI's "2 = bad input" would be misread there.
fn healthcheck(url: Option<String>, timeout_seconds: f64) -> Result<(), Failure> {
    let timeout = Duration::try_from_secs_f64(timeout_seconds)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            Failure::other(format!(
                "--timeout {timeout_seconds} is not a positive number of seconds; try --timeout 3"
            ))
        })?;
    let url = match url {
        Some(url) => url,
        None => {
            let listen = std::env::var("ECS_WHY_LISTEN").ok();
            healthcheck::url_for_listen(listen.as_deref())
                .map_err(|e| Failure::other(e.to_string()))?
        }
    };
    healthcheck::probe(&url, timeout).map_err(|e| Failure::other(format!("healthcheck: {e}")))
}

/// The Slack bot. Configuration errors are bad input (exit 2, one line naming the
/// variable); SIGTERM drains work in flight and exits 0.
async fn serve() -> Result<(), Failure> {
    ecs_why::telemetry::init(ecs_why::telemetry::json_by_default());
    let settings =
        ecs_why::config::Settings::from_env().map_err(|e| Failure::bad_input(e.to_string()))?;
    ecs_why::serve::serve(settings).await.map_err(|e| {
        if e.downcast_ref::<ecs_why::slack::server::ListenError>()
            .is_some()
        {
            Failure::bad_input(e.to_string())
        } else {
            Failure::other(format!("{e:#}"))
        }
    })
}
