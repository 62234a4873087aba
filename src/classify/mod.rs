//! Joins a finished flow with the catalog and the site into a verdict: the documented path it
//! follows (or none), the roles of both ends, whether the path worked, and the findings it
//! raises. [`Classifier::classify`] is pure: no I/O, no clock, the same flow always gives the
//! same answer. [`Aggregator`] gathers the findings of many flows into few, and counts
//! coverage per path.

mod evidence;
mod finding;
mod verdict;

pub use evidence::expected_service;
pub use finding::{Aggregator, Code, Coverage, CoverageStatus, Finding, Severity};
pub use verdict::{Classification, Learned, MAX_ALSO, Reachability, Verdict, reachability};

use std::cell::RefCell;
use std::collections::HashMap;

use crate::catalog::{Candidate, Candidates, Catalog, PortMatch, Role, RoleSet, Transport};
use std::net::IpAddr;

use crate::expect::{Attribution, What};
use crate::flow::{FlowRecord, Kind};
use crate::inspect::epm::IfId;
use crate::site::Site;

/// The catalog and the site, with what is precomputed from them once per run.
#[derive(Debug)]
pub struct Classifier<'a> {
    pub catalog: &'a Catalog,
    pub site: Option<&'a Site>,
    /// Roles that a documented path opens to the internet (paths whose `from` names it), with
    /// every Exchange server role where such a path goes to `exchange`.
    exposed: RoleSet,
    /// By path index: the roles at the path's ends, and whether it carries RTP media, kept
    /// together and small because every candidate of every flow reads them.
    ends: Vec<(RoleSet, RoleSet, bool)>,
    /// By path index: the path's list applies to the site's generations.
    applies: Vec<bool>,
    /// By path index: the path is current — its list applies to the site's generations, or,
    /// without a site file, names a generation that is not legacy.
    current: Vec<bool>,
    /// Choices already made, by port segment, symbolic endpoints and roles: a capture repeats
    /// the same few server ports between the same few roles, so most flows skip the candidate
    /// walk. Bounded; emptied when full.
    memo: RefCell<HashMap<ChoiceKey, Classification, foldhash::fast::FixedState>>,
}

/// Most remembered choices before the memo starts over.
const MEMO_ENTRIES: usize = 4096;

/// What a choice depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ChoiceKey {
    segment: u32,
    rpc: bool,
    media: bool,
    roles: Option<(RoleSet, RoleSet)>,
}

