//! `cargo run --release -p longpoll-bench -- [--quick]`
//!
//! The longpoll performance harness (issue 7): starts each server under test in its own
//! process pinned to core 0 (`taskset`), drives it from a load generator pinned to core 1,
//! reads the server's own CPU time and memory from `/proc`, and prints each figure on its own
//! line as `figure <name> <value> <unit>`. See `BENCHMARKS.md`.

mod harness;
mod loadgen;
mod procfs;
mod report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(about = "longpoll performance harness: every scenario against every server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The short run (under 5 minutes on 2 cores): fewer repetitions, shorter windows,
    /// 10,000 idle sessions.
    #[arg(long)]
    quick: bool,
    /// Only these servers (comma-separated: axum, axum_router, axum_task, axum_no_ack, hyper,
    /// actix, plain_hyper, engineioxide, engineio_node).
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// Only these scenarios (comma-separated: echo, fanout, latency, idle).
    #[arg(long, value_delimiter = ',', value_enum)]
    scenarios: Vec<longpoll_bench::Scenario>,
    /// Where to write results.json, table.md and chart.svg (default: longpoll-bench/results
    /// for a full run, a temporary folder for --quick).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// The load generator (the harness runs it; one process per run).
    Loadgen(loadgen::LoadArgs),
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cli = Cli::parse();
    if let Some(Sub::Loadgen(args)) = cli.command {
        return loadgen::run(args);
    }
    let started = Instant::now();
    let mut plan = if cli.quick {
        harness::Plan::quick()
    } else {
        harness::Plan::full()
    };
    if !cli.servers.is_empty() {
        plan.targets = harness::Target::ALL
            .into_iter()
            .filter(|t| cli.servers.iter().any(|s| s == t.name()))
            .collect();
    }
    if !cli.scenarios.is_empty() {
        plan.scenarios = cli.scenarios.clone();
    }
    let out = cli.out.clone().unwrap_or_else(|| {
        if cli.quick {
            std::env::temp_dir().join("longpoll-bench-quick")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")
        }
    });
    let tools = harness::Tools::find()?;
    let runs = harness::run_plan(&plan, &tools);
    let core = match harness::core_probe(&tools, cli.quick) {
        Ok(lines) => lines,
        Err(error) => {
            eprintln!("# core probe failed: {error}");
            Vec::new()
        }
    };
    let table = report::tabulate(&runs);
    let headline = report::figures(&table, &core);
    for line in &headline.lines {
        println!("{line}");
    }
    for check in &headline.checks {
        println!("{check}");
    }
    let warnings = report::disturbances(&table);
    for warning in &warnings {
        println!("{warning}");
    }
    std::fs::create_dir_all(&out)?;
    let kind = if cli.quick { "quick" } else { "full" };
    let title = format!("longpoll-bench ({kind} run): medians, lines show min–max");
    std::fs::write(out.join("chart.svg"), report::svg_chart(&table, &title))?;
    std::fs::write(out.join("table.md"), report::markdown(&table))?;
    let mut figures = headline.lines.join("\n");
    figures.push('\n');
    figures.push_str(&headline.checks.join("\n"));
    figures.push('\n');
    for warning in &warnings {
        figures.push_str(warning);
        figures.push('\n');
    }
    std::fs::write(out.join("figures.txt"), figures)?;
    let raw: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "scenario": r.scenario.to_string(),
                "server": r.target.name(),
                "sessions": r.sessions,
                "result": r.result,
            })
        })
        .collect();
    std::fs::write(out.join("runs.json"), serde_json::to_string_pretty(&raw)?)?;
    println!(
        "# {} runs in {:.0} s; chart, table and raw runs in {}",
        runs.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
