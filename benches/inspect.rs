//! What inspection costs per flow, by protocol: `exaudit::inspect::inspect` on one finished
//! flow's payload prefixes (the default 4 KiB a direction), taken from the real captures in
//! `../shared/pcaps/` when they are present, and from the bundled demo capture always. Each
//! benchmark inspects the same flow over and over; the figure is time per flow.
//!
//! - `tls-cert-chain`: a TLS 1.0 handshake whose server sends a three-certificate chain
//!   (zeek-tls10.pcap): records, hellos, JA4 and x509 parsing of every whole certificate.
//! - `tls13`: a TLS 1.3 handshake (zeek-tls13-sll2.pcap): no certificate to parse.
//! - `smtp-auth`, `ldap-simple-bind`, `dcerpc-ntlm-privacy`, `smb3`, `sip-udp`: one flow each of
//!   zeek-smtp-auth-login, zeek-ldap-simple-bind-vlan, sv-dcerpc-epm-svcctl-privacy (the SVCCTL
//!   flow), zeek-smb3-ntlm and sv-sip-invite-sdp.
//! - `demo-*`: flows of `fixtures/demo/demo.pcapng` (always present): SMTP with STARTTLS then TLS,
//!   Kerberos-sealed LDAP, a DCE/RPC bind at level connect.
//! - `opaque`: 4 KiB of opaque bytes each way: what every inspector's "not mine" costs.
//!
//! `cargo bench --bench inspect`

#![allow(
    clippy::print_stderr,
    reason = "a benchmark says which captures it skipped"
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use exaudit::decode::DecodeConfig;
use exaudit::flow::{FlowConfig, FlowRecord};
use exaudit::inspect::{Input, Service, input, inspect};
use exaudit::time::Timestamp;

fn flows(path: &Path) -> Option<Vec<FlowRecord>> {
    let bytes = std::fs::read(path).ok()?;
    let a = exaudit::analyse(
        "bench",
        Box::new(std::io::Cursor::new(bytes)),
        DecodeConfig::default(),
        FlowConfig::default(),
    );
    Some(a.flows)
}

/// The first flow of `file` whose evidence names `service` and passes `pick`.
fn pick(file: &Path, service: Service, want: impl Fn(&FlowRecord) -> bool) -> Option<FlowRecord> {
    flows(file)?
        .into_iter()
        .find(|r| want(r) && inspect(&input(r), r.start).service == Some(service))
}

fn bench_flow(c: &mut Criterion, name: &str, rec: Option<FlowRecord>) {
    let Some(rec) = rec else {
        eprintln!("skipped: {name} (its capture is not present)");
        return;
    };
    c.bench_function(name, |b| {
        b.iter(|| black_box(inspect(black_box(&input(&rec)), rec.start)))
    });
}

fn shared(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/pcaps")
        .join(name)
}

fn benches(c: &mut Criterion) {
    let any = |_: &FlowRecord| true;
    bench_flow(
        c,
        "tls-cert-chain",
        pick(&shared("zeek-tls10.pcap"), Service::Tls, any),
    );
    bench_flow(
        c,
        "tls13",
        pick(&shared("zeek-tls13-sll2.pcap"), Service::Tls, any),
    );
    bench_flow(
        c,
        "smtp-auth",
        pick(&shared("zeek-smtp-auth-login.pcap"), Service::Smtp, any),
    );
    bench_flow(
        c,
        "ldap-simple-bind",
        pick(
            &shared("zeek-ldap-simple-bind-vlan.pcap"),
            Service::Ldap,
            any,
        ),
    );
    bench_flow(
        c,
        "dcerpc-ntlm-privacy",
        pick(
            &shared("sv-dcerpc-epm-svcctl-privacy.pcap"),
            Service::DceRpc,
            |r| r.resp.1 != 135,
        ),
    );
    bench_flow(
        c,
        "smb3",
        pick(&shared("zeek-smb3-ntlm.pcap"), Service::Smb, any),
    );
    bench_flow(
        c,
        "sip-udp",
        pick(&shared("sv-sip-invite-sdp.pcap"), Service::Sip, any),
    );
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/demo.pcapng");
    bench_flow(
        c,
        "demo-smtp-starttls",
        pick(&demo, Service::Smtp, |r| {
            r.resp.1 == 25 && r.orig_counts.bytes > 1000
        }),
    );
    bench_flow(
        c,
        "demo-ldap-sealed",
        pick(&demo, Service::Ldap, |r| r.resp.1 == 3268),
    );
    bench_flow(
        c,
        "demo-dcerpc-connect",
        pick(&demo, Service::DceRpc, |r| r.resp.1 != 135),
    );
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| i.wrapping_mul(2_654_435_761).to_be_bytes()[1])
        .collect();
    let opaque = Input {
        client: &noise,
        server: &noise[7..],
        client_port: 50000,
        server_port: 443,
        ..Input::default()
    };
    c.bench_function("opaque", |b| {
        b.iter(|| black_box(inspect(black_box(&opaque), Timestamp::ZERO)))
    });
}

criterion_group!(inspection, benches);
criterion_main!(inspection);