impl<'a> Classifier<'a> {
    pub fn new(catalog: &'a Catalog, site: Option<&'a Site>) -> Classifier<'a> {
        let mut exposed = RoleSet::EMPTY;
        for p in &catalog.paths {
            if p.from.contains(Role::Internet) && generation_applies(catalog, site, p.list) {
                exposed = exposed.union(p.to);
            }
        }
        let applies = catalog
            .paths
            .iter()
            .map(|p| generation_applies(catalog, site, p.list))
            .collect();
        let current = catalog
            .paths
            .iter()
            .map(|p| match site {
                Some(_) => generation_applies(catalog, site, p.list),
                None => !catalog.lists[p.list as usize]
                    .generations
                    .iter()
                    .all(|g| g.is_legacy()),
            })
            .collect();
        let ends = catalog
            .paths
            .iter()
            .map(|p| {
                let media = p
                    .ports
                    .iter()
                    .any(|e| e.spec == crate::catalog::PortSpec::RtpMedia);
                (p.from, p.to, media)
            })
            .collect();
        Classifier {
            catalog,
            site,
            exposed: exposed.with_implied_targets(),
            ends,
            applies,
            current,
            memo: RefCell::default(),
        }
    }

    /// The roles the site gives the flow's originator and responder (`None` without a site).
    fn roles(&self, rec: &FlowRecord) -> Option<(RoleSet, RoleSet)> {
        self.site.map(|s| {
            (
                s.roles_of(rec.orig.0).with_implied(),
                s.roles_of(rec.resp.0).with_implied(),
            )
        })
    }

    /// The verdict for one finished flow.
    pub fn classify(&self, rec: &FlowRecord) -> Classification {
        let reach = reachability(rec);
        let roles = self.roles(rec);
        let transport = match rec.kind {
            Kind::Tcp => Transport::Tcp,
            Kind::Udp => Transport::Udp,
            Kind::Icmp { .. } | Kind::Other => {
                let mut c = Classification::default();
                c.roles = roles;
                c.reachability = reach;
                return c;
            }
        };
        let port = rec.resp.1;
        let rpc = self.site.is_some_and(|s| s.is_rpc_port(port));
        let media = self.site.is_some();
        let cands = self.catalog.candidates(transport, port, rpc, media);
        let key = ChoiceKey {
            segment: cands.segment,
            rpc: !cands.symbolic.is_empty(),
            media: !cands.media.is_empty(),
            roles,
        };
        let mut c = match self.memo.try_borrow_mut() {
            Ok(mut memo) => {
                if let Some(c) = memo.get(&key) {
                    c.clone()
                } else {
                    let c = self.choose(cands, roles, transport, port);
                    if memo.len() >= MEMO_ENTRIES {
                        memo.clear();
                    }
                    memo.insert(key, c.clone());
                    c
                }
            }
            Err(_) => self.choose(cands, roles, transport, port),
        };
        c.reachability = reach;
        self.findings(rec, &mut c);
        c
    }

    /// The verdict for one finished flow, with what the capture taught about it: the endpoint
    /// it went to was learned (`learned`), and/or a DCE/RPC bind on the flow named the
    /// interface (`bound`). A learned endpoint is classified as the catalog's dynamic-RPC (or
    /// media) path for what was learned, matched `learned`; a bind alone picks, among the
    /// dynamic-RPC paths that an inferred match allows, the one that serves its interface.
    pub fn classify_with(
        &self,
        rec: &FlowRecord,
        learned: Option<&Attribution>,
        bound: Option<IfId>,
    ) -> Classification {
        let Some(a) = learned else {
            let mut c = self.classify(rec);
            if rec.kind == Kind::Tcp
                && let Some(b) = bound
            {
                c.rpc_interface = Some(b);
                if c.how == Some(PortMatch::Inferred) {
                    let mut d = self.classify_rpc(rec, b.name(), PortMatch::Inferred);
                    d.rpc_interface = Some(b);
                    return d;
                }
            }
            return c;
        };
        let mut expected = None;
        let mut header = None;
        let mut c = match a.what {
            What::Rpc { .. } => {
                let first = a.interfaces().next();
                let shown = bound.or(first);
                let mut c =
                    self.classify_rpc(rec, shown.and_then(|i| i.name()), PortMatch::Learned);
                c.rpc_interface = shown;
                if let Some(b) = bound
                    && first.is_some()
                    && !a.interfaces().any(|i| same_process(i, b))
                {
                    c.findings.insert(Code::RpcInterfaceMismatch);
                    expected = first;
                }
                if c.reachability.failed() {
                    c.findings.remove(Code::PathRejected);
                    c.findings.remove(Code::PathUnanswered);
                    c.findings.insert(Code::DynamicPortBlocked);
                }
                c
            }
            What::Media {
                srtp,
                signalling_tls,
                announcer,
                ..
            } => {
                let mut c = self.classify_media(rec, (a.key.ip, announcer), a.peer);
                // One-way media is ordinary (a greeting played, a call on hold).
                c.findings.remove(Code::PathUnanswered);
                let srtp_documented = c
                    .path
                    .filter(|_| matches!(c.verdict, Verdict::Documented | Verdict::PortOnly))
                    .is_some_and(|p| {
                        self.catalog
                            .path(p)
                            .encryption
                            .contains(crate::catalog::Encryption::Srtp)
                    });
                if !srtp && (signalling_tls || srtp_documented) {
                    c.findings.insert(Code::RtpWithoutSrtp);
                }
                // Media is confirmed by its first datagram's header (either direction).
                header = [rec.orig_payload.bytes(), rec.resp_payload.bytes()]
                    .into_iter()
                    .find(|b| !b.is_empty())
                    .map(crate::inspect::rtp::header);
                c
            }
        };
        c.learned = Some(Learned {
            what: a.what,
            from: a.from,
            expected,
            header,
        });
        c
    }

    /// A flow to a dynamic RPC endpoint, among the catalog's dynamic-RPC paths: those that
    /// serve `interface` first, then those that name no interface. Without an interface, all.
    fn classify_rpc(
        &self,
        rec: &FlowRecord,
        interface: Option<&str>,
        how: PortMatch,
    ) -> Classification {
        let port = rec.resp.1;
        let all = self
            .catalog
            .candidates(Transport::Tcp, port, true, false)
            .symbolic;
        let with = |cand: &Candidate| Candidate { how, ..*cand };
        let ranked: Vec<Candidate> = match interface {
            Some(name) => {
                let serves =
                    |cand: &&Candidate| self.catalog.path(cand.path).rpc_interfaces.contains(&name);
                let generic =
                    |cand: &&Candidate| self.catalog.path(cand.path).rpc_interfaces.is_empty();
                all.iter()
                    .filter(serves)
                    .chain(all.iter().filter(generic))
                    .map(with)
                    .collect()
            }
            None => all.iter().map(with).collect(),
        };
        self.classify_among(rec, self.roles(rec), &ranked, Transport::Tcp)
    }

    /// A UDP flow to a learned media endpoint, among the catalog's RTP media paths. The media
    /// address belongs to whoever announced it in SDP: where the site file does not list it
    /// (a gateway's media processor), it takes the announcer's roles.
    fn classify_media(
        &self,
        rec: &FlowRecord,
        learned: (IpAddr, IpAddr),
        peer: Option<(IpAddr, IpAddr)>,
    ) -> Classification {
        let port = rec.resp.1;
        let ranked: Vec<Candidate> = self
            .catalog
            .candidates(Transport::Udp, port, false, true)
            .media
            .iter()
            .map(|cand| Candidate {
                how: PortMatch::Learned,
                ..*cand
            })
            .collect();
        let roles = self.site.map(|s| {
            let of = |ip: IpAddr| {
                let ip = match (s.listed(ip), peer) {
                    (Some(_), _) => ip,
                    (None, _) if ip == learned.0 => learned.1,
                    (None, Some((p, announcer))) if ip == p => announcer,
                    (None, _) => ip,
                };
                s.roles_of(ip).with_implied()
            };
            (of(rec.orig.0), of(rec.resp.0))
        });
        self.classify_among(rec, roles, &ranked, Transport::Udp)
    }

    /// [`choose`](Self::choose) over candidates ranked by the caller, then the findings.
    fn classify_among(
        &self,
        rec: &FlowRecord,
        roles: Option<(RoleSet, RoleSet)>,
        ranked: &[Candidate],
        transport: Transport,
    ) -> Classification {
        let cands = Candidates {
            segment: u32::MAX,
            by_port: ranked,
            symbolic: &[],
            media: &[],
        };
        let mut c = self.choose(cands, roles, transport, rec.resp.1);
        c.reachability = reachability(rec);
        self.findings(rec, &mut c);
        c
    }

    /// What the port and the roles alone decide: the path, the other matches, the verdict, and
    /// the parts of the findings that do not depend on how the flow went (`alternative` and
    /// `legacy_path` are set where clear-port and legacy-protocol would apply). The same inputs
    /// always give the same choice, which is why `classify` can remember it.
    fn choose(
        &self,
        cands: Candidates<'_>,
        roles: Option<(RoleSet, RoleSet)>,
        transport: Transport,
        port: u16,
    ) -> Classification {
        let mut c = Classification::default();
        c.roles = roles;
        let gen_ok = |cand: &Candidate| self.applies[cand.path as usize];
        // A path open on every port ("any port, any protocol") says nothing about a port: it
        // counts only where the roles of both ends are known.
        let by_port = |cand: &&Candidate| !is_wildcard(cand);
        match roles {
            None => {
                c.verdict = if cands.is_empty() {
                    Verdict::Unknown
                } else {
                    Verdict::PortOnly
                };
                c.set_paths(cands.iter().filter(by_port));
                if c.path.is_none() {
                    c.verdict = Verdict::Unknown;
                }
            }
            Some((src, dst)) => {
                let known = !src.is_empty() && !dst.is_empty();
                let documented = if known {
                    c.set_paths(
                        cands
                            .iter()
                            .filter(|cand| gen_ok(cand) && self.roles_fit(cand, src, dst)),
                    )
                } else {
                    0
                };
                c.verdict = if documented > 0 {
                    Verdict::Documented
                } else if known {
                    Verdict::Undocumented
                } else if c.set_paths(cands.iter().filter(by_port).filter(|cand| gen_ok(cand))) > 0
                {
                    Verdict::PortOnly
                } else {
                    Verdict::Unknown
                };
            }
        }
        let on_path = matches!(c.verdict, Verdict::Documented | Verdict::PortOnly);
        if on_path
            && let Some(pi) = c.path
            && !matches!(c.how, Some(PortMatch::Inferred | PortMatch::Learned))
            && !self.catalog.path(pi).is_tls_port(transport, port)
        {
            c.alternative = self.catalog.alternative(transport, port);
        }
        // A port that only older generations document, where this site runs none of them
        // (without a site file: a port that only older generations document at all).
        let current = |cand: &Candidate| self.current[cand.path as usize];
        let mut specific = cands.iter().filter(|cand| !is_wildcard(cand)).peekable();
        if matches!(
            c.verdict,
            Verdict::Undocumented | Verdict::Unknown | Verdict::PortOnly
        ) && let Some(first) = specific.peek().map(|cand| cand.path)
            && !specific.any(current)
        {
            c.legacy_path = Some(first);
        }
        c
    }

    /// Whether a candidate's roles admit the flow's ends. A path from `client` admits clients
    /// on the internet too (Outlook Web App, ActiveSync and POP3 users are often outside); RTP
    /// media is admitted in either direction, because either side may send first.
    fn roles_fit(&self, cand: &Candidate, src: RoleSet, dst: RoleSet) -> bool {
        let Some(&(from, to, media)) = self.ends.get(cand.path as usize) else {
            return false;
        };
        let from_ok = |from: RoleSet, s: RoleSet| {
            from.admits(s) || (from.contains(Role::Client) && s.contains(Role::Internet))
        };
        if from_ok(from, src) && to.admits(dst) {
            return true;
        }
        matches!(cand.how, PortMatch::Inferred | PortMatch::Learned)
            && media
            && from_ok(from, dst)
            && to.admits(src)
    }

    /// The findings of one flow, from its choice and how the flow went.
    fn findings(&self, rec: &FlowRecord, c: &mut Classification) {
        let reach = c.reachability;
        let answered = rec.resp_counts.pkts > 0;
        match (c.verdict, reach) {
            (Verdict::Documented | Verdict::PortOnly, Reachability::Rejected) => {
                c.findings.insert(Code::PathRejected);
            }
            (Verdict::Documented | Verdict::PortOnly, Reachability::Unanswered) => {
                c.findings.insert(Code::PathUnanswered);
            }
            _ => {}
        }
        if c.verdict == Verdict::Undocumented {
            let (src, dst) = c.roles.unwrap_or_default();
            let from_internet = src.contains(Role::Internet) && !dst.contains(Role::Internet);
            if from_internet && answered && !dst.intersects(self.exposed) {
                c.findings.insert(Code::InternetExposure);
            } else if matches!(reach, Reachability::Ok | Reachability::Partial) {
                c.findings.insert(Code::UndocumentedFlow);
            } else {
                c.findings.insert(Code::UndocumentedAttempt);
            }
        }
        if c.alternative.is_some() && matches!(reach, Reachability::Ok | Reachability::Partial) {
            c.findings.insert(Code::ClearPort);
        } else {
            c.alternative = None;
        }
        if c.legacy_path.is_some() {
            c.findings.insert(Code::LegacyProtocol);
            // The legacy finding says more than "undocumented" about the same flow.
            c.findings.remove(Code::UndocumentedFlow);
        }
    }
}

