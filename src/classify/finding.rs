//! Findings: stable codes with a severity, gathered over the run so that one cause gives one
//! finding with a count and examples (a scan of 5,000 ports is one finding, not 5,000), and
//! per-path coverage (seen working, seen failing, not seen). Bounded: past the group cap, flows
//! are counted but not grouped.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::catalog::{Catalog, Role, RoleSet, Transport};
use crate::flow::{FlowRecord, Kind};
use crate::site::Site;
use crate::time::Timestamp;

use super::verdict::{Classification, Reachability, Verdict};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A finding's code. Stable: a code is never renamed, and a retired one is never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    UndocumentedFlow,
    UndocumentedAttempt,
    PathRejected,
    PathUnanswered,
    ClearPort,
    LegacyProtocol,
    InternetExposure,
    PortScan,
    SmtpWithoutTls,
    UnencryptedPath,
    StarttlsNotUsed,
    StarttlsStripped,
    StarttlsRefused,
    TlsOldVersion,
    TlsWeakCipher,
    CertSelfSigned,
    CertExpired,
    TlsHandshakeFailed,
    RpcWithoutPrivacy,
    ClearCredentials,
    NtlmV1,
    KerberosWeakEtype,
    AnonymousAccess,
    ProtocolMismatch,
    DynamicPortBlocked,
    RpcInterfaceMismatch,
    RtpWithoutSrtp,
}

impl Code {
    pub const ALL: [Code; 27] = [
        Code::UndocumentedFlow,
        Code::UndocumentedAttempt,
        Code::PathRejected,
        Code::PathUnanswered,
        Code::ClearPort,
        Code::LegacyProtocol,
        Code::InternetExposure,
        Code::PortScan,
        Code::SmtpWithoutTls,
        Code::UnencryptedPath,
        Code::StarttlsNotUsed,
        Code::StarttlsStripped,
        Code::StarttlsRefused,
        Code::TlsOldVersion,
        Code::TlsWeakCipher,
        Code::CertSelfSigned,
        Code::CertExpired,
        Code::TlsHandshakeFailed,
        Code::RpcWithoutPrivacy,
        Code::ClearCredentials,
        Code::NtlmV1,
        Code::KerberosWeakEtype,
        Code::AnonymousAccess,
        Code::ProtocolMismatch,
        Code::DynamicPortBlocked,
        Code::RpcInterfaceMismatch,
        Code::RtpWithoutSrtp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::UndocumentedFlow => "undocumented-flow",
            Code::UndocumentedAttempt => "undocumented-attempt",
            Code::PathRejected => "path-rejected",
            Code::PathUnanswered => "path-unanswered",
            Code::ClearPort => "clear-port",
            Code::LegacyProtocol => "legacy-protocol",
            Code::InternetExposure => "internet-exposure",
            Code::PortScan => "port-scan",
            Code::SmtpWithoutTls => "smtp-without-tls",
            Code::UnencryptedPath => "unencrypted-path",
            Code::StarttlsNotUsed => "starttls-not-used",
            Code::StarttlsStripped => "starttls-stripped",
            Code::StarttlsRefused => "starttls-refused",
            Code::TlsOldVersion => "tls-old-version",
            Code::TlsWeakCipher => "tls-weak-cipher",
            Code::CertSelfSigned => "cert-self-signed",
            Code::CertExpired => "cert-expired",
            Code::TlsHandshakeFailed => "tls-handshake-failed",
            Code::RpcWithoutPrivacy => "rpc-without-privacy",
            Code::ClearCredentials => "clear-credentials",
            Code::NtlmV1 => "ntlmv1",
            Code::KerberosWeakEtype => "kerberos-weak-etype",
            Code::AnonymousAccess => "anonymous-access",
            Code::ProtocolMismatch => "protocol-mismatch",
            Code::DynamicPortBlocked => "dynamic-port-blocked",
            Code::RpcInterfaceMismatch => "rpc-interface-mismatch",
            Code::RtpWithoutSrtp => "rtp-without-srtp",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::PathRejected
            | Code::PathUnanswered
            | Code::InternetExposure
            | Code::DynamicPortBlocked => Severity::High,
            Code::UndocumentedFlow | Code::ClearPort | Code::LegacyProtocol | Code::PortScan => {
                Severity::Medium
            }
            Code::UndocumentedAttempt => Severity::Low,
            Code::SmtpWithoutTls
            | Code::UnencryptedPath
            | Code::StarttlsStripped
            | Code::TlsWeakCipher
            | Code::CertExpired
            | Code::ClearCredentials
            | Code::NtlmV1 => Severity::High,
            Code::StarttlsNotUsed
            | Code::StarttlsRefused
            | Code::TlsOldVersion
            | Code::CertSelfSigned
            | Code::RpcWithoutPrivacy
            | Code::KerberosWeakEtype
            | Code::AnonymousAccess
            | Code::ProtocolMismatch
            | Code::RtpWithoutSrtp => Severity::Medium,
            Code::TlsHandshakeFailed | Code::RpcInterfaceMismatch => Severity::Low,
        }
    }
}

