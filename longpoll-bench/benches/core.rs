//! Criterion: the core state machine's echo round (four inputs: a send, the application
//! taking the message, its reply answering the parked poll, the next poll), per core.
//! `cargo bench -p longpoll-bench --bench core`

#![allow(missing_docs)] // `criterion_group!` defines an undocumented public function.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use longpoll_bench::core_echo::{EVENTS_PER_ROUND, EchoLoop};
use std::time::Instant;

fn echo_round(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(EVENTS_PER_ROUND));
    let mut echo = EchoLoop::new(Instant::now());
    group.bench_function("echo_round_64B", |b| b.iter(|| echo.round()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = echo_round
}
criterion_main!(benches);
