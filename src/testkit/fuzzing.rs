//! What each cargo-fuzz target runs, as library functions: the targets in `fuzz/fuzz_targets/`
//! are one call each, and `tests/it/fuzz_replay.rs` replays the committed corpora and regressions
//! through the same functions on stable Rust.

use crate::catalog::Catalog;
use crate::classify::{Aggregator, Classifier};
use crate::decode::{DecodeConfig, Decoder};
use crate::flow::{FlowConfig, FlowTable, Timeouts};
use crate::report::{JsonlReport, Judgement, Report, Summary, TableReport};
use crate::site::Site;
use crate::source::{LinkType, RawPacket};
use crate::stats::FlowStats;
use crate::time::{Duration, Timestamp};

/// Any bytes as a capture file: source → decode → flow, then every record and the summary
/// through the JSONL and table reports, so their formatting runs too.
pub fn capture(data: &[u8]) -> crate::Analysis {
    let flow = FlowConfig {
        max_flows: 64,
        payload_prefix_bytes: 256,
        payload_memory_bytes: 1 << 16,
        ..Default::default()
    };
    let a = crate::analyse(
        "fuzz",
        Box::new(std::io::Cursor::new(data.to_vec())),
        Default::default(),
        flow,
    );
    let (catalog, site) = builtin_rules();
    let clf = Classifier::new(catalog, site.as_ref());
    let mut agg = Aggregator::default();
    let (mut jsonl, mut table, mut out) =
        (JsonlReport::default(), TableReport::new(false), Vec::new());
    for rec in &a.flows {
        let ev = crate::inspect::inspect(&crate::inspect::input(rec), rec.start);
        let mut c = clf.classify(rec);
        clf.judge_evidence(rec, &ev, &mut c);
        let cid = crate::report::flow_community_id_bytes(rec);
        agg.add(rec, &c, cid);
        let _ = jsonl.flow(&mut out, rec, &c, &ev, &cid, catalog);
        let _ = table.flow(&mut out, rec, &c, &ev, &cid, catalog);
    }
    let judgement = Judgement {
        catalog,
        site: site.as_ref(),
        findings: agg.findings(catalog),
        coverage: agg.coverage(catalog, site.as_ref()),
        aggregator: &agg,
        learned: &crate::expect::Expectations::default(),
    };
    let summary = Summary {
        inputs: vec!["fuzz".into()],
        input_errors: u64::try_from(a.errors.len()).unwrap_or(u64::MAX),
        first_ts: a.flows.iter().map(|f| f.start).min(),
        last_ts: a.flows.iter().map(|f| f.last).max(),
        stats: &a.stats,
        judgement: &judgement,
    };
    let _ = jsonl.finish(&mut out, &summary);
    let _ = table.finish(&mut out, &summary);
    a.errors.iter().for_each(|e| drop(e.to_string()));
    a.warnings.iter().for_each(|w| drop(w.to_string()));
    a
}

/// The built-in catalog and the demo's site file, loaded once per process.
/// Any bytes as a capture file through the whole run, as `exaudit audit` does it: the learners
/// read endpoint-mapper answers and SIP as packets arrive, a small expectation table (8
/// endpoints) attributes and evicts, flows are classified with what was learned, and the JSONL
/// or the table report (the last byte's low bit) writes everything. Returns the output.
pub fn pipeline(data: &[u8]) -> Vec<u8> {
    static RULES: std::sync::OnceLock<crate::Rules> = std::sync::OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let (catalog, site) = builtin_rules();
        crate::Rules {
            catalog: catalog.clone(),
            site: site.clone(),
        }
    });
    let mut config = crate::Config {
        format: if data.last().is_some_and(|b| b & 1 == 1) {
            crate::Format::Table
        } else {
            crate::Format::Jsonl
        },
        fail_on: None,
        ..crate::Config::default()
    };
    config.flow.max_flows = 64;
    config.flow.payload_prefix_bytes = 512;
    config.flow.payload_memory_bytes = 1 << 16;
    config.expect.max_entries = 8;
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let _ = crate::run_reader(
        "fuzz",
        Box::new(std::io::Cursor::new(data.to_vec())),
        &config,
        rules,
        &mut out,
        &mut diag,
    );
    out
}

