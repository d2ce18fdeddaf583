//! `core-probe [--quick]`: the core state machine alone, per core. Prints
//! `figure core_allocs_per_message`, the allocations of each step of a round, and
//! `figure core_events_per_sec` (state machine inputs per second on one thread).
//!
//! A round is one echoed 64-byte message on a session with a parked poll (see
//! `longpoll_bench::core_echo`). The client's body is built once and shared, so what is
//! counted is what the core allocates on its own; the target is zero beyond the payload's
//! own buffer.

use longpoll_bench::core_echo::{EVENTS_PER_ROUND, EchoLoop, Step};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const STEPS: [Step; 4] = [Step::Send, Step::Take, Step::Reply, Step::Poll];

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // The probe is the driver: it reads the clock once and keeps it fixed.
    let mut echo = EchoLoop::new(Instant::now());
    for _ in 0..10_000 {
        echo.round();
    }

    let rounds: u64 = 100_000;
    let mut allocations = [0usize; 4];
    let counted = || {
        let stats = GLOBAL.stats();
        stats.allocations + stats.reallocations
    };
    let started = std::cell::Cell::new(0);
    for _ in 0..rounds {
        echo.round_with(
            |_| started.set(counted()),
            |step| {
                let index = STEPS.iter().position(|s| *s == step).expect("known step");
                allocations[index] += counted() - started.get();
            },
        );
    }
    let total: usize = allocations.iter().sum();
    println!(
        "figure core_allocs_per_message {} allocs",
        total as f64 / rounds as f64
    );
    for (step, count) in STEPS.iter().zip(allocations) {
        println!(
            "# core allocations per message in {step:?}: {}",
            count as f64 / rounds as f64
        );
    }

    let window = Duration::from_millis(if quick { 1000 } else { 5000 });
    let start = Instant::now();
    let mut done: u64 = 0;
    while start.elapsed() < window {
        for _ in 0..1000 {
            std::hint::black_box(echo.round());
        }
        done += 1000;
    }
    let per_sec = done as f64 / start.elapsed().as_secs_f64();
    println!("figure core_echo_rounds_per_sec {per_sec:.0} rounds/s");
    println!(
        "figure core_events_per_sec {:.0} events/s",
        per_sec * EVENTS_PER_ROUND as f64
    );
}