/// The codes one flow raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CodeSet(u32);

impl CodeSet {
    pub fn insert(&mut self, c: Code) {
        self.0 |= 1 << c as u32;
    }

    pub fn contains(self, c: Code) -> bool {
        self.0 & (1 << c as u32) != 0
    }

    pub fn remove(&mut self, c: Code) {
        self.0 &= !(1 << c as u32);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Code> {
        Code::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// Addresses kept per finding; beyond, they are counted.
const MAX_ADDRS: usize = 8;
/// Example flows (Community IDs) kept per finding.
const MAX_EXAMPLES: usize = 3;
/// Ports kept per scan finding.
const MAX_PORTS: usize = 24;
/// Distinct finding groups kept; flows of further groups are counted in `ungrouped`.
const MAX_GROUPS: usize = 65_536;
/// Sources whose undocumented connections are tallied for scan detection.
const MAX_SCAN_SOURCES: usize = 65_536;
/// Distinct (host, port) pairs of undocumented connections from one source that make it a
/// scanner (Zeek's default port-scan threshold is 15 ports).
pub const SCAN_THRESHOLD: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    code: Code,
    path: Option<u32>,
    src_roles: Option<RoleSet>,
    dst_roles: Option<RoleSet>,
    transport: Option<Transport>,
    port: u16,
    /// What differs within a code beyond the path (the service of a protocol mismatch).
    detail: Option<u32>,
}

/// A bounded list of distinct addresses with a count of those left out.
#[derive(Debug, Clone, Default)]
pub struct Addrs {
    pub list: Vec<IpAddr>,
    pub more: u64,
}

impl Addrs {
    fn add(&mut self, a: IpAddr) {
        if self.list.contains(&a) {
            return;
        }
        if self.list.len() < MAX_ADDRS {
            self.list.push(a);
        } else {
            self.more += 1;
        }
    }

    /// Distinct addresses seen (the kept ones and those beyond the cap, which may repeat).
    pub fn count(&self) -> u64 {
        self.list.len() as u64 + self.more
    }
}

/// One finding, as reports print it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// One sentence for a mail administrator.
    pub message: String,
    /// The catalog path it is judged against (index), if any.
    pub path: Option<u32>,
    pub flows: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub transport: Option<Transport>,
    /// The server ports concerned (one, or a scan's examples).
    pub ports: Vec<u16>,
    pub ports_more: u64,
    pub src_roles: Option<RoleSet>,
    pub dst_roles: Option<RoleSet>,
    pub sources: Addrs,
    pub dests: Addrs,
    /// Community IDs of example flows.
    pub examples: Vec<[u8; 30]>,
    /// For `clear-port`: the documented encrypted port.
    pub secure_port: Option<u16>,
}

#[derive(Debug, Clone)]
struct Group {
    flows: u64,
    first: Timestamp,
    last: Timestamp,
    sources: Addrs,
    dests: Addrs,
    examples: Vec<[u8; 30]>,
    /// Index of the alternative (clear-port) or legacy path (legacy-protocol).
    extra: Option<u32>,
    order: u64,
}

/// Collects findings and coverage over a run.
#[derive(Debug, Default)]
pub struct Aggregator {
    groups: HashMap<GroupKey, Group, foldhash::fast::FixedState>,
    /// Flows with findings that did not fit in the group cap.
    pub ungrouped: u64,
    scans: HashMap<IpAddr, Vec<(IpAddr, u16)>, foldhash::fast::FixedState>,
    pub scan_sources_dropped: u64,
    /// Flows by verdict, in the order of [`Verdict`]'s variants.
    pub verdicts: [u64; 4],
    /// Flows whose documented path failed (rejected or unanswered).
    pub failing: u64,
    /// Flows per path index: (answered, failed). Grown on demand to the highest path seen.
    coverage: Vec<(u64, u64)>,
    next_order: u64,
}

impl Aggregator {
    /// Adds one classified flow.
    pub fn add(&mut self, rec: &FlowRecord, c: &Classification, community_id: [u8; 30]) {
        self.verdicts[verdict_index(c.verdict)] += 1;
        if let Some(p) = c.path
            && matches!(c.verdict, Verdict::Documented | Verdict::PortOnly)
        {
            let i = p as usize;
            if self.coverage.len() <= i {
                self.coverage.resize(i + 1, (0, 0));
            }
            if c.reachability.failed() {
                self.failing += 1;
                self.coverage[i].1 += 1;
            } else if matches!(c.reachability, Reachability::Ok | Reachability::Partial) {
                self.coverage[i].0 += 1;
            }
        }
        if c.findings.is_empty() {
            return;
        }
        let transport = match rec.kind {
            Kind::Tcp => Some(Transport::Tcp),
            Kind::Udp => Some(Transport::Udp),
            _ => None,
        };
        let (src_roles, dst_roles) = match c.roles {
            Some((s, d)) => (Some(s), Some(d)),
            None => (None, None),
        };
        for code in c.findings.iter() {
            if matches!(code, Code::UndocumentedFlow | Code::UndocumentedAttempt) {
                self.tally_scan(rec.orig.0, rec.resp.0, rec.resp.1);
            }
            let path = match code {
                Code::LegacyProtocol => c.legacy_path,
                Code::UndocumentedFlow | Code::UndocumentedAttempt | Code::InternetExposure => None,
                _ => c.path,
            };
            let extra = match code {
                Code::ClearPort => c.alternative,
                Code::LegacyProtocol => c.legacy_path,
                Code::ProtocolMismatch => c.mismatch,
                Code::UnencryptedPath => c.service_extra,
                _ => None,
            };
            // Media ports change with every call: one group for all of them.
            let port = if code == Code::RtpWithoutSrtp {
                0
            } else {
                rec.resp.1
            };
            let key = GroupKey {
                code,
                path,
                src_roles,
                dst_roles,
                transport,
                port,
                detail: match code {
                    Code::ProtocolMismatch | Code::UnencryptedPath => extra,
                    _ => None,
                },
            };
            let order = self.next_order;
            let full = self.groups.len() >= MAX_GROUPS;
            let g = match self.groups.get_mut(&key) {
                Some(g) => g,
                None if full => {
                    self.ungrouped += 1;
                    continue;
                }
                None => {
                    self.next_order += 1;
                    self.groups.entry(key).or_insert(Group {
                        flows: 0,
                        first: rec.start,
                        last: rec.last,
                        sources: Addrs::default(),
                        dests: Addrs::default(),
                        examples: Vec::new(),
                        extra,
                        order,
                    })
                }
            };
            g.flows += 1;
            g.first = g.first.min(rec.start);
            g.last = g.last.max(rec.last);
            g.sources.add(rec.orig.0);
            g.dests.add(rec.resp.0);
            if g.examples.len() < MAX_EXAMPLES {
                g.examples.push(community_id);
            }
        }
    }