fn builtin_rules() -> &'static (Catalog, Option<Site>) {
    static RULES: std::sync::OnceLock<(Catalog, Option<Site>)> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        (
            Catalog::builtin().unwrap_or_default(),
            Site::parse(
                "demo-site.toml",
                include_str!("../../fixtures/demo/site.toml"),
            )
            .ok(),
        )
    })
}

/// One packet: the first byte picks the link type (low 4 bits, modulo the supported list),
/// checksum verification (bit 4) and whether the snaplen cut it (bit 5); the rest is the frame.
/// The decoded packet goes through a flow table, which is then drained.
pub fn decode(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let n = LinkType::SUPPORTED.len();
    let link = LinkType::SUPPORTED
        .get(usize::from(sel & 0x0f) % n)
        .copied()
        .unwrap_or(LinkType::ETHERNET);
    let mut decoder = Decoder::new(DecodeConfig {
        verify_checksums: sel & 0x10 != 0,
        ..Default::default()
    });
    let mut table = FlowTable::new(FlowConfig {
        max_flows: 4,
        ..Default::default()
    });
    let (mut st, mut out) = (FlowStats::default(), Vec::new());
    let ts = Timestamp::from_parts(1_767_603_600, 0, 1);
    let cut = u32::from(sel & 0x20 != 0) * 100;
    let orig_len = u32::try_from(frame.len())
        .unwrap_or(u32::MAX)
        .saturating_add(cut);
    if let Some(d) = decoder.decode(&RawPacket {
        ts,
        link,
        data: frame,
        orig_len,
    }) {
        table.observe(ts, &d, cut > 0, &mut st, &mut out);
    }
    table.finish(&mut st, &mut out);
}

/// A sequence of raw IP packets into one small flow table, so eviction, expiry, reuse, the
/// payload pool and fragment reassembly run. Each packet is `[dt, len_hi, len_lo, bytes…]`:
/// the clock moves forward dt × 50 ms, then `len` bytes (or what is left) are one packet.
pub fn flow_sequence(data: &[u8]) {
    let s = Duration::from_secs;
    let timeouts = Timeouts {
        tcp_handshake: s(4),
        tcp_established: s(8),
        udp: s(2),
        icmp: s(2),
        other: s(2),
        close_delay: s(1),
        attempt: s(2),
    };
    let mut table = FlowTable::new(FlowConfig {
        max_flows: 4,
        payload_prefix_bytes: 32,
        payload_memory_bytes: 128,
        timeouts,
        ..Default::default()
    });
    let mut decoder = Decoder::new(DecodeConfig {
        max_fragmented_datagrams: 4,
        fragment_timeout: s(3),
        ..Default::default()
    });
    let (mut st, mut out) = (FlowStats::default(), Vec::new());
    let (mut now, mut rest) = (Timestamp::from_parts(1_767_603_600, 0, 1), data);
    while let Some((&[dt, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (pkt, tail) = tail.split_at(len);
        rest = tail;
        now = now.saturating_add(Duration::from_millis(u64::from(dt) * 50));
        let orig_len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
        if let Some(d) = decoder.decode(&RawPacket {
            ts: now,
            link: LinkType::RAW,
            data: pkt,
            orig_len,
        }) {
            table.observe(now, &d, false, &mut st, &mut out);
        }
        out.iter_mut().for_each(|rec| table.recycle(rec));
        out.clear();
    }
    table.finish(&mut st, &mut out);
}

/// Any bytes as a rules file and as a site file: both loaders must answer with a value or an
/// error naming a line, never panic; a site that loads is then used to place a few addresses.
pub fn rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    if let Err(e) = Catalog::from_sources([("fuzz.toml".to_owned(), text.clone())]) {
        drop(e.to_string());
    }
    match Site::parse("fuzz-site.toml", &text) {
        Ok(site) => {
            for a in ["10.1.0.10", "203.0.113.80", "::1", "2001:db8::1"] {
                if let Ok(ip) = a.parse() {
                    let _ = site.roles_of(ip);
                }
            }
            let _ = site.is_rpc_port(50000);
        }
        Err(e) => drop(e.to_string()),
    }
}

/// The framing every inspector target reads: `[flags, len_hi, len_lo, client…, server…]`. The
/// client takes `len` bytes (or what is left), the server the rest; what the flag bits mean is
/// each target's own. `None` for fewer than three bytes.
fn conversation(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&[flags, hi, lo], rest) = data.split_first_chunk::<3>()?;
    let len = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
    let (client, server) = rest.split_at(len);
    Some((flags, client, server))
}

