//! Micro-benchmarks of the sheet engine alone (no Python, no sockets), for issue #5:
//! inserting 100,000 cells, the downstream set of a chain's head, and the
//! topological order of a 10,000-cell batch (a chain and a fan-out).
//!
//! Run with `cargo bench -p pysheets-kernel --bench graph`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pysheets_kernel::sheet::{Address, CellDeps, Sheet};

/// The i-th cell down column A (0-based), then B, … (a column holds 1,048,576 rows).
fn addr(i: u32) -> Address {
    Address::new(i / 1_000_000, i % 1_000_000 + 1).expect("address in range")
}

/// `c{i} = c{i-1} + 1`: each cell defines one name and reads the previous one.
fn chain_cell(i: u32) -> CellDeps {
    CellDeps {
        reads_addresses: Vec::new(),
        reads_names: if i == 0 {
            Vec::new()
        } else {
            vec![format!("c{}", i - 1)]
        },
        defines: vec![format!("c{i}")],
        ..Default::default()
    }
}

/// `d{i} = A1 + i`: every cell reads the head by address.
fn fan_cell(i: u32) -> CellDeps {
    CellDeps {
        reads_addresses: if i == 0 { Vec::new() } else { vec![addr(0)] },
        reads_names: Vec::new(),
        defines: vec![format!("d{i}")],
        ..Default::default()
    }
}

fn build(n: u32, cell: fn(u32) -> CellDeps) -> Sheet {
    let mut sheet = Sheet::new();
    for i in 0..n {
        sheet.set_cell(addr(i), cell(i)).expect("no cycle");
    }
    sheet
}

fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert");
    group.sample_size(10);
    group.bench_function("100k chain cells", |b| {
        b.iter(|| black_box(build(100_000, chain_cell)))
    });
    group.bench_function("100k fan-out cells", |b| {
        b.iter(|| black_box(build(100_000, fan_cell)))
    });
    group.finish();
}

fn downstream(c: &mut Criterion) {
    let mut group = c.benchmark_group("downstream");
    for n in [1_000u32, 10_000, 100_000] {
        let sheet = build(n, chain_cell);
        group.bench_function(format!("chain head of {n}"), |b| {
            b.iter(|| black_box(sheet.downstream(addr(0))))
        });
    }
    // Graph work per edit must not grow with the sheet: a leaf's downstream set.
    let sheet = build(100_000, chain_cell);
    group.bench_function("chain tail of 100000", |b| {
        b.iter(|| black_box(sheet.downstream(addr(99_999))))
    });
    group.finish();
}

fn order(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    let chain = build(10_000, chain_cell);
    group.bench_function("chain of 10000", |b| {
        b.iter(|| black_box(chain.plan(&[addr(0)])))
    });
    let fan = build(10_001, fan_cell);
    group.bench_function("fan-out of 10000", |b| {
        b.iter(|| black_box(fan.plan(&[addr(0)])))
    });
    // Re-setting the head with the same dependencies: what an edit costs the graph.
    group.bench_function("edit head of 10000 chain", |b| {
        b.iter_batched_ref(
            || chain.clone(),
            |sheet| black_box(sheet.set_cell(addr(0), chain_cell(0))),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, insert, downstream, order);
criterion_main!(benches);
