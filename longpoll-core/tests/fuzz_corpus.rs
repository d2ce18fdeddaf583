//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the fuzz targets'
//! own checks, so `cargo test` keeps every seed passing without libFuzzer or nightly.
//!
//! The checks are `fuzz/src/checks`, included here as a module: pure functions of the input
//! bytes over `longpoll-core`, `bytes` and `arbitrary`. `scripts/fuzz` runs the same checks
//! under libFuzzer (see `fuzz/README.md`).
//!
//! The seeds are written in `fuzz/src/checks/seeds.rs` as the scenarios they decode to;
//! `FUZZ_WRITE_SEEDS=1 cargo test -p longpoll-core --test fuzz_corpus` rewrites the files.

// The fuzz crate exports these items; here they are private to the test.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/checks/mod.rs"]
mod checks;

use checks::seeds::{self, PairScenario, ServerScenario};
use checks::{Outcome, TARGETS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("readable corpus file");
            (path, bytes)
        })
        .collect()
}

#[test]
fn every_corpus_input_passes_its_target_checks() {
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for (target, check) in TARGETS {
        let inputs = corpus(target);
        assert!(!inputs.is_empty(), "no corpus for {target}");
        let mut seen = BTreeSet::new();
        for (path, bytes) in &inputs {
            match check(bytes) {
                Ok(outcome) => seen.extend(outcome.seen),
                Err(error) => failures.push(format!("{}: {error}", path.display())),
            }
        }
        summary.push(format!(
            "{target}: {} inputs, {} distinct behaviours",
            inputs.len(),
            seen.len()
        ));
    }
    println!("fuzz corpus: {}", summary.join("; "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_libfuzzer_entry_points_accept_the_seeds() {
    for seed in seeds::all() {
        match seed.target {
            "wire_decode" => checks::wire_decode(&seed.bytes),
            "server_session" => checks::server_session(&seed.bytes),
            _ => checks::session_pair(&seed.bytes),
        }
    }
}

#[test]
fn seeds_decode_to_their_scenarios_and_are_committed() {
    for (name, scenario) in seeds::server_scenarios() {
        assert_eq!(
            ServerScenario::parse(&scenario.bytes()),
            Some(scenario),
            "{name}"
        );
    }
    for (name, scenario) in seeds::pair_scenarios() {
        assert_eq!(
            PairScenario::parse(&scenario.bytes()),
            Some(scenario),
            "{name}"
        );
    }
    let write = std::env::var_os("FUZZ_WRITE_SEEDS").is_some();
    let mut stale = Vec::new();
    for seed in seeds::all() {
        let dir = corpus_dir(seed.target);
        let path = dir.join(seed.name);
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(&path, &seed.bytes).expect("write seed");
        } else if std::fs::read(&path).ok().as_ref() != Some(&seed.bytes) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "seeds missing or stale (rewrite: FUZZ_WRITE_SEEDS=1 cargo test -p longpoll-core \
         --test fuzz_corpus):\n{}",
        stale.join("\n")
    );
}

/// The seeds must reach the behaviours they were written for, or the fuzzer starts blind.
#[test]
fn seeds_exercise_the_paths_they_are_for() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for seed in seeds::all() {
        let check = TARGETS
            .iter()
            .find(|(target, _)| *target == seed.target)
            .expect("known target")
            .1;
        let outcome: Outcome = check(&seed.bytes).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        seen.extend(outcome.seen);
    }
    let expected = [
        // wire_decode
        "decoded 3 frames",
        "decode error TooLarge",
        "decode error Truncated",
        "decode error InvalidUtf8",
        "decode error BadClosePayload",
        "decode error TooManyFrames",
        "decode error FrameAfterClose",
        "route Poll",
        "route Send",
        "route Open",
        "route 404",
        "params ok",
        // server_session
        "poll 200",
        "poll 204",
        "poll 400",
        "poll 404",
        "poll 409",
        "poll 410",
        "send 200",
        "send 204",
        "send 400",
        "send 409",
        "send 410",
        "send 413",
        "send 503",
        "delete 204",
        "delete 404",
        "abort of a held request",
        "send waiting for the reply",
        "send answered after waiting for the reply",
        "abort of a send waiting for the reply",
        "refusal that ended a reply wait",
        "app send refused: outbound buffer is full",
        "event closed: idle timeout",
        "event closed: client closed (code 4000, reason \"done\")",
        // session_pair
        "everything delivered",
        "request duplicated",
        "held request broken",
        "status 409",
    ];
    let missing: Vec<_> = expected.iter().filter(|l| !seen.contains(**l)).collect();
    assert!(
        missing.is_empty(),
        "no seed reaches {missing:?}; seen: {seen:#?}"
    );
}