/// Builds a [`conversation`] from its parts: the seed corpora are written with it.
pub fn seed(flags: u8, client: &[u8], server: &[u8]) -> Vec<u8> {
    let len = u16::try_from(client.len()).unwrap_or(u16::MAX);
    [&[flags][..], &len.to_be_bytes(), client, server].concat()
}

/// Writes seed inputs of the cargo-fuzz target `target` to `fuzz/corpus/<target>/<name>`, each
/// as a [`conversation`] of (name, flags, client, server). Run by the ignored `write_fuzz_seeds`
/// tests: `cargo test --lib -- --ignored write_fuzz_seeds`.
pub fn write_seeds<S: AsRef<str>>(
    target: &str,
    seeds: &[(S, u8, Vec<u8>, Vec<u8>)],
) -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    for (name, flags, client, server) in seeds {
        std::fs::write(dir.join(name.as_ref()), seed(*flags, client, server))?;
    }
    Ok(())
}

/// The inspector's input for a [`conversation`]; flag bits `(udp, midstream, client cut, server
/// cut)` say which bit means what for the target.
fn input_of<'a>(
    (flags, client, server): (u8, &'a [u8], &'a [u8]),
    [udp, midstream, client_cut, server_cut]: [u8; 4],
    server_port: u16,
) -> crate::inspect::Input<'a> {
    crate::inspect::Input {
        client,
        server,
        udp: flags & udp != 0,
        client_port: 49152,
        server_port,
        midstream: flags & midstream != 0,
        client_cut: flags & client_cut != 0,
        server_cut: flags & server_cut != 0,
    }
}

/// Serialises an inspector's findings, whichever protocol they are about, so that the
/// formatting code runs too, and formats the evidence through `Debug`.
fn serialise(ev: &crate::inspect::Evidence) {
    use crate::inspect::Detail;
    let _ = match &ev.detail {
        Detail::None => Ok(Vec::new()),
        Detail::Smtp(d) => serde_json::to_vec(d),
        Detail::Imap(d) => serde_json::to_vec(d),
        Detail::Pop3(d) => serde_json::to_vec(d),
        Detail::Http(d) => serde_json::to_vec(d),
        Detail::Ldap(d) => serde_json::to_vec(d),
        Detail::Kerberos(d) => serde_json::to_vec(d),
        Detail::Smb(d) => serde_json::to_vec(d),
        Detail::DceRpc(d) => serde_json::to_vec(d),
        Detail::Sip(d) => serde_json::to_vec(d),
    };
    let _ = serde_json::to_vec(&ev.auth);
    let _ = serde_json::to_vec(&ev.ntlm);
    let _ = serde_json::to_vec(&ev.tls);
    drop(format!("{ev:?}"));
}

/// The DCE/RPC and SMB targets' flag bits: 0 mid-stream, 1 client cut, 2 server cut.
const BINARY_FLAGS: [u8; 4] = [0, 1, 2, 4];

/// The DCE/RPC inspector on one [`conversation`] ([`BINARY_FLAGS`]), then [`serialise`]; and
/// every PDU view on both sides.
pub fn inspect_dcerpc(data: &[u8]) {
    use crate::inspect::{Evidence, dcerpc};
    let Some(c) = conversation(data) else {
        return;
    };
    let input = input_of(c, BINARY_FLAGS, 135);
    let mut ev = Evidence::default();
    if dcerpc::inspect(&input, &mut ev) {
        serialise(&ev);
    }
    for side in [input.client, input.server] {
        for p in dcerpc::pdus(side) {
            let _ = (p.contexts().count(), p.answers().count(), p.request());
            let _ = (p.response(), p.fault_status(), p.secondary_address());
        }
    }
}

/// The SMB inspector on one [`conversation`] ([`BINARY_FLAGS`]), then [`serialise`].
pub fn inspect_smb(data: &[u8]) {
    let Some(c) = conversation(data) else {
        return;
    };
    let mut ev = crate::inspect::Evidence::default();
    if crate::inspect::smb::inspect(&input_of(c, BINARY_FLAGS, 445), &mut ev) {
        serialise(&ev);
    }
}