    fn tally_scan(&mut self, src: IpAddr, dst: IpAddr, port: u16) {
        let full = self.scans.len() >= MAX_SCAN_SOURCES;
        let v = match self.scans.get_mut(&src) {
            Some(v) => v,
            None if full => {
                self.scan_sources_dropped += 1;
                return;
            }
            None => self.scans.entry(src).or_default(),
        };
        if v.len() < SCAN_THRESHOLD && !v.contains(&(dst, port)) {
            v.push((dst, port));
        }
    }

    /// The findings of the run, most severe first, then in the order they were first seen.
    pub fn findings(&self, catalog: &Catalog) -> Vec<Finding> {
        let scanners: Vec<IpAddr> = {
            let mut v: Vec<IpAddr> = self
                .scans
                .iter()
                .filter(|(_, pairs)| pairs.len() >= SCAN_THRESHOLD)
                .map(|(a, _)| *a)
                .collect();
            v.sort();
            v
        };
        let mut groups: Vec<(&GroupKey, &Group)> = self.groups.iter().collect();
        groups.sort_by_key(|(_, g)| g.order);
        let mut out = Vec::new();
        let mut scans: Vec<(IpAddr, Finding, u64)> = Vec::new();
        for (k, g) in groups {
            let scan_src = match k.code {
                Code::UndocumentedFlow | Code::UndocumentedAttempt
                    if g.sources.list.len() == 1 && g.sources.more == 0 =>
                {
                    scanners.iter().copied().find(|s| *s == g.sources.list[0])
                }
                _ => None,
            };
            if let Some(src) = scan_src {
                let i = match scans.iter().position(|(a, _, _)| *a == src) {
                    Some(i) => i,
                    None => {
                        scans.push((
                            src,
                            Finding {
                                code: Code::PortScan,
                                severity: Code::PortScan.severity(),
                                message: String::new(),
                                path: None,
                                flows: 0,
                                first: g.first,
                                last: g.last,
                                transport: k.transport,
                                ports: Vec::new(),
                                ports_more: 0,
                                src_roles: k.src_roles,
                                dst_roles: None,
                                sources: Addrs::default(),
                                dests: Addrs::default(),
                                examples: Vec::new(),
                                secure_port: None,
                            },
                            g.order,
                        ));
                        scans.len() - 1
                    }
                };
                let f = &mut scans[i].1;
                f.flows += g.flows;
                f.first = f.first.min(g.first);
                f.last = f.last.max(g.last);
                f.sources.add(src);
                for d in &g.dests.list {
                    f.dests.add(*d);
                }
                f.dests.more += g.dests.more;
                if f.ports.len() < MAX_PORTS {
                    if !f.ports.contains(&k.port) {
                        f.ports.push(k.port);
                    }
                } else {
                    f.ports_more += 1;
                }
                if f.transport != k.transport {
                    f.transport = None;
                }
                f.dst_roles = Some(
                    f.dst_roles
                        .unwrap_or_default()
                        .union(k.dst_roles.unwrap_or_default()),
                );
                for e in &g.examples {
                    if f.examples.len() < MAX_EXAMPLES {
                        f.examples.push(*e);
                    }
                }
                continue;
            }
            let mut f = Finding {
                code: k.code,
                severity: k.code.severity(),
                message: String::new(),
                path: k.path,
                flows: g.flows,
                first: g.first,
                last: g.last,
                transport: k.transport,
                ports: vec![k.port],
                ports_more: 0,
                src_roles: k.src_roles,
                dst_roles: k.dst_roles,
                sources: g.sources.clone(),
                dests: g.dests.clone(),
                examples: g.examples.clone(),
                secure_port: None,
            };
            if k.code == Code::ClearPort {
                f.secure_port = g
                    .extra
                    .and_then(|i| catalog.alternatives.get(i as usize))
                    .map(|a| a.secure);
            }
            f.message = message(&f, catalog, g.extra);
            out.push((g.order, f));
        }
        for (_, mut f, order) in scans {
            f.ports.sort_unstable();
            f.message = message(&f, catalog, None);
            out.push((order, f));
        }
        out.sort_by(|a, b| b.1.severity.cmp(&a.1.severity).then(a.0.cmp(&b.0)));
        out.into_iter().map(|(_, f)| f).collect()
    }

