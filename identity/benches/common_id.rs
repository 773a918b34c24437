//! Parsing and validating a common identifier in its display form.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use identity::CommonId;

fn parse_display_form(c: &mut Criterion) {
    let shown = CommonId::generate(&mut rand::rng()).to_string();
    c.bench_function("common_id_parse_display_form", |b| {
        b.iter(|| black_box(shown.as_str()).parse::<CommonId>())
    });
    let compact = shown.replace(['.', '-'], "");
    c.bench_function("common_id_parse_compact_form", |b| {
        b.iter(|| black_box(compact.as_str()).parse::<CommonId>())
    });
}

criterion_group!(benches, parse_display_form);
criterion_main!(benches);
