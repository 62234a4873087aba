//! The site file: which addresses and networks play which Exchange role, which generations the
//! organisation runs, and its RPC ports. Parsed once at start-up; looking up an address costs
//! one hash probe per distinct prefix length. The format is described in `docs/site.md`.

use std::collections::{BTreeMap, HashMap};

/// Address maps are looked up twice per flow: a fast fixed hash, not SipHash.
type Map<K> = HashMap<K, RoleSet, foldhash::fast::FixedState>;
use std::net::IpAddr;

use serde::Deserialize;
use toml::Spanned;

use crate::catalog::load::Here;
use crate::catalog::{Generation, GenerationSet, Role, RoleSet, RulesError};
use crate::text::echo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    site: Spanned<RawHeader>,
    rpc: Option<RawRpc>,
    #[serde(default)]
    roles: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    #[serde(default)]
    name: String,
    generations: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRpc {
    dynamic: Option<Spanned<String>>,
    #[serde(rename = "static", default)]
    static_ports: Vec<Spanned<i64>>,
}

/// The Windows dynamic RPC range since Windows Server 2008.
pub const DEFAULT_RPC_DYNAMIC: (u16, u16) = (49152, 65535);

/// The range before Windows Server 2008, where Exchange 5.x, 2000 and 2003 run: 1025-65535
/// (seed 001:764).
pub const LEGACY_RPC_DYNAMIC: (u16, u16) = (1025, 65535);

/// A parsed site file.
#[derive(Debug, Clone)]
pub struct Site {
    pub file: String,
    pub name: String,
    pub generations: GenerationSet,
    /// Inclusive range of the servers' dynamic RPC ports.
    pub rpc_dynamic: (u16, u16),
    /// Static RPC ports (RPC Client Access, Address Book …).
    pub rpc_static: Vec<u16>,
    /// Roles that at least one entry assigns.
    pub present: RoleSet,
    /// Whether the file lists internet prefixes; if not, every address it does not list is on
    /// the internet.
    pub internet_listed: bool,
    /// Number of addresses and prefixes listed, over all roles.
    pub entries: usize,
    /// Entries per role, in role order, for `site check`.
    pub per_role: Vec<(Role, usize)>,
    v4: Vec<(u8, Map<u32>)>,
    v6: Vec<(u8, Map<u128>)>,
}

impl Site {
    /// Reads and validates a site file.
    pub fn load(path: &std::path::Path) -> Result<Site, RulesError> {
        let text = crate::catalog::read_text(path, "site file")?;
        Self::parse(&crate::text::path(path), &text)
    }

