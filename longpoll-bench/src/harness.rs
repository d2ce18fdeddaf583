//! Runs every scenario against every server that can do it: a server process pinned to one
//! core, the load generator pinned to the other, A/B interleaved over several repetitions.

use crate::loadgen::{Protocol, RunResult};
use longpoll_bench::Scenario;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Target {
    /// Ours on axum: `LongPollLayer` in front of the app's router (the headline server).
    Axum,
    /// Ours on axum through `router_at`, merged into the app's router.
    AxumRouter,
    /// Ours on axum as `Axum`, with a task per session reading a `Session` instead of a
    /// callback (echo, latency and idle; fan-out pushes from a `Session` in both).
    AxumTask,
    /// The `Axum` server with clients whose sends carry no `ack` (`PROTOCOL.md` section 5.3
    /// unused): each echo comes on the poll, two exchanges per message (echo only).
    AxumNoAck,
    Hyper,
    Actix,
    PlainHyper,
    Engineioxide,
    EngineioNode,
}

impl Target {
    pub(crate) const ALL: [Target; 9] = [
        Target::Axum,
        Target::AxumRouter,
        Target::AxumTask,
        Target::AxumNoAck,
        Target::Hyper,
        Target::Actix,
        Target::PlainHyper,
        Target::Engineioxide,
        Target::EngineioNode,
    ];

    /// The name used in figures.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Axum => "axum",
            Target::AxumRouter => "axum_router",
            Target::AxumTask => "axum_task",
            Target::AxumNoAck => "axum_no_ack",
            Target::Hyper => "hyper",
            Target::Actix => "actix",
            Target::PlainHyper => "plain_hyper",
            Target::Engineioxide => "engineioxide",
            Target::EngineioNode => "engineio_node",
        }
    }

    fn protocol(self) -> Protocol {
        match self {
            Target::Axum
            | Target::AxumRouter
            | Target::AxumTask
            | Target::AxumNoAck
            | Target::Hyper
            | Target::Actix => Protocol::V1,
            Target::PlainHyper => Protocol::Plain,
            Target::Engineioxide | Target::EngineioNode => Protocol::Engineio,
        }
    }

    /// The plain server has no sessions to push to (echo counts its exchanges, idle its
    /// connections); `axum_task` differs from `axum` only in how the application is written,
    /// and fan-out is written the same way on both; `axum_no_ack` differs only in how its
    /// clients send, and only echo replies to sends.
    pub(crate) fn runs(self, scenario: Scenario) -> bool {
        match self {
            Target::PlainHyper => matches!(scenario, Scenario::Echo | Scenario::Idle),
            Target::AxumTask => scenario != Scenario::Fanout,
            Target::AxumNoAck => scenario == Scenario::Echo,
            _ => true,
        }
    }
}

/// How long and how often.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) repetitions: usize,
    pub(crate) warmup_ms: u64,
    pub(crate) window_ms: u64,
    pub(crate) latency_window_ms: u64,
    pub(crate) latency_repetitions: usize,
    pub(crate) echo_sessions: usize,
    pub(crate) fanout_sessions: usize,
    pub(crate) latency_sessions: usize,
    pub(crate) idle_sessions: usize,
    pub(crate) idle_repetitions: usize,
    pub(crate) targets: Vec<Target>,
    pub(crate) scenarios: Vec<Scenario>,
}

impl Plan {
    pub(crate) fn quick() -> Plan {
        Plan {
            repetitions: 3,
            warmup_ms: 1000,
            window_ms: 2000,
            latency_window_ms: 4000,
            latency_repetitions: 2,
            echo_sessions: 100,
            fanout_sessions: 1000,
            latency_sessions: 1000,
            idle_sessions: 10_000,
            idle_repetitions: 1,
            targets: Target::ALL.to_vec(),
            scenarios: vec![
                Scenario::Echo,
                Scenario::Fanout,
                Scenario::Latency,
                Scenario::Idle,
            ],
        }
    }

    pub(crate) fn full() -> Plan {
        Plan {
            repetitions: 5,
            warmup_ms: 2000,
            window_ms: 10_000,
            latency_window_ms: 20_000,
            latency_repetitions: 5,
            // The largest count every server holds under this machine's limit of 20,000 open
            // files per process (one socket per parked poll, on each side).
            idle_sessions: 18_000,
            idle_repetitions: 3,
            ..Plan::quick()
        }
    }

    fn sessions(&self, scenario: Scenario) -> usize {
        match scenario {
            Scenario::Echo => self.echo_sessions,
            Scenario::Fanout => self.fanout_sessions,
            Scenario::Latency => self.latency_sessions,
            Scenario::Idle => self.idle_sessions,
        }
    }

    fn repetitions(&self, scenario: Scenario) -> usize {
        match scenario {
            Scenario::Latency => self.latency_repetitions,
            Scenario::Idle => self.idle_repetitions,
            Scenario::Echo | Scenario::Fanout => self.repetitions,
        }
    }