    /// Coverage of the paths the site makes applicable, in catalog order. Empty without a site.
    pub fn coverage(&self, catalog: &Catalog, site: Option<&Site>) -> Vec<Coverage> {
        let Some(site) = site else {
            return Vec::new();
        };
        let present = site.present.with_implied();
        let mut out = Vec::new();
        for (i, p) in catalog.paths.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            let gens = catalog.lists[p.list as usize].generations;
            let applies = (gens.contains(crate::catalog::Generation::Any)
                || gens.intersects(site.generations))
                && !p.ports.is_empty()
                && !p.from.contains(Role::Loopback)
                && end_present(p.from, present)
                && end_present(p.to, present);
            if !applies {
                continue;
            }
            let (ok, failing) = self.coverage.get(i as usize).copied().unwrap_or((0, 0));
            let status = if failing > 0 {
                CoverageStatus::SeenFailing
            } else if ok > 0 {
                CoverageStatus::SeenOk
            } else {
                CoverageStatus::NotSeen
            };
            out.push(Coverage {
                path: i,
                status,
                flows_ok: ok,
                flows_failing: failing,
            });
        }
        out
    }

    /// Flows by verdict.
    pub fn verdict_count(&self, v: Verdict) -> u64 {
        self.verdicts[verdict_index(v)]
    }
}

fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Documented => 0,
        Verdict::Undocumented => 1,
        Verdict::PortOnly => 2,
        Verdict::Unknown => 3,
    }
}

/// Whether the site has hosts for a path end. Clients, the internet and "any host" are always
/// there.
fn end_present(end: RoleSet, present: RoleSet) -> bool {
    end.contains(Role::Any)
        || end.contains(Role::Internet)
        || end.contains(Role::Client)
        || end.intersects(present)
}

/// Whether a documented path was seen, and whether it worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageStatus {
    SeenOk,
    SeenFailing,
    NotSeen,
}

impl CoverageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::SeenOk => "seen-ok",
            CoverageStatus::SeenFailing => "seen-failing",
            CoverageStatus::NotSeen => "not-seen",
        }
    }
}

/// One applicable path's coverage.
#[derive(Debug, Clone, Copy)]
pub struct Coverage {
    pub path: u32,
    pub status: CoverageStatus,
    pub flows_ok: u64,
    pub flows_failing: u64,
}

/// "10.1.0.10" or "3 hosts".
fn hosts(a: &Addrs) -> String {
    match (a.list.as_slice(), a.more) {
        ([one], 0) => one.to_string(),
        _ => format!("{} hosts", a.count()),
    }
}

fn roles_text(r: Option<RoleSet>) -> String {
    match r {
        None => String::new(),
        Some(r) => {
            format!("{} ", r.shown().titles())
        }
    }
}

fn port_text(f: &Finding) -> String {
    let t = f.transport.map_or("", Transport::as_str);
    match f.ports.as_slice() {
        [p] => format!("{p}/{t}"),
        _ => String::new(),
    }
}

fn flows_text(n: u64) -> String {
    if n == 1 {
        "1 flow".to_owned()
    } else {
        format!("{n} flows")
    }
}