    /// Validates site-file text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Site, RulesError> {
        let here = Here::new(file, text);
        let err = |offset: usize, problem: String| here.err(offset, problem);
        let raw: RawSite = here.parse_toml()?;
        let header_at = raw.site.span().start;
        let header = raw.site.into_inner();
        let mut generations = GenerationSet::EMPTY;
        for g in header.generations.get_ref() {
            let v = Generation::parse(g.get_ref())
                .filter(|v| *v != Generation::Any)
                .ok_or_else(|| {
                    err(
                        g.span().start,
                        format!(
                            "unknown generation {} (known: 5.x, 2000, 2003, 2010, 2013, 2016, 2019)",
                            echo(g.get_ref())
                        ),
                    )
                })?;
            generations = generations.with(v);
        }
        if generations.is_empty() {
            return Err(err(
                header_at,
                "[site] generations names no Exchange generation".to_owned(),
            ));
        }
        // Without an explicit range: the one of the oldest Windows the site's generations run on.
        let mut rpc_dynamic = if generations.iter().any(|g| g.is_legacy()) {
            LEGACY_RPC_DYNAMIC
        } else {
            DEFAULT_RPC_DYNAMIC
        };
        let mut rpc_static = Vec::new();
        if let Some(rpc) = raw.rpc {
            if let Some(d) = rpc.dynamic {
                rpc_dynamic = parse_range(d.get_ref())
                    .map_err(|p| err(d.span().start, format!("[rpc] dynamic: {p}")))?;
            }
            for p in rpc.static_ports {
                let n = *p.get_ref();
                match u16::try_from(n) {
                    Ok(v) if v > 0 => rpc_static.push(v),
                    _ => {
                        return Err(err(
                            p.span().start,
                            format!("[rpc] static: port {n} is out of range (1-65535)"),
                        ));
                    }
                }
            }
        }
        let mut v4: BTreeMap<u8, Map<u32>> = BTreeMap::new();
        let mut v6: BTreeMap<u8, Map<u128>> = BTreeMap::new();
        let mut present = RoleSet::EMPTY;
        let mut internet_listed = false;
        let mut entries = 0;
        let mut per_role = Vec::new();
        for (key, list) in raw.roles {
            let role = Role::parse(key.get_ref())
                .filter(|r| !matches!(r, Role::Any | Role::Loopback))
                .ok_or_else(|| {
                    err(
                        key.span().start,
                        format!(
                            "unknown role {} (known: hub, edge, mailbox, cas, um, dc, dns, adrms, ippbx, ocs, client, internet, exchange)",
                            echo(key.get_ref())
                        ),
                    )
                })?;
            if role == Role::Internet {
                internet_listed = true;
            }
            let list = list.into_inner();
            per_role.push((role, list.len()));
            if !list.is_empty() {
                present = present.with(role);
            }
            for a in list {
                let (addr, len) = parse_prefix(a.get_ref())
                    .map_err(|p| err(a.span().start, format!("role {role}: {p}")))?;
                entries += 1;
                match addr {
                    IpAddr::V4(v) => {
                        let e = v4
                            .entry(len)
                            .or_default()
                            .entry(mask4(v.into(), len))
                            .or_default();
                        *e = e.with(role);
                    }
                    IpAddr::V6(v) => {
                        let e = v6
                            .entry(len)
                            .or_default()
                            .entry(mask6(v.into(), len))
                            .or_default();
                        *e = e.with(role);
                    }
                }
            }
        }
        per_role.sort_by_key(|(r, _)| *r);
        Ok(Site {
            file: file.to_owned(),
            name: header.name,
            generations,
            rpc_dynamic,
            rpc_static,
            present,
            internet_listed,
            entries,
            per_role,
            v4: v4.into_iter().rev().collect(),
            v6: v6.into_iter().rev().collect(),
        })
    }

    /// The roles of an address: those of the longest listed prefix that holds it; otherwise
    /// `loopback` for loopback addresses, `internet` when the file lists no internet prefixes,
    /// and no role at all (unknown) when it does.
    pub fn roles_of(&self, ip: IpAddr) -> RoleSet {
        match self.listed(ip) {
            Some(r) => r,
            None if ip.is_loopback() => RoleSet::EMPTY.with(Role::Loopback),
            None if self.internet_listed => RoleSet::EMPTY,
            None => RoleSet::EMPTY.with(Role::Internet),
        }
    }

    /// The roles the file gives an address by listing it (or a network holding it); `None`
    /// when it lists neither.
    pub fn listed(&self, ip: IpAddr) -> Option<RoleSet> {
        match ip {
            IpAddr::V4(v) => {
                let a = u32::from(v);
                self.v4
                    .iter()
                    .find_map(|(len, m)| m.get(&mask4(a, *len)).copied())
            }
            IpAddr::V6(v) => {
                let a = u128::from(v);
                self.v6
                    .iter()
                    .find_map(|(len, m)| m.get(&mask6(a, *len)).copied())
            }
        }
    }

    /// Whether a server port is one of the site's RPC ports (dynamic range or static).
    pub fn is_rpc_port(&self, port: u16) -> bool {
        (self.rpc_dynamic.0..=self.rpc_dynamic.1).contains(&port) || self.rpc_static.contains(&port)
    }
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