    fn window_ms(&self, scenario: Scenario) -> u64 {
        match scenario {
            Scenario::Latency => self.latency_window_ms,
            // Long enough for every poll to be seen parked, then memory is read.
            Scenario::Idle => 2000,
            Scenario::Echo | Scenario::Fanout => self.window_ms,
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) scenario: Scenario,
    pub(crate) target: Target,
    pub(crate) sessions: usize,
    pub(crate) result: RunResult,
}

/// Runs the plan; failed runs are reported on stderr and left out.
pub(crate) fn run_plan(plan: &Plan, tools: &Tools) -> Vec<Run> {
    let mut runs = Vec::new();
    for &scenario in &plan.scenarios {
        let targets: Vec<Target> = plan
            .targets
            .iter()
            .copied()
            .filter(|t| t.runs(scenario))
            .filter(|t| *t != Target::EngineioNode || tools.node_server.is_some())
            .collect();
        // A/B interleaved: each repetition runs every server once.
        for repetition in 0..plan.repetitions(scenario) {
            for target in round_order(&targets, repetition) {
                eprintln!(
                    "# {scenario} {} (repetition {}/{})",
                    target.name(),
                    repetition + 1,
                    plan.repetitions(scenario)
                );
                match run_one(plan, tools, scenario, target) {
                    Ok(result) => {
                        eprintln!(
                            "#   {}",
                            summary(scenario, plan.sessions(scenario), &result)
                        );
                        runs.push(Run {
                            scenario,
                            target,
                            sessions: plan.sessions(scenario),
                            result,
                        });
                    }
                    Err(error) => eprintln!("#   FAILED: {error}"),
                }
            }
        }
    }
    runs
}

/// The servers in the order repetition `repetition` runs them: each starts one place later
/// than the one before, so no server is always the first run of a scenario (the first run
/// after a change of scenario meets whatever the previous one left behind: a machine
/// reclaiming the fan-out phase's memory, sockets in `TIME_WAIT`).
fn round_order(targets: &[Target], repetition: usize) -> impl Iterator<Item = Target> + '_ {
    let start = repetition % targets.len().max(1);
    targets[start..].iter().chain(&targets[..start]).copied()
}

fn summary(scenario: Scenario, sessions: usize, r: &RunResult) -> String {
    let per_message = r.server_cpu_secs * 1e6 / r.messages.max(1) as f64;
    match scenario {
        Scenario::Idle => format!(
            "{} parked, RSS {} -> {} ({:.0} B/session), {} fds, {} unparked, {} errors",
            r.sessions_ready,
            r.rss_before,
            r.rss_after,
            (r.rss_after as f64 - r.rss_before as f64) / sessions as f64,
            r.server_fds,
            r.unparked,
            r.errors
        ),
        _ => format!(
            "{:.0} msg/s, {:.0} exchanges/s, server CPU {:.1} us/msg, p99 {:.0} us, {} errors",
            r.messages as f64 / r.window_secs,
            r.exchanges as f64 / r.window_secs,
            per_message,
            r.latency_p99_us,
            r.errors
        ),
    }
}

/// Programs the harness starts.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    /// `bench-server`, next to this executable.
    pub(crate) bench_server: PathBuf,
    /// This executable (its `loadgen` subcommand).
    pub(crate) this: PathBuf,
    /// `node` and the engine.io server script, when Node and the package are installed.
    pub(crate) node_server: Option<(PathBuf, PathBuf)>,
    /// Whether `taskset` pins the processes.
    pub(crate) taskset: bool,
}