impl RoleSet {
    /// For the exposure test: a path open to the internet towards `exchange` opens every
    /// Exchange server role.
    fn with_implied_targets(self) -> RoleSet {
        if self.contains(Role::Exchange) {
            self.union(RoleSet::exchange_servers())
        } else {
            self
        }
    }
}

/// Whether two interfaces are served by the same Exchange process, so that a flow binding one
/// on a port learned for the other is no disagreement: the store's EMSMDB and AsyncEMSMDB
/// (MS-OXCRPC), the address book's NSPI and RFR (MS-OXNSPI, MS-OXABREF).
fn same_process(a: IfId, b: IfId) -> bool {
    let family = |i: IfId| match i.name() {
        Some("emsmdb" | "asyncemsmdb") => Some("store"),
        Some("nspi" | "rfr") => Some("address book"),
        other => other,
    };
    a.uuid == b.uuid || family(a).is_some_and(|f| family(b) == Some(f))
}

/// Whether a list's generations apply to the site (always, without a site file).
fn generation_applies(catalog: &Catalog, site: Option<&Site>, list: u32) -> bool {
    let gens = catalog.lists[list as usize].generations;
    match site {
        None => true,
        Some(s) => gens.contains(crate::catalog::Generation::Any) || gens.intersects(s.generations),
    }
}

/// A match through an "any port" entry.
fn is_wildcard(cand: &Candidate) -> bool {
    cand.width > u32::from(u16::MAX) - 1 && cand.how == PortMatch::Range
}

#[cfg(test)]
mod tests;
