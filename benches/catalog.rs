//! What loading a rules file costs as it grows: the built-in catalog plus a user's file of
//! 1 000, 4 000 and 8 000 generated paths (each its own port, so the port index grows too). The
//! figure should grow in proportion to the paths, not faster: every error names its line, and
//! the loader counts the file's lines once.
//!
//! `cargo bench --bench catalog`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use exaudit::catalog::{BUILTIN, Catalog};

/// A rules file of `n` paths, each from clients to Client Access on its own TCP port.
fn rules_file(n: usize) -> String {
    let mut s = String::from(
        "[list]\nid = \"local\"\ntitle = \"Local paths\"\ngenerations = [\"2016\"]\nsource = \"local\"\n",
    );
    for i in 0..n {
        let port = 1024 + i % 60_000;
        let _ = write!(
            s,
            "\n[[path]]\nid = \"local.p{i}\"\nname = \"Local path {i}\"\nfrom = [\"client\"]\n\
             to = [\"cas\"]\nports = [\"{port}/tcp\"]\nencryption = [\"tls\"]\n\
             encryption_text = \"TLS\"\nencrypted_by_default = \"yes\"\nauth_text = \"not stated\"\n\
             notes = \"Local path number {i}.\"\nsource = \"local:{i}\"\n"
        );
    }
    s
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules-file");
    g.sample_size(10);
    for n in [1_000, 4_000, 8_000] {
        let text = rules_file(n);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| {
                let sources = BUILTIN
                    .iter()
                    .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
                    .chain([("local.toml".to_owned(), text.clone())]);
                black_box(Catalog::from_sources(sources).map(|c| c.paths.len()))
            });
        });
    }
    g.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