impl Tools {
    pub(crate) fn find() -> Result<Tools, BoxError> {
        let this = std::env::current_exe()?;
        let bench_server = this.with_file_name("bench-server");
        let probe = this.with_file_name("core-probe");
        // Always: cargo does nothing when they are current, and a stale server binary would
        // measure old code under a new harness.
        build_helpers()?;
        if !bench_server.exists() || !probe.exists() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release -p longpoll-bench --bins`",
                bench_server.display()
            )
            .into());
        }
        let taskset = Command::new("taskset")
            .args(["-c", "0", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if !taskset {
            eprintln!("# taskset (util-linux) not found: server and load generator are not pinned");
        }
        Ok(Tools {
            bench_server,
            this,
            node_server: node_server(),
            taskset,
        })
    }

    fn command(&self, core: usize, program: &Path) -> Command {
        if self.taskset {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// Node and `node/server.js`, installing the locked packages with `npm ci` when needed.
fn node_server() -> Option<(PathBuf, PathBuf)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    let node = which("node")?;
    if !folder.join("node_modules/engine.io").exists() {
        eprintln!("# installing engine.io (npm ci in {})", folder.display());
        let installed = Command::new("npm")
            .arg("ci")
            .current_dir(&folder)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!("# npm ci failed: Node's engine.io is left out");
            return None;
        }
    }
    Some((node, folder.join("server.js")))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

/// A child process that is killed and reaped however the harness leaves its scope.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards a child's output lines to a channel, so the harness can wait with a time limit.
fn lines_of(output: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    prefix: &str,
    limit: Duration,
) -> Result<String, BoxError> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Ok(rest.trim().to_owned());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("no `{prefix}` line within {limit:?}").into());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!("process ended without a `{prefix}` line").into());
            }
        }
    }
}

fn run_one(
    plan: &Plan,
    tools: &Tools,
    scenario: Scenario,
    target: Target,
) -> Result<RunResult, BoxError> {
    let mut server = match (target, &tools.node_server) {
        (Target::EngineioNode, Some((node, script))) => {
            let mut command = tools.command(0, node);
            command.arg(script);
            command
        }
        _ => {
            let mut command = tools.command(0, &tools.bench_server);
            let name = match target {
                Target::PlainHyper => "plain-hyper",
                Target::AxumRouter => "axum-router",
                Target::AxumTask | Target::AxumNoAck => "axum",
                other => other.name(),
            };
            command.args(["--impl", name]);
            if target == Target::AxumTask {
                command.args(["--session-api", "task"]);
            }
            command
        }
    };
    server
        .args(["--scenario", &scenario.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut server = Reaped(server.spawn()?);
    let server_pid = server.0.id();
    let server_lines = lines_of(server.0.stdout.take().ok_or("no server stdout")?);
    let address = wait_for_line(&server_lines, "listening ", Duration::from_secs(30))?;

    let sessions = plan.sessions(scenario);
    let window_ms = plan.window_ms(scenario);
    let mut loadgen = tools.command(1, &tools.this);
    loadgen
        .arg("loadgen")
        .args(["--address", &address])
        .args(["--protocol", protocol_name(target.protocol())])
        .args(["--scenario", &scenario.to_string()])
        .args(["--sessions", &sessions.to_string()])
        .args(["--warmup-ms", &plan.warmup_ms.to_string()])
        .args(["--window-ms", &window_ms.to_string()])
        .args(["--server-pid", &server_pid.to_string()])
        .args((target == Target::AxumNoAck).then_some("--no-send-ack"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut loadgen = Reaped(loadgen.spawn()?);
    let loadgen_lines = lines_of(loadgen.0.stdout.take().ok_or("no loadgen stdout")?);
    // Setup (bounded by the load generator's own 60 s), warm-up, window, and slack.
    let limit = Duration::from_millis(60_000 + plan.warmup_ms + window_ms + 30_000);
    let json = wait_for_line(&loadgen_lines, "result ", limit)?;
    let result: RunResult = serde_json::from_str(&json)?;
    drop(loadgen);
    drop(server);
    if result.sessions_ready < sessions as u64 {
        return Err(format!(
            "only {} of {sessions} sessions were ready",
            result.sessions_ready
        )
        .into());
    }
    Ok(result)
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V1 => "v1",
        Protocol::Engineio => "engineio",
        Protocol::Plain => "plain",
    }
}

/// Builds `bench-server` and `core-probe` next to this executable: `cargo run` builds only
/// the harness itself. Uses the cargo that ran us (`$CARGO`) and our own profile.
fn build_helpers() -> Result<(), BoxError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "-p", "longpoll-bench", "--bins"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    eprintln!("# building bench-server and core-probe");
    let status = command.status()?;
    if !status.success() {
        return Err(format!("building the bench binaries failed: {status}").into());
    }
    Ok(())
}

/// Runs `core-probe` (next to this executable) on the load generator's core and returns its
/// `figure` lines.
pub(crate) fn core_probe(tools: &Tools, quick: bool) -> Result<Vec<String>, BoxError> {
    let probe = tools.this.with_file_name("core-probe");
    let mut command = tools.command(1, &probe);
    if quick {
        command.arg("--quick");
    }
    let output = command.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("core-probe failed: {}", output.status).into());
    }
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .filter(|line| line.starts_with("figure "))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_runs_every_server_once_starting_one_later() {
        let targets = [Target::Axum, Target::Hyper, Target::Engineioxide];
        let round = |r| round_order(&targets, r).collect::<Vec<_>>();
        assert_eq!(round(0), targets);
        assert_eq!(
            round(1),
            [Target::Hyper, Target::Engineioxide, Target::Axum]
        );
        assert_eq!(
            round(2),
            [Target::Engineioxide, Target::Axum, Target::Hyper]
        );
        assert_eq!(round(3), targets);
        assert_eq!(round_order(&[], 1).count(), 0);
    }

    #[test]
    fn the_plain_server_runs_echo_and_idle_axum_task_all_but_fan_out_and_axum_no_ack_echo() {
        let scenarios = |target: Target| {
            [
                Scenario::Echo,
                Scenario::Fanout,
                Scenario::Latency,
                Scenario::Idle,
            ]
            .into_iter()
            .filter(|&scenario| target.runs(scenario))
            .collect::<Vec<_>>()
        };
        assert_eq!(
            scenarios(Target::PlainHyper),
            [Scenario::Echo, Scenario::Idle]
        );
        assert_eq!(
            scenarios(Target::AxumTask),
            [Scenario::Echo, Scenario::Latency, Scenario::Idle]
        );
        assert_eq!(scenarios(Target::AxumNoAck), [Scenario::Echo]);
        for target in Target::ALL {
            if !matches!(
                target,
                Target::PlainHyper | Target::AxumTask | Target::AxumNoAck
            ) {
                assert_eq!(scenarios(target).len(), 4, "{}", target.name());
            }
        }
    }
}