/// The sentence a mail administrator reads.
fn message(f: &Finding, catalog: &Catalog, extra: Option<u32>) -> String {
    let from = format!("{}{}", roles_text(f.src_roles), hosts(&f.sources));
    let to = format!("{}{}", roles_text(f.dst_roles), hosts(&f.dests));
    let port = port_text(f);
    let path = f.path.map(|p| catalog.path(p));
    let path_name = path.map_or(String::new(), |p| format!("{} ({})", p.name, p.id));
    let documented = if path_name.is_empty() {
        String::new()
    } else {
        format!(", where the documentation says {path_name} is encrypted")
    };
    let documented_rpc = if path_name.is_empty() {
        String::new()
    } else {
        format!(", where {path_name} documents RPC encryption")
    };
    let documented_auth = if path_name.is_empty() {
        String::new()
    } else {
        format!(", where {path_name} documents authentication")
    };
    match f.code {
        Code::UndocumentedFlow => format!(
            "{} from {from} to {to} on {port}: no documented Exchange path allows this traffic",
            flows_text(f.flows)
        ),
        Code::UndocumentedAttempt => format!(
            "{} from {from} to {to} on {port}, refused or unanswered: no documented Exchange path allows this traffic",
            flows_text(f.flows)
        ),
        Code::PathRejected => format!(
            "documented path {path_name} is refused on {port}: {} from {from} to {to} got a reset or an ICMP refusal",
            flows_text(f.flows)
        ),
        Code::PathUnanswered => format!(
            "documented path {path_name} gets no answer on {port}: {} from {from} to {to}, none answered",
            flows_text(f.flows)
        ),
        Code::ClearPort => {
            let alt = extra.and_then(|i| catalog.alternatives.get(i as usize));
            match alt {
                Some(a) => format!(
                    "{} on {port} from {from} to {to} is clear text unless upgraded in the session; the catalog documents {} on {}/{} for it ({})",
                    a.service,
                    a.service,
                    a.secure,
                    a.transport,
                    flows_text(f.flows)
                ),
                None => format!("clear-text port {port} from {from} to {to}"),
            }
        }
        Code::LegacyProtocol => {
            let gens = path.map_or(String::new(), |p| {
                catalog
                    .list_of(p)
                    .generations
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            });
            let name = path.map_or(String::new(), |p| p.name.clone());
            format!(
                "{port} ({name}) is documented only for Exchange {gens}, which this site does not run: {} from {from} to {to}",
                flows_text(f.flows)
            )
        }
        Code::InternetExposure => format!(
            "{} on the internet reached {to} on {port}; no documented path opens this role to the internet ({})",
            hosts(&f.sources),
            flows_text(f.flows)
        ),
        Code::SmtpWithoutTls => format!(
            "SMTP on {port} from {from} to {to} never started TLS (no STARTTLS or X-ANONYMOUSTLS completed){documented} ({})",
            flows_text(f.flows)
        ),
        Code::UnencryptedPath => format!(
            "{} ran in clear text on {port} from {from} to {to}{documented} ({})",
            service_text(extra),
            flows_text(f.flows)
        ),
        Code::StarttlsNotUsed => format!(
            "{to} offered STARTTLS on {port} and {from} carried on in clear text ({})",
            flows_text(f.flows)
        ),
        Code::StarttlsStripped => format!(
            "the STARTTLS offer of {to} on {port} reached {from} masked: a device between them rewrote it, so the session could not be encrypted ({})",
            flows_text(f.flows)
        ),
        Code::StarttlsRefused => format!(
            "{to} on {port} refused STARTTLS from {from} ({})",
            flows_text(f.flows)
        ),
        Code::TlsOldVersion => format!(
            "TLS 1.1 or older (TLS 1.0, SSL 3) between {from} and {to} on {port} ({})",
            flows_text(f.flows)
        ),
        Code::TlsWeakCipher => format!(
            "a weak cipher suite (NULL, anonymous, export, RC4, DES or 3DES) between {from} and {to} on {port} ({})",
            flows_text(f.flows)
        ),
        Code::CertSelfSigned => format!(
            "{to} on {port} presents a self-signed certificate to {from}, on a path that faces the internet ({})",
            flows_text(f.flows)
        ),
        Code::CertExpired => format!(
            "{to} on {port} presents a certificate that had expired (or was not yet valid) to {from} ({})",
            flows_text(f.flows)
        ),
        Code::TlsHandshakeFailed => format!(
            "TLS handshakes from {from} to {to} on {port} ended in an alert ({})",
            flows_text(f.flows)
        ),
        Code::RpcWithoutPrivacy => format!(
            "RPC from {from} to {to} on {port} bound below packet privacy, so it is not encrypted{documented_rpc} ({})",
            flows_text(f.flows)
        ),
        Code::ClearCredentials => format!(
            "a password or token crossed the network in clear text from {from} to {to} on {port} ({}); treat those credentials as exposed",
            flows_text(f.flows)
        ),
        Code::NtlmV1 => format!(
            "NTLMv1 authentication from {from} to {to} on {port} ({}); NTLMv1 responses can be cracked offline",
            flows_text(f.flows)
        ),
        Code::KerberosWeakEtype => format!(
            "Kerberos with RC4 or DES encryption between {from} and {to} on {port} ({})",
            flows_text(f.flows)
        ),
        Code::AnonymousAccess => format!(
            "anonymous access from {from} to {to} on {port}{documented_auth} ({})",
            flows_text(f.flows)
        ),
        Code::ProtocolMismatch => format!(
            "{} on {port} from {from} to {to}, where {} ({})",
            service_text(extra.map(|x| x >> 8)),
            match extra
                .map(|x| x & 0xff)
                .and_then(crate::inspect::Service::from_index)
            {
                Some(e) => format!("the catalog documents {} for this port", e.title()),
                None => "no documented path uses this port".to_owned(),
            },
            flows_text(f.flows)
        ),
        Code::DynamicPortBlocked => format!(
            "the endpoint mapper handed out {port} on {to} for {}, and {} from {from} to it got no answer or a refusal: a firewall lets 135 through but not the dynamic RPC ports",
            if path_name.is_empty() {
                "RPC".to_owned()
            } else {
                path_name.clone()
            },
            flows_text(f.flows)
        ),
        Code::RpcInterfaceMismatch => format!(
            "RPC from {from} to {to} on {port} bound another interface than the endpoint mapper handed the port out for ({})",
            flows_text(f.flows)
        ),
        Code::RtpWithoutSrtp => format!(
            "call media between {from} and {to} is plain RTP{} ({}); media is encrypted only when the UM dial plan is Secured",
            if path_name.is_empty() {
                ", where the call was signalled over TLS".to_owned()
            } else {
                format!(", where {path_name} documents SRTP")
            },
            flows_text(f.flows)
        ),
        Code::PortScan => {
            let t = f.transport.map_or("tcp/udp", Transport::as_str);
            let ports: Vec<String> = f.ports.iter().map(u16::to_string).collect();
            let more = if f.ports_more > 0 {
                format!(" and {} more", f.ports_more)
            } else {
                String::new()
            };
            format!(
                "{from} probed {to}: {} undocumented connections on {} {t} ports ({}{more})",
                f.flows,
                f.ports.len() as u64 + f.ports_more,
                ports.join(", ")
            )
        }
    }
}

/// The service a finding's `extra` names (its index), for messages.
fn service_text(extra: Option<u32>) -> &'static str {
    extra
        .and_then(crate::inspect::Service::from_index)
        .map_or("the session", crate::inspect::Service::title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_words() {
        let words: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            words,
            [
                "undocumented-flow",
                "undocumented-attempt",
                "path-rejected",
                "path-unanswered",
                "clear-port",
                "legacy-protocol",
                "internet-exposure",
                "port-scan",
                "smtp-without-tls",
                "unencrypted-path",
                "starttls-not-used",
                "starttls-stripped",
                "starttls-refused",
                "tls-old-version",
                "tls-weak-cipher",
                "cert-self-signed",
                "cert-expired",
                "tls-handshake-failed",
                "rpc-without-privacy",
                "clear-credentials",
                "ntlmv1",
                "kerberos-weak-etype",
                "anonymous-access",
                "protocol-mismatch",
                "dynamic-port-blocked",
                "rpc-interface-mismatch",
                "rtp-without-srtp"
            ]
        );
    }
}
