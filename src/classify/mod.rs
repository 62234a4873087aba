//! Joins a finished flow with the catalog and the site into a verdict: the documented path it
//! follows (or none), the roles of both ends, whether the path worked, and the findings it
//! raises. [`Classifier::classify`] is pure: no I/O, no clock, the same flow always gives the
//! same answer. [`Aggregator`] gathers the findings of many flows into few, and counts
//! coverage per path.

mod finding;
mod verdict;

pub use finding::{Aggregator, Code, Coverage, CoverageStatus, Finding, Severity};
pub use verdict::{Classification, Reachability, Verdict, reachability};

use crate::catalog::{Candidate, Catalog, PortMatch, Role, RoleSet, Transport};
use crate::flow::{FlowRecord, Kind};
use crate::site::Site;

/// The most candidate paths one flow's port can meet that are weighed; more are counted.
const MAX_CANDIDATES: usize = 48;

/// The catalog and the site, with what is precomputed from them once per run.
#[derive(Debug)]
pub struct Classifier<'a> {
    pub catalog: &'a Catalog,
    pub site: Option<&'a Site>,
    /// Roles that a documented path opens to the internet (paths whose `from` names it), with
    /// every Exchange server role where such a path goes to `exchange`.
    exposed: RoleSet,
}

impl<'a> Classifier<'a> {
    pub fn new(catalog: &'a Catalog, site: Option<&'a Site>) -> Classifier<'a> {
        let mut exposed = RoleSet::EMPTY;
        for p in &catalog.paths {
            if p.from.contains(Role::Internet) && generation_applies(catalog, site, p.list) {
                exposed = exposed.union(p.to);
            }
        }
        Classifier {
            catalog,
            site,
            exposed: exposed.with_implied_targets(),
        }
    }

    /// The verdict for one finished flow.
    pub fn classify(&self, rec: &FlowRecord) -> Classification {
        let reach = reachability(rec);
        let roles = self.site.map(|s| {
            (
                s.roles_of(rec.orig.0).with_implied(),
                s.roles_of(rec.resp.0).with_implied(),
            )
        });
        let mut c = Classification::default();
        c.roles = roles;
        c.reachability = reach;
        let transport = match rec.kind {
            Kind::Tcp => Transport::Tcp,
            Kind::Udp => Transport::Udp,
            Kind::Icmp { .. } | Kind::Other => return c,
        };
        let port = rec.resp.1;
        let rpc = self.site.is_some_and(|s| s.is_rpc_port(port));
        let media = self.site.is_some();
        let mut cands = [Candidate {
            path: 0,
            how: PortMatch::Exact,
            width: 0,
        }; MAX_CANDIDATES];
        let mut n = 0;
        self.catalog
            .candidates(transport, port, rpc, media, |cand| {
                if n < MAX_CANDIDATES {
                    cands[n] = cand;
                    n += 1;
                }
            });
        // Already most specific first: the index is ranked at load.
        let cands = &cands[..n];
        let gen_ok = |cand: &Candidate| {
            generation_applies(self.catalog, self.site, self.catalog.path(cand.path).list)
        };
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
        self.findings(rec, transport, cands, &mut c);
        c
    }

    /// Whether a candidate's roles admit the flow's ends. A path from `client` admits clients
    /// on the internet too (Outlook Web App, ActiveSync and POP3 users are often outside); RTP
    /// media is admitted in either direction, because either side may send first.
    fn roles_fit(&self, cand: &Candidate, src: RoleSet, dst: RoleSet) -> bool {
        let p = self.catalog.path(cand.path);
        let from_ok = |from: RoleSet, s: RoleSet| {
            from.admits(s) || (from.contains(Role::Client) && s.contains(Role::Internet))
        };
        if from_ok(p.from, src) && p.to.admits(dst) {
            return true;
        }
        cand.how == PortMatch::Inferred
            && p.ports
                .iter()
                .any(|e| e.spec == crate::catalog::PortSpec::RtpMedia)
            && from_ok(p.from, dst)
            && p.to.admits(src)
    }

    fn findings(
        &self,
        rec: &FlowRecord,
        transport: Transport,
        cands: &[Candidate],
        c: &mut Classification,
    ) {
        let reach = c.reachability;
        let answered = rec.resp_counts.pkts > 0;
        let on_path = matches!(c.verdict, Verdict::Documented | Verdict::PortOnly);
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
        if on_path
            && matches!(reach, Reachability::Ok | Reachability::Partial)
            && let Some(pi) = c.path
            && c.how != Some(PortMatch::Inferred)
            && !self.catalog.path(pi).is_tls_port(transport, rec.resp.1)
            && let Some(ai) = self.catalog.alternative(transport, rec.resp.1)
        {
            c.findings.insert(Code::ClearPort);
            c.alternative = Some(ai);
        }
        // A port that only older generations document, where this site runs none of them
        // (without a site file: a port that only older generations document at all).
        let current = |cand: &Candidate| {
            let list = self.catalog.path(cand.path).list;
            match self.site {
                Some(_) => generation_applies(self.catalog, self.site, list),
                None => !self.catalog.lists[list as usize]
                    .generations
                    .iter()
                    .all(|g| g.is_legacy()),
            }
        };
        let mut specific = cands.iter().filter(|cand| !is_wildcard(cand)).peekable();
        if matches!(
            c.verdict,
            Verdict::Undocumented | Verdict::Unknown | Verdict::PortOnly
        ) && let Some(first) = specific.peek().map(|cand| cand.path)
            && !specific.any(current)
        {
            c.findings.insert(Code::LegacyProtocol);
            c.legacy_path = Some(first);
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