/// Runs one clear-text inspector on a [`conversation`], then [`serialise`]. Flag bits: 0 client
/// cut, 1 server cut, 2 mid-stream, 3 UDP, 4 server port 110 (POP3's, which breaks one tie)
/// instead of 25.
fn text_inspector(
    data: &[u8],
    run: fn(&crate::inspect::Input<'_>, &mut crate::inspect::Evidence) -> bool,
) {
    let Some(c) = conversation(data) else {
        return;
    };
    let port = if c.0 & 0x10 != 0 { 110 } else { 25 };
    let mut ev = crate::inspect::Evidence::default();
    if run(&input_of(c, [0x08, 0x04, 0x01, 0x02], port), &mut ev) {
        serialise(&ev);
    }
}

/// SMTP: `inspect::smtp::inspect` on a [`conversation`].
pub fn inspect_smtp(data: &[u8]) {
    text_inspector(data, crate::inspect::smtp::inspect);
}

/// IMAP: `inspect::imap::inspect` on a [`conversation`].
pub fn inspect_imap(data: &[u8]) {
    text_inspector(data, crate::inspect::imap::inspect);
}

/// POP3: `inspect::pop3::inspect` on a [`conversation`].
pub fn inspect_pop3(data: &[u8]) {
    text_inspector(data, crate::inspect::pop3::inspect);
}

/// HTTP: `inspect::http::inspect` on a [`conversation`].
pub fn inspect_http(data: &[u8]) {
    text_inspector(data, crate::inspect::http::inspect);
}

/// The TLS inspector on one [`conversation`]. Flag bit 0
/// sends the flow through the whole dispatcher (`inspect::inspect`) instead of `tls::parse` and
/// `tls::apply`; bit 1 makes `apply` see an upgrade (bit 4: X-ANONYMOUSTLS); bits 2–3 pick the
/// capture time certificate validity is judged at (the epoch, 2027, year 10000, the largest
/// timestamp). The TLS details and authentications are serialised with serde_json, so their
/// formatting runs too.
pub fn inspect_tls(data: &[u8]) {
    use crate::inspect::{self, Evidence, Input, Protection, Upgrade, tls};
    let Some((flags, client, server)) = conversation(data) else {
        return;
    };
    let at = match (flags >> 2) & 3 {
        0 => Timestamp::ZERO,
        1 => Timestamp::from_parts(1_811_808_000, 0, 1),
        2 => Timestamp::from_parts(253_402_300_800, 0, 1),
        _ => Timestamp::from_nanos(u64::MAX),
    };
    if flags & 1 != 0 {
        let input = Input {
            client,
            server,
            client_port: 50_000,
            server_port: 443,
            ..Input::default()
        };
        let ev = inspect::inspect(&input, at);
        if let Some(t) = &ev.tls {
            drop(serde_json::to_vec(t));
        }
        drop(serde_json::to_vec(&ev.auth));
    } else if let Some(t) = tls::parse(client, server, at) {
        let mut ev = Evidence::default();
        if flags & 2 != 0 {
            ev.protection = Protection::UpgradeUnconfirmed;
            ev.upgrade = Some(Upgrade {
                client_at: 0,
                server_at: 0,
                anonymous: flags & 0x10 != 0,
            });
        }
        tls::apply(&t, &mut ev);
        drop(serde_json::to_vec(&t));
        drop(serde_json::to_vec(&ev.auth));
    }
}

/// The LDAP, Kerberos, SIP and endpoint-mapper targets' flag bits: 0 UDP, 1 mid-stream, 2 client
/// cut, 3 server cut.
const DIRECTORY_FLAGS: [u8; 4] = [1, 2, 4, 8];

/// The input of those targets.
fn inspector_input(data: &[u8]) -> Option<crate::inspect::Input<'_>> {
    conversation(data).map(|c| input_of(c, DIRECTORY_FLAGS, 389))
}

/// The LDAP inspector on one flow's prefixes (split as `inspector_input` says), then the whole
/// dispatcher on the same input; details are serialised.
pub fn inspect_ldap(data: &[u8]) {
    let Some(input) = inspector_input(data) else {
        return;
    };
    let mut ev = crate::inspect::Evidence::default();
    if crate::inspect::ldap::inspect(&input, &mut ev) {
        serialise(&ev);
    }
    serialise(&crate::inspect::inspect(
        &input,
        Timestamp::from_parts(1_767_603_600, 0, 1),
    ));
}

