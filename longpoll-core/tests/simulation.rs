//! Runs the deterministic simulation (see `sim/mod.rs`) over many seeded fault schedules.
//!
//! `cargo test -p longpoll-core --test simulation -- --nocapture` runs 10,000 seeds and prints
//! the count. More: `SIM_SEEDS=1000000 cargo test --release -p longpoll-core --test simulation
//! -- --nocapture`. One schedule: `SIM_SEED=1234 cargo test -p longpoll-core --test simulation`.

mod sim;

use sim::{Ending, Sim};
use std::collections::BTreeMap;
use std::sync::Mutex;

const DEFAULT_SEEDS: u64 = 10_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[derive(Default)]
struct Totals {
    runs: u64,
    by_ending: BTreeMap<String, u64>,
    messages: u64,
    requests: u64,
    dropped: u64,
    duplicated: u64,
    broken: u64,
    died_of_faults: u64,
    statuses: BTreeMap<u16, u64>,
    send_answers_with_frames: u64,
    failures: Vec<(u64, String)>,
}

#[test]
fn seeded_fault_schedules_keep_every_invariant() {
    let (first, count) = match env_u64("SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (0, env_u64("SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let totals = Mutex::new(Totals::default());
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let totals = &totals;
            scope.spawn(move || {
                let mut local = Totals::default();
                let mut seed = first + worker;
                while seed < first + count {
                    let mut sim = Sim::new(seed);
                    let result = sim.run();
                    local.runs += 1;
                    *local
                        .by_ending
                        .entry(format!("{:?}", sim.ending()))
                        .or_default() += 1;
                    local.messages += sim.stats.server_to_client + sim.stats.client_to_server;
                    local.requests += sim.stats.requests;
                    local.dropped += sim.stats.dropped;
                    local.duplicated += sim.stats.duplicated;
                    local.broken += sim.stats.broken;
                    local.died_of_faults += u64::from(sim.stats.died_of_faults);
                    local.send_answers_with_frames += sim.stats.send_answers_with_frames;
                    for (status, n) in &sim.stats.statuses {
                        *local.statuses.entry(*status).or_default() += n;
                    }
                    if let Err(error) = result {
                        local.failures.push((seed, error));
                    }
                    seed += threads;
                }
                let mut totals = totals.lock().unwrap();
                totals.runs += local.runs;
                for (k, v) in local.by_ending {
                    *totals.by_ending.entry(k).or_default() += v;
                }
                totals.messages += local.messages;
                totals.requests += local.requests;
                totals.dropped += local.dropped;
                totals.duplicated += local.duplicated;
                totals.broken += local.broken;
                totals.died_of_faults += local.died_of_faults;
                totals.send_answers_with_frames += local.send_answers_with_frames;
                for (k, v) in local.statuses {
                    *totals.statuses.entry(k).or_default() += v;
                }
                totals.failures.extend(local.failures);
            });
        }
    });
    let mut totals = totals.into_inner().unwrap();
    totals.failures.sort();
    println!(
        "simulation: {} seeded fault schedules, {} invariant violations",
        totals.runs,
        totals.failures.len()
    );
    println!(
        "simulation: {} messages delivered over {} requests ({} dropped, {} duplicated, {} connections broken)",
        totals.messages, totals.requests, totals.dropped, totals.duplicated, totals.broken
    );
    println!(
        "simulation: endings {:?}; {} sessions killed by a harsh network (each explained)",
        totals.by_ending, totals.died_of_faults
    );
    println!(
        "simulation: answers by status {:?}; {} sends answered with frames",
        totals.statuses, totals.send_answers_with_frames
    );
    for (seed, error) in totals.failures.iter().take(10) {
        println!("  seed {seed}: {error}  (replay: SIM_SEED={seed})");
    }
    assert!(
        totals.failures.is_empty(),
        "{} schedules broke an invariant",
        totals.failures.len()
    );
    assert_eq!(totals.runs, count);
    // The fault model must actually exercise the paths the invariants are about.
    if count >= 1000 {
        for status in [200, 204, 409, 410, 503] {
            assert!(
                totals.statuses.contains_key(&status),
                "no {status} answer in any schedule"
            );
        }
        assert!(totals.dropped > 0 && totals.duplicated > 0 && totals.broken > 0);
        assert!(
            totals.send_answers_with_frames > 0,
            "no send answered with frames"
        );
        assert_eq!(totals.by_ending.len(), 3);
        // Most schedules must run to their planned end, not die of faults.
        assert!(
            totals.died_of_faults * 10 < totals.runs,
            "too many sessions died"
        );
        let _ = Ending::ClientCloses;
    }
}