/// `10.1.0.10`, `10.1.20.0/24`, `2001:db8::/32`.
fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .trim()
        .parse()
        .map_err(|_| format!("{} is not an IPv4 or IPv6 address or prefix", echo(s)))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.trim().parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(format!("{}: prefix length must be 0 to {max}", echo(s)));
            }
        },
    };
    let host_bits_set = match addr {
        IpAddr::V4(v) => mask4(v.into(), len) != u32::from(v),
        IpAddr::V6(v) => mask6(v.into(), len) != u128::from(v),
    };
    if host_bits_set {
        return Err(format!(
            "{}: address has bits set beyond the /{len} prefix",
            echo(s)
        ));
    }
    Ok((addr, len))
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{} is not a port range like \"49152-65535\"", echo(s)))?;
    let p = |x: &str| match x.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => u16::try_from(n).map_err(|_| String::new()),
        _ => Err(format!(
            "{}: {} is not a port number (1-65535)",
            echo(s),
            echo(x)
        )),
    };
    let (lo, hi) = (p(a)?, p(b)?);
    if lo >= hi {
        return Err(format!(
            "{} is malformed (the low end must be below the high end)",
            echo(s)
        ));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = r#"
[site]
name = "test"
generations = ["2010"]

[rpc]
dynamic = "49152-65535"
static = [59532, 59533]

[roles]
hub = ["10.1.0.10", "10.1.0.11"]
mailbox = ["10.1.0.10"]
client = ["10.0.0.0/8", "2001:db8:20::/48"]
dc = ["2001:db8::2"]
"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_a_host_may_hold_several_roles() {
        let s = Site::parse("site.toml", SITE).unwrap();
        let multi = s.roles_of(ip("10.1.0.10"));
        assert!(multi.contains(Role::Hub) && multi.contains(Role::Mailbox));
        assert!(!multi.contains(Role::Client));
        assert_eq!(
            s.roles_of(ip("10.9.9.9")),
            RoleSet::EMPTY.with(Role::Client)
        );
        assert_eq!(
            s.roles_of(ip("2001:db8:20::5")),
            RoleSet::EMPTY.with(Role::Client)
        );
        assert_eq!(s.roles_of(ip("2001:db8::2")), RoleSet::EMPTY.with(Role::Dc));
        assert_eq!(
            s.roles_of(ip("8.8.8.8")),
            RoleSet::EMPTY.with(Role::Internet)
        );
        assert_eq!(
            s.roles_of(ip("127.0.0.1")),
            RoleSet::EMPTY.with(Role::Loopback)
        );
        assert!(s.is_rpc_port(59532) && s.is_rpc_port(50000) && !s.is_rpc_port(8080));
    }

    #[test]
    fn the_default_rpc_range_follows_the_windows_the_generations_run_on() {
        let site = |g: &str| {
            Site::parse(
                "site.toml",
                &format!("[site]\ngenerations = [{g}]\n\n[roles]\nhub = [\"10.0.0.1\"]\n"),
            )
            .unwrap()
        };
        let s = site("\"2010\"");
        assert_eq!(s.rpc_dynamic, (49152, 65535));
        assert!(!s.is_rpc_port(1025) && s.is_rpc_port(49152));
        let s = site("\"2003\", \"2010\"");
        assert_eq!(s.rpc_dynamic, (1025, 65535));
        assert!(s.is_rpc_port(1025) && !s.is_rpc_port(1024));
    }

    #[test]
    fn listed_internet_prefixes_leave_the_rest_unknown() {
        let text = format!("{SITE}internet = [\"0.0.0.0/1\"]\n");
        let s = Site::parse("site.toml", &text).unwrap();
        assert_eq!(
            s.roles_of(ip("100.1.1.1")),
            RoleSet::EMPTY.with(Role::Internet)
        );
        assert_eq!(s.roles_of(ip("200.1.1.1")), RoleSet::EMPTY);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let bad = |needle: &str, with: &str| {
            let text = SITE.replace(needle, with);
            Site::parse("site.toml", &text).unwrap_err().to_string()
        };
        assert_eq!(
            bad("hub = ", "hubtransport = "),
            "site.toml:11: unknown role \"hubtransport\" (known: hub, edge, mailbox, cas, um, dc, dns, adrms, ippbx, ocs, client, internet, exchange)"
        );
        assert_eq!(
            bad("10.0.0.0/8", "10.0.0.0/33"),
            "site.toml:13: role client: \"10.0.0.0/33\": prefix length must be 0 to 32"
        );
        assert_eq!(
            bad("10.0.0.0/8", "10.0.0.1/8"),
            "site.toml:13: role client: \"10.0.0.1/8\": address has bits set beyond the /8 prefix"
        );
        assert_eq!(
            bad("49152-65535", "65535-49152"),
            "site.toml:7: [rpc] dynamic: \"65535-49152\" is malformed (the low end must be below the high end)"
        );
        assert_eq!(
            bad("59533]", "70000]"),
            "site.toml:8: [rpc] static: port 70000 is out of range (1-65535)"
        );
        assert!(
            bad("name = \"test\"", "nmae = \"x\"").starts_with("site.toml:3: unknown field `nmae`")
        );
        assert_eq!(
            bad("\"2010\"", "\"2011\""),
            "site.toml:4: unknown generation \"2011\" (known: 5.x, 2000, 2003, 2010, 2013, 2016, 2019)"
        );
    }
}