/// The Kerberos inspector on one flow's prefixes (split as `inspector_input` says), and
/// `kerberos::ap_req_etype` on the client bytes as a security blob.
pub fn inspect_kerberos(data: &[u8]) {
    let Some(input) = inspector_input(data) else {
        return;
    };
    let mut ev = crate::inspect::Evidence::default();
    if crate::inspect::kerberos::inspect(&input, &mut ev) {
        serialise(&ev);
    }
    let _ = crate::inspect::kerberos::ap_req_etype(input.client);
}

/// The SIP inspector on one flow's prefixes (split as `inspector_input` says), and the SDP
/// parser on the server bytes as a body.
pub fn inspect_sip(data: &[u8]) {
    let Some(input) = inspector_input(data) else {
        return;
    };
    let mut ev = crate::inspect::Evidence::default();
    if crate::inspect::sip::inspect(&input, &mut ev) {
        serialise(&ev);
    }
    if let Some(sdp) = crate::inspect::sip::sdp::parse(input.server) {
        let _ = serde_json::to_vec(&sdp);
        let _ = sdp.endpoints().count();
    }
}

/// The endpoint-mapper and DCOM reader on one flow's prefixes (split as `inspector_input`
/// says; the UDP flag makes `learn` answer "not mine"), then its detail through `serde_json`
/// and the endpoints through `Debug`.
pub fn inspect_epm(data: &[u8]) {
    let Some(input) = inspector_input(data) else {
        return;
    };
    if let Some(l) = crate::inspect::epm::learn(&input) {
        let _ = serde_json::to_vec(&l.epm);
        let _ = format!("{:?}", l.endpoints);
        assert!(l.endpoints.len() <= crate::inspect::epm::MAX_ENDPOINTS);
    }
}

/// SIP payloads through the learner's call state, and its lessons into an expectation table.
/// `data` is a sequence of `[flags, len_hi, len_lo, bytes…]`: flag bit 0 sends the payload over
/// UDP (else TCP), bit 1 from the gateway to UM (else from UM to the gateway), bits 2–7 move the
/// clock forward that many seconds first; then `len` bytes (or what is left) are one payload.
/// Calls and endpoints live two minutes and the table holds 64 endpoints, so expiry and
/// eviction run. Each payload is also read as an RTP header.
pub fn expect_sip(data: &[u8]) {
    use crate::expect::sip::{Calls, MAX_CALLS};
    use crate::expect::{ExpectConfig, Expectations, Transport};
    use std::net::IpAddr;
    let lifetime = Duration::from_secs(120);
    let mut calls = Calls::new(lifetime);
    let mut table = Expectations::new(ExpectConfig {
        max_entries: 64,
        media_lifetime: lifetime,
        retain: Duration::from_secs(30),
        ..ExpectConfig::default()
    });
    let um = (IpAddr::from([10, 1, 0, 40]), 5060);
    let gateway = (IpAddr::from([10, 1, 5, 1]), 5060);
    let (mut now, mut rest) = (Timestamp::from_parts(1_767_603_600, 0, 1), data);
    let mut out = Vec::new();
    while let Some((&[flags, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        now = now.saturating_add(Duration::from_secs(u64::from(flags >> 2)));
        let transport = if flags & 1 != 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let (src, dst) = if flags & 2 != 0 {
            (gateway, um)
        } else {
            (um, gateway)
        };
        let _ = crate::inspect::rtp::header(payload);
        out.clear();
        calls.on_payload(src, dst, transport, payload, now, [b'0'; 30], &mut out);
        for lesson in &out {
            table.apply(lesson);
        }
        table.tick(now);
        assert!(calls.len() <= MAX_CALLS);
    }
    assert!(table.len() <= 64);
    drop(format!("{:?} {:?}", table.entries(), calls.stats));
}

/// An [`expect_sip`] input of `payloads`, one second apart, from UM to the gateway over UDP
/// (`udp`) or TCP: the seed corpus is written with it.
pub fn expect_sip_seed(udp: bool, payloads: &[Vec<u8>]) -> Vec<u8> {
    let flags = (1 << 2) | u8::from(udp);
    payloads
        .iter()
        .flat_map(|p| {
            let len = u16::try_from(p.len()).unwrap_or(u16::MAX);
            let [hi, lo] = len.to_be_bytes();
            [flags, hi, lo].into_iter().chain(p.iter().copied())
        })
        .collect()
}
