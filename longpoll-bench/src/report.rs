//! Turns runs into figures (medians over repetitions, with their spread), target checks, a
//! Markdown table and an SVG chart.

use crate::harness::{Run, Target};
use longpoll_bench::Scenario;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One metric of one server in one scenario, over its repetitions.
#[derive(Debug, Clone)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) count: usize,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[n - 1],
            count: n,
        })
    }
}

/// Metrics by (metric name, server).
pub(crate) type Table = BTreeMap<(&'static str, Target), Spread>;

/// Every metric the runs allow, as medians with spread.
pub(crate) fn tabulate(runs: &[Run]) -> Table {
    type Metric = (&'static str, Scenario, fn(&Run) -> f64);
    let metrics: [Metric; 13] = [
        ("echo_msgs_per_sec", Scenario::Echo, |r| {
            r.result.messages as f64 / r.result.window_secs
        }),
        ("echo_exchanges_per_sec", Scenario::Echo, |r| {
            r.result.exchanges as f64 / r.result.window_secs
        }),
        ("echo_cpu_us_per_msg", Scenario::Echo, cpu_per_message),
        ("echo_cpu_us_per_exchange", Scenario::Echo, cpu_per_exchange),
        ("fanout_msgs_per_sec", Scenario::Fanout, |r| {
            r.result.messages as f64 / r.result.window_secs
        }),
        ("fanout_bytes_per_sec", Scenario::Fanout, |r| {
            r.result.bytes as f64 / r.result.window_secs
        }),
        ("fanout_cpu_us_per_msg", Scenario::Fanout, cpu_per_message),
        (
            "fanout_cpu_us_per_exchange",
            Scenario::Fanout,
            cpu_per_exchange,
        ),
        ("latency_p50_us", Scenario::Latency, |r| {
            r.result.latency_p50_us
        }),
        ("latency_p99_us", Scenario::Latency, |r| {
            r.result.latency_p99_us
        }),
        ("latency_p999_us", Scenario::Latency, |r| {
            r.result.latency_p999_us
        }),
        ("latency_cpu_us_per_msg", Scenario::Latency, cpu_per_message),
        ("idle_bytes_per_session", Scenario::Idle, |r| {
            (r.result.rss_after as f64 - r.result.rss_before as f64) / r.sessions as f64
        }),
    ];
    let mut table = Table::new();
    for (name, scenario, value) in metrics {
        for target in Target::ALL {
            let values: Vec<f64> = runs
                .iter()
                .filter(|r| r.scenario == scenario && r.target == target)
                .map(value)
                .collect();
            if let Some(spread) = Spread::of(values) {
                table.insert((name, target), spread);
            }
        }
    }
    table
}

fn cpu_per_message(run: &Run) -> f64 {
    run.result.server_cpu_secs * 1e6 / run.result.messages as f64
}

fn cpu_per_exchange(run: &Run) -> f64 {
    run.result.server_cpu_secs * 1e6 / run.result.exchanges as f64
}

fn unit(metric: &str) -> &'static str {
    if metric.ends_with("per_sec") {
        if metric.contains("bytes") {
            "B/s"
        } else if metric.contains("exchanges") {
            "exchanges/s"
        } else {
            "msg/s"
        }
    } else if metric.contains("_us") {
        "us"
    } else {
        "B"
    }
}

/// The headline figures: ours means the axum server.
pub(crate) struct Headline {
    pub(crate) lines: Vec<String>,
    pub(crate) checks: Vec<String>,
}

/// All `figure` lines (per-server figures, then the ratios the issue names) and the target
/// checks.
pub(crate) fn figures(table: &Table, core_lines: &[String]) -> Headline {
    let mut lines = Vec::new();
    for ((metric, target), spread) in table {
        lines.push(format!(
            "figure {metric}_{} {} {}",
            target.name(),
            round(spread.median),
            unit(metric)
        ));
    }
    let get = |metric: &'static str, target: Target| table.get(&(metric, target)).map(|s| s.median);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    };
    let ours = Target::Axum;
    let floor = get("echo_cpu_us_per_exchange", Target::PlainHyper).map(|x| 2.0 * x);
    let idle_ours = get("idle_bytes_per_session", ours);
    let idle_plain = get("idle_bytes_per_session", Target::PlainHyper);
    let named: [(&str, Option<f64>, &str); 13] = [
        (
            "echo_cpu_ratio_vs_engineioxide",
            ratio(
                get("echo_cpu_us_per_msg", ours),
                get("echo_cpu_us_per_msg", Target::Engineioxide),
            ),
            "x",
        ),
        // The same server with clients that do not use PROTOCOL.md 5.3: two exchanges per
        // echo, as engineioxide's (not a target; it says what 5.3 is worth).
        (
            "echo_cpu_ratio_vs_engineioxide_without_send_ack",
            ratio(
                get("echo_cpu_us_per_msg", Target::AxumNoAck),
                get("echo_cpu_us_per_msg", Target::Engineioxide),
            ),
            "x",
        ),
        (
            "echo_cpu_ratio_vs_floor_without_send_ack",
            ratio(get("echo_cpu_us_per_msg", Target::AxumNoAck), floor),
            "x",
        ),
        (
            "echo_cpu_ratio_vs_floor",
            ratio(get("echo_cpu_us_per_msg", ours), floor),
            "x",
        ),
        (
            "echo_throughput_ratio_vs_engineioxide",
            ratio(
                get("echo_msgs_per_sec", ours),
                get("echo_msgs_per_sec", Target::Engineioxide),
            ),
            "x",
        ),
        (
            "echo_throughput_ratio_vs_engineio_node",
            ratio(
                get("echo_msgs_per_sec", ours),
                get("echo_msgs_per_sec", Target::EngineioNode),
            ),
            "x",
        ),
        (
            "fanout_ratio_vs_engineioxide",
            ratio(
                get("fanout_msgs_per_sec", ours),
                get("fanout_msgs_per_sec", Target::Engineioxide),
            ),
            "x",
        ),
        ("latency_p99_us", get("latency_p99_us", ours), "us"),
        (
            "latency_p99_ratio_vs_engineioxide",
            ratio(
                get("latency_p99_us", ours),
                get("latency_p99_us", Target::Engineioxide),
            ),
            "x",
        ),
        ("idle_bytes_per_session", idle_ours, "B"),
        (
            "idle_overhead_bytes_per_session",
            idle_ours.zip(idle_plain).map(|(a, b)| a - b),
            "B",
        ),
        (
            "idle_ratio_vs_engineioxide",
            ratio(
                idle_ours,
                get("idle_bytes_per_session", Target::Engineioxide),
            ),
            "x",
        ),
        ("echo_cpu_floor_us_per_msg", floor, "us"),
    ];
    let mut checks = Vec::new();
    let bounds: [(&str, &str, f64); 8] = [
        ("echo_cpu_ratio_vs_engineioxide", "<=", 0.9),
        ("echo_cpu_ratio_vs_floor", "<=", 1.1),
        ("echo_throughput_ratio_vs_engineioxide", ">=", 1.0),
        ("echo_throughput_ratio_vs_engineio_node", ">=", 2.5),
        ("fanout_ratio_vs_engineioxide", ">=", 1.5),
        ("idle_ratio_vs_engineioxide", "<=", 0.75),
        ("idle_overhead_bytes_per_session", "<=", 2048.0),
        ("latency_p99_ratio_vs_engineioxide", "<=", 1.0),
    ];
    for (name, value, unit) in named {
        match value {
            Some(value) => lines.push(format!("figure {name} {} {unit}", round(value))),
            None => lines.push(format!("figure {name} n/a {unit}")),
        }
        if let Some((_, op, bound)) = bounds.iter().find(|(n, _, _)| *n == name) {
            let verdict = match value {
                Some(v) if (*op == "<=" && v <= *bound) || (*op == ">=" && v >= *bound) => "met",
                Some(_) => "MISSED",
                None => "not measured",
            };
            checks.push(format!(
                "target {name} {op} {bound}: {} ({verdict})",
                value.map_or("n/a".to_owned(), |v| round(v).to_string())
            ));
        }
    }
    lines.extend(core_lines.iter().cloned());
    Headline { lines, checks }
}

/// How far one server's echo CPU per message may range between repetitions (max over min)
/// before the run is called disturbed: a server's own cost barely moves (in the quiet full run
/// of 2026-12-06 16:31, axum and engineioxide stayed within 3%), so a wider range means
/// something else took the machine.
const STEADY_ECHO_CPU_RANGE: f64 = 1.10;

/// A `warning` line for each server whose echo CPU per message ranged wider than
/// [`STEADY_ECHO_CPU_RANGE`] between repetitions: its medians, and the ratios built on them,
/// are then not to be trusted.
pub(crate) fn disturbances(table: &Table) -> Vec<String> {
    table
        .iter()
        .filter(|((metric, _), spread)| {
            *metric == "echo_cpu_us_per_msg"
                && spread.count > 1
                && spread.max > spread.min * STEADY_ECHO_CPU_RANGE
        })
        .map(|((metric, target), spread)| {
            format!(
                "warning {metric}_{} ranged {}–{} us over {} repetitions ({:.0}% above its \
                 lowest): the machine was likely disturbed; ratios built on it are unreliable",
                target.name(),
                round(spread.min),
                round(spread.max),
                spread.count,
                (spread.max / spread.min - 1.0) * 100.0
            )
        })
        .collect()
}

/// Three significant digits, or whole numbers when larger.
fn round(value: f64) -> f64 {
    if value.abs() >= 100.0 {
        value.round()
    } else if value.abs() >= 1.0 {
        (value * 100.0).round() / 100.0
    } else {
        (value * 1000.0).round() / 1000.0
    }
}

/// The Markdown table BENCHMARKS.md quotes: median (min–max, n) per server.
pub(crate) fn markdown(table: &Table) -> String {
    let mut metrics: Vec<&'static str> = table.keys().map(|(m, _)| *m).collect();
    metrics.dedup();
    let mut out = String::from("| metric |");
    for target in Target::ALL {
        let _ = write!(out, " {} |", target.name());
    }
    out.push_str("\n|---|");
    for _ in Target::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for metric in metrics {
        let _ = write!(out, "| {metric} ({}) |", unit(metric));
        for target in Target::ALL {
            match table.get(&(metric, target)) {
                Some(s) => {
                    let _ = write!(
                        out,
                        " {} ({}–{}, n={}) |",
                        round(s.median),
                        round(s.min),
                        round(s.max),
                        s.count
                    );
                }
                None => out.push_str(" — |"),
            }
        }
        out.push('\n');
    }
    out
}

/// A bar chart per metric (echo throughput, echo server CPU per message, fan-out throughput,
/// p99 delivery latency, idle bytes per session): one bar per server, with the min–max spread
/// drawn as a line.
pub(crate) fn svg_chart(table: &Table, title: &str) -> String {
    let panels: [(&str, &str); 5] = [
        ("echo_msgs_per_sec", "echo: messages/s (higher is better)"),
        (
            "echo_cpu_us_per_msg",
            "echo: server CPU µs per message (lower is better)",
        ),
        (
            "fanout_msgs_per_sec",
            "fan-out: messages/s (higher is better)",
        ),
        (
            "latency_p99_us",
            "delivery latency p99, µs (lower is better)",
        ),
        (
            "idle_bytes_per_session",
            "idle: server RSS bytes per parked session (lower is better)",
        ),
    ];
    let (width, bar_h, gap, label_w, left) = (760.0, 16.0, 4.0, 120.0, 10.0);
    let chart_w = width - label_w - left - 90.0;
    let mut y = 40.0;
    let mut body = String::new();
    for (metric, caption) in panels {
        let rows: Vec<(Target, &Spread)> = Target::ALL
            .iter()
            .filter_map(|t| table.get(&(metric, *t)).map(|s| (*t, s)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let max = rows
            .iter()
            .map(|(_, s)| s.max)
            .fold(0.0_f64, f64::max)
            .max(1e-9);
        let _ = writeln!(
            body,
            r#"<text x="{left}" y="{y}" font-size="13" font-weight="bold">{caption}</text>"#
        );
        y += 8.0;
        for (target, spread) in rows {
            let w = spread.median / max * chart_w;
            let (lo, hi) = (spread.min / max * chart_w, spread.max / max * chart_w);
            let colour = match target {
                Target::Axum
                | Target::AxumRouter
                | Target::AxumTask
                | Target::AxumNoAck
                | Target::Hyper
                | Target::Actix => "#2b7bb9",
                Target::PlainHyper => "#999999",
                Target::Engineioxide => "#d9822b",
                Target::EngineioNode => "#6aa84f",
            };
            let x0 = left + label_w;
            let mid = y + bar_h / 2.0;
            let _ = writeln!(
                body,
                r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text><rect x="{x0}" y="{y}" width="{w:.1}" height="{bar_h}" fill="{colour}"/><line x1="{:.1}" y1="{mid}" x2="{:.1}" y2="{mid}" stroke="black"/><text x="{:.1}" y="{}" font-size="11">{}</text>"#,
                x0 - 6.0,
                mid + 4.0,
                target.name(),
                x0 + lo,
                x0 + hi,
                x0 + w.max(hi) + 6.0,
                mid + 4.0,
                round(spread.median)
            );
            y += bar_h + gap;
        }
        y += 22.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="22" font-size="15" font-weight="bold">{title}</text>
{body}</svg>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_whose_echo_cpu_ranged_widely_is_named() {
        let mut table = Table::new();
        let steady = Spread::of(vec![15.0, 15.3, 15.5]).unwrap();
        let disturbed = Spread::of(vec![15.2, 15.6, 18.2]).unwrap();
        table.insert(("echo_cpu_us_per_msg", Target::Axum), steady);
        table.insert(
            ("echo_cpu_us_per_msg", Target::Engineioxide),
            disturbed.clone(),
        );
        // Only echo CPU is judged: latency and throughput vary on their own.
        table.insert(("latency_p99_us", Target::Axum), disturbed);
        let warnings = disturbances(&table);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("warning echo_cpu_us_per_msg_engineioxide ranged 15.2–18.2 us"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn spread_takes_the_median_of_finite_values() {
        let s = Spread::of(vec![3.0, 1.0, f64::NAN, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.count), (2.0, 1.0, 3.0, 3));
        let s = Spread::of(vec![4.0, 1.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Spread::of(vec![f64::INFINITY]).is_none());
    }
}
