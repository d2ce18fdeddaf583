//! Heap allocations of the core state machine per echoed message, in steady state, counted
//! by a counting global allocator. One test in this file: the count is process-wide.

use longpoll_bench::core_echo::EchoLoop;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The target: nothing beyond the payload's own buffer. An echoed message's one
/// allocation is the poll answer's body, the buffer its frame is encoded into (a one-frame
/// send is decoded in place, and nothing else in a round allocates).
const MAX_ALLOCS_PER_MESSAGE: f64 = 1.0;
/// Allocations over the whole measured run that are not the loop's (see the test).
const STRAY_ALLOCATIONS: f64 = 32.0;

#[test]
fn steady_state_allocations_per_message_stay_bounded() {
    let mut echo = EchoLoop::new(Instant::now());
    for _ in 0..1_000 {
        echo.round();
    }
    let rounds = 10_000;
    let region = Region::new(GLOBAL);
    let mut bytes_out = 0;
    for _ in 0..rounds {
        bytes_out += echo.round();
    }
    let change = region.change();
    assert_eq!(
        bytes_out,
        rounds * 69,
        "every round carries one 64-byte text frame"
    );
    let allocations = change.allocations + change.reallocations;
    let per_message = allocations as f64 / rounds as f64;
    println!("core allocations per echoed message: {per_message}");
    // The count is process-wide: the test harness's own thread, or a queue's occasional
    // growth step, may add a few over the whole run (CI once saw 4 in 10,000 rounds). A
    // second allocation per message would add 10,000.
    assert!(
        allocations as f64 <= MAX_ALLOCS_PER_MESSAGE * rounds as f64 + STRAY_ALLOCATIONS,
        "{per_message} allocations per message, more than {MAX_ALLOCS_PER_MESSAGE}"
    );
    // Nothing accumulates: what a round allocates, it frees.
    assert!(change.bytes_allocated.abs_diff(change.bytes_deallocated) < 64 * 1024);
}
