//! From TOML text to typed paths. `Raw*` structs mirror the file; every rule is checked once
//! here, and each error names the file, the line and the problem.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

use super::types::{
    Alternative, Auth, AuthSet, ByDefault, Encryption, EncryptionSet, Generation, GenerationSet,
    List, Path, PortEntry, PortSpec, Role, RoleSet, Transport,
};
use super::{Candidate, Catalog, PortMatch, RulesError};
use crate::text::echo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    list: Option<Spanned<RawList>>,
    #[serde(default)]
    path: Vec<Spanned<RawPath>>,
    #[serde(default)]
    alternative: Vec<Spanned<RawAlternative>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    id: Spanned<String>,
    title: String,
    generations: Vec<Spanned<String>>,
    #[serde(default)]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    id: Spanned<String>,
    name: String,
    from: Spanned<Vec<Spanned<String>>>,
    to: Spanned<Vec<Spanned<String>>>,
    ports: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    encryption: Vec<Spanned<String>>,
    #[serde(default)]
    encryption_text: String,
    encrypted_by_default: Spanned<String>,
    condition: Option<Spanned<String>>,
    #[serde(default)]
    auth_default: Vec<Spanned<String>>,
    #[serde(default)]
    auth_supported: Vec<Spanned<String>>,
    auth_text: Option<String>,
    #[serde(default)]
    tls_ports: Vec<Spanned<toml::Value>>,
    notes: Option<String>,
    source: Spanned<String>,
    rule_name: Option<String>,
    program: Option<String>,
    #[serde(default)]
    related: Vec<Spanned<String>>,
    duplicate_of: Option<Spanned<String>>,
    #[serde(default)]
    rpc_interfaces: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlternative {
    service: String,
    clear: Spanned<toml::Value>,
    secure: Spanned<toml::Value>,
    source: String,
    notes: Option<String>,
}

/// Where an error is: a file's name and text, to turn byte offsets into lines. Shared by the
/// rules and the site-file loaders.
pub(crate) struct Here<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
    /// Offset of every line feed in `text`, counted once: every path asks for its line, and a
    /// count from the start of the file each time would make loading quadratic in its size.
    newlines: Vec<usize>,
}

impl<'a> Here<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Self {
            file,
            text,
            newlines,
        }
    }

    /// The 1-based line of the byte at `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }

    pub(crate) fn err(&self, offset: usize, problem: impl Into<String>) -> RulesError {
        RulesError {
            file: self.file.to_owned(),
            line: self.line(offset),
            problem: problem.into(),
        }
    }
}

/// Collects files into a catalog, checking ids across them.
#[derive(Default)]
pub(super) struct Builder {
    cat: Catalog,
    /// Path id → (file, line) of its first definition.
    ids: HashMap<String, (String, usize)>,
    /// (file, line, path index, id) of every `related`/`duplicate_of` reference, checked at the end.
    refs: Vec<(String, usize, String)>,
}

impl Builder {
    pub(super) fn add_file(&mut self, file: &str, text: &str) -> Result<(), RulesError> {
        let here = Here::new(file, text);
        let raw: RawFile = here.parse_toml()?;
        let builtin = file.starts_with("rules/") && super::BUILTIN.iter().any(|(f, _)| *f == file);
        let list_idx = u32::try_from(self.cat.lists.len()).unwrap_or(u32::MAX);
        let Some(list) = raw.list else {
            if raw.path.is_empty() && !raw.alternative.is_empty() {
                return self.add_alternatives(&here, raw.alternative);
            }
            return Err(RulesError {
                file: file.to_owned(),
                line: 1,
                problem: "missing the [list] table (id, title, generations)".to_owned(),
            });
        };
        let list_line = here.line(list.span().start);
        let list = list.into_inner();
        let list_id = list.id.get_ref().trim().to_owned();
        if list_id.is_empty() {
            return Err(here.err(list.id.span().start, "list id is empty"));
        }
        if let Some(other) = self.cat.lists.iter().find(|l| l.id == list_id) {
            return Err(here.err(
                list.id.span().start,
                format!(
                    "duplicate list id {} (also in {})",
                    echo(&list_id),
                    other.file
                ),
            ));
        }
        let mut generations = GenerationSet::EMPTY;
        for g in &list.generations {
            let v = Generation::parse(g.get_ref()).ok_or_else(|| {
                here.err(
                    g.span().start,
                    format!(
                        "list {}: unknown generation {} (known: {})",
                        echo(&list_id),
                        echo(g.get_ref()),
                        Generation::known()
                    ),
                )
            })?;
            generations = generations.with(v);
        }
        if generations.is_empty() {
            return Err(RulesError {
                file: file.to_owned(),
                line: list_line,
                problem: format!("list {}: generations is empty", echo(&list_id)),
            });
        }
        self.cat.lists.push(List {
            id: list_id,
            title: list.title,
            generations,
            source: list.source,
            file: file.to_owned(),
            builtin,
        });
        for p in raw.path {
            let line = here.line(p.span().start);
            let path = parse_path(&here, line, list_idx, p.into_inner())?;
            if let Some((f, l)) = self.ids.get(&path.id) {
                return Err(RulesError {
                    file: file.to_owned(),
                    line,
                    problem: format!(
                        "path {}: duplicate id (first defined at {f}:{l})",
                        echo(&path.id)
                    ),
                });
            }
            self.ids.insert(path.id.clone(), (file.to_owned(), line));
            for r in path.related.iter().chain(path.duplicate_of.iter()) {
                self.refs.push((file.to_owned(), line, r.clone()));
            }
            self.cat.paths.push(path);
        }
        self.add_alternatives(&here, raw.alternative)
    }

    fn add_alternatives(
        &mut self,
        here: &Here<'_>,
        alts: Vec<Spanned<RawAlternative>>,
    ) -> Result<(), RulesError> {
        for a in alts {
            let a = a.into_inner();
            let clear = parse_port(here, "alternative", &a.clear)?;
            let secure = parse_port(here, "alternative", &a.secure)?;
            let (PortSpec::One(c), Some(ct)) = (clear.spec, clear.transport) else {
                return Err(here.err(
                    a.clear.span().start,
                    format!(
                        "alternative {}: clear must be one port, like \"389/tcp\"",
                        echo(&a.service)
                    ),
                ));
            };
            let (PortSpec::One(s), Some(st)) = (secure.spec, secure.transport) else {
                return Err(here.err(
                    a.secure.span().start,
                    format!(
                        "alternative {}: secure must be one port, like \"636/tcp\"",
                        echo(&a.service)
                    ),
                ));
            };
            if ct != st {
                return Err(here.err(
                    a.secure.span().start,
                    format!(
                        "alternative {}: clear and secure use different transports",
                        echo(&a.service)
                    ),
                ));
            }
            self.cat.alternatives.push(Alternative {
                service: a.service,
                transport: ct,
                clear: c,
                secure: s,
                source: a.source,
                notes: a.notes,
            });
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<Catalog, RulesError> {
        for (file, line, id) in &self.refs {
            if !self.ids.contains_key(id) {
                return Err(RulesError {
                    file: file.clone(),
                    line: *line,
                    problem: format!("refers to path {}, which no rules file defines", echo(id)),
                });
            }
        }
        self.cat.index = Index::build(&self.cat.paths, &self.cat.alternatives);
        Ok(self.cat)
    }
}

impl Here<'_> {
    /// Deserialises the text; a TOML or shape error becomes one line at its place.
    pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, RulesError> {
        toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.err(offset, toml_message(&e))
        })
    }
}

/// Characters of toml's own message kept: it may quote the offending value or key, and the file
/// and line already say where to look.
const MAX_TOML_MESSAGE_CHARS: usize = 160;

/// toml's message without its multi-line context: the first line, lower-cased like ours, cut
/// after [`MAX_TOML_MESSAGE_CHARS`].
fn toml_message(e: &toml::de::Error) -> String {
    let m = e
        .message()
        .lines()
        .next()
        .unwrap_or("not valid TOML")
        .trim();
    let m = m.trim_end_matches('.');
    let m = crate::text::cut(m, MAX_TOML_MESSAGE_CHARS);
    let mut c = m.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => "not valid TOML".to_owned(),
    }
}

fn parse_path(here: &Here<'_>, line: usize, list: u32, raw: RawPath) -> Result<Path, RulesError> {
    let id = raw.id.get_ref().trim().to_owned();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(here.err(
            raw.id.span().start,
            format!(
                "path id {} must be letters, digits, '.', '-' or '_'",
                echo(&id)
            ),
        ));
    }
    let what = format!("path {}", echo(&id));
    let from = roles(here, &what, "from", &raw.from)?;
    let to = roles(here, &what, "to", &raw.to)?;
    let mut ports = Vec::with_capacity(raw.ports.len());
    for p in &raw.ports {
        ports.push(parse_port(here, &what, p)?);
    }
    let mut tls_ports = Vec::with_capacity(raw.tls_ports.len());
    for p in &raw.tls_ports {
        let e = parse_port(here, &what, p)?;
        if !ports.contains(&e) {
            return Err(here.err(
                p.span().start,
                format!("{what}: tls port {e} is not one of the path's ports"),
            ));
        }
        tls_ports.push(e);
    }
    let mut encryption = EncryptionSet::EMPTY;
    for e in &raw.encryption {
        let v = Encryption::parse(e.get_ref()).ok_or_else(|| {
            here.err(
                e.span().start,
                format!(
                    "{what}: unknown encryption {} (known: {})",
                    echo(e.get_ref()),
                    Encryption::known()
                ),
            )
        })?;
        encryption = encryption.with(v);
    }
    let by_default = ByDefault::parse(raw.encrypted_by_default.get_ref()).ok_or_else(|| {
        here.err(
            raw.encrypted_by_default.span().start,
            format!(
                "{what}: encrypted_by_default {} is not one of {}",
                echo(raw.encrypted_by_default.get_ref()),
                ByDefault::known()
            ),
        )
    })?;
    match (&raw.condition, by_default) {
        (None, ByDefault::Conditional) => {
            return Err(here.err(
                raw.encrypted_by_default.span().start,
                format!(
                    "{what}: encrypted_by_default is \"conditional\" but no condition is given"
                ),
            ));
        }
        (Some(c), v) if v != ByDefault::Conditional => {
            return Err(here.err(
                c.span().start,
                format!("{what}: a condition is given but encrypted_by_default is \"{v}\""),
            ));
        }
        _ => {}
    }
    let auth_default = auths(here, &what, &raw.auth_default)?;
    let auth_supported = auths(here, &what, &raw.auth_supported)?;
    if raw.source.get_ref().trim().is_empty() {
        return Err(here.err(raw.source.span().start, format!("{what}: source is empty")));
    }
    let mut rpc_interfaces = Vec::new();
    for n in &raw.rpc_interfaces {
        let Some(i) = crate::inspect::dcerpc::interface_named(n.get_ref()) else {
            let known: Vec<&str> = crate::inspect::dcerpc::INTERFACES
                .iter()
                .map(|i| i.name)
                .collect();
            return Err(here.err(
                n.span().start,
                format!(
                    "{what}: unknown RPC interface {} (known: {})",
                    echo(n.get_ref()),
                    known.join(", ")
                ),
            ));
        };
        if !ports.iter().any(|e| e.spec == PortSpec::RpcDynamic) {
            return Err(here.err(
                n.span().start,
                format!("{what}: rpc_interfaces is given but no port is rpc-dynamic"),
            ));
        }
        if !rpc_interfaces.contains(&i.name) {
            rpc_interfaces.push(i.name);
        }
    }
    Ok(Path {
        id,
        name: raw.name,
        list,
        from,
        to,
        ports,
        tls_ports,
        encryption,
        encryption_text: raw.encryption_text,
        encrypted_by_default: by_default,
        condition: raw.condition.map(Spanned::into_inner),
        auth_default,
        auth_supported,
        auth_text: raw.auth_text,
        notes: raw.notes,
        source: raw.source.into_inner(),
        rule_name: raw.rule_name,
        program: raw.program,
        related: raw.related.into_iter().map(Spanned::into_inner).collect(),
        duplicate_of: raw.duplicate_of.map(Spanned::into_inner),
        rpc_interfaces,
        line,
    })
}

fn roles(
    here: &Here<'_>,
    what: &str,
    key: &str,
    raw: &Spanned<Vec<Spanned<String>>>,
) -> Result<RoleSet, RulesError> {
    let mut set = RoleSet::EMPTY;
    for r in raw.get_ref() {
        let v = Role::parse(r.get_ref()).ok_or_else(|| {
            here.err(
                r.span().start,
                format!(
                    "{what}: unknown role {} (known: {})",
                    echo(r.get_ref()),
                    Role::known()
                ),
            )
        })?;
        set = set.with(v);
    }
    if set.is_empty() {
        return Err(here.err(raw.span().start, format!("{what}: {key} names no role")));
    }
    Ok(set)
}

fn auths(here: &Here<'_>, what: &str, raw: &[Spanned<String>]) -> Result<AuthSet, RulesError> {
    let mut set = AuthSet::EMPTY;
    for a in raw {
        let v = Auth::parse(a.get_ref()).ok_or_else(|| {
            here.err(
                a.span().start,
                format!(
                    "{what}: unknown authentication {} (known: {})",
                    echo(a.get_ref()),
                    Auth::known()
                ),
            )
        })?;
        set = set.with(v);
    }
    Ok(set)
}

/// `"25/tcp"`, `"5075-5077/tcp"`, `"rpc-dynamic/tcp"`, `"rtp-media/udp"`, `"any/udp"`, `"any"`.
fn parse_port(
    here: &Here<'_>,
    what: &str,
    raw: &Spanned<toml::Value>,
) -> Result<PortEntry, RulesError> {
    let at = raw.span().start;
    let text = match raw.get_ref() {
        toml::Value::String(s) => s.as_str(),
        toml::Value::Integer(n) => {
            return Err(here.err(
                at,
                format!("{what}: port {n} needs its transport, like \"{n}/tcp\""),
            ));
        }
        _ => {
            return Err(here.err(
                at,
                format!("{what}: a port is a string like \"25/tcp\" or \"5060-5068/tcp\""),
            ));
        }
    };
    parse_port_text(text).map_err(|problem| here.err(at, format!("{what}: {problem}")))
}

/// The grammar of one port entry, shared with the site file.
pub(crate) fn parse_port_text(text: &str) -> Result<PortEntry, String> {
    if text == "any" {
        return Ok(PortEntry {
            spec: PortSpec::Any,
            transport: None,
        });
    }
    let Some((spec, proto)) = text.rsplit_once('/') else {
        return Err(format!(
            "port {} needs its transport, like {}",
            echo(text),
            echo(&format!("{text}/tcp"))
        ));
    };
    let transport = Transport::parse(proto).ok_or_else(|| {
        format!(
            "port {}: unknown transport {} (known: tcp, udp)",
            echo(text),
            echo(proto)
        )
    })?;
    let spec = match spec {
        "rpc-dynamic" if transport == Transport::Tcp => PortSpec::RpcDynamic,
        "rtp-media" if transport == Transport::Udp => PortSpec::RtpMedia,
        "rpc-dynamic" | "rtp-media" => {
            return Err(format!(
                "port {}: {spec} is only defined over {}",
                echo(text),
                if spec == "rpc-dynamic" { "tcp" } else { "udp" }
            ));
        }
        "any" => PortSpec::Any,
        _ => match spec.split_once('-') {
            Some((lo, hi)) => {
                let lo = port_number(lo, text)?;
                let hi = port_number(hi, text)?;
                if lo >= hi {
                    return Err(format!(
                        "port range {} is malformed (the low end must be below the high end)",
                        echo(text)
                    ));
                }
                PortSpec::Range(lo, hi)
            }
            None => PortSpec::One(port_number(spec, text)?),
        },
    };
    Ok(PortEntry {
        spec,
        transport: Some(transport),
    })
}

fn port_number(s: &str, whole: &str) -> Result<u16, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("port {}: {} is not a port number", echo(whole), echo(s)))?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "port {}: {n} is out of range (1-65535)",
            echo(whole)
        )),
    }
}

/// Candidate paths by transport and port, built once at load.
///
/// Listed ports and ranges cut each transport's port space into segments in which every port has
/// the same candidates; each segment's candidates are worked out and ranked here, once, so that a
/// flow's lookup is a binary search over a few hundred segment starts and a slice, with no
/// hashing, scanning or sorting per flow.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Per transport (TCP, UDP): the first port of each segment, ascending, starting at 0.
    starts: [Vec<u16>; 2],
    /// Per transport: each segment's candidates, as a range of `pool`.
    spans: [Vec<(u32, u32)>; 2],
    pool: Vec<Candidate>,
    /// Paths with `rpc-dynamic/tcp`, ranked.
    rpc: Vec<Candidate>,
    /// Paths with `rtp-media/udp`, ranked.
    media: Vec<Candidate>,
}

/// One flow's candidate paths: its port's, then the symbolic endpoints that apply. Each part is
/// ranked, and every part is less specific than the one before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Candidates<'a> {
    /// Which segment of the port space the port fell in (unique across transports): every port
    /// of a segment has the same candidates, the same TLS ports and the same clear-text
    /// alternative.
    pub segment: u32,
    pub by_port: &'a [Candidate],
    pub symbolic: &'a [Candidate],
    pub media: &'a [Candidate],
}

impl<'a> Candidates<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a Candidate> + 'a {
        self.by_port.iter().chain(self.symbolic).chain(self.media)
    }

    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty() && self.symbolic.is_empty() && self.media.is_empty()
    }
}

fn slot(t: Transport) -> usize {
    match t {
        Transport::Tcp => 0,
        Transport::Udp => 1,
    }
}

/// The listed ports and ranges of every path, before segmenting.
#[derive(Default)]
struct Lists {
    exact: Vec<(Transport, u16, u32)>,
    /// Ports where something else than the candidates changes (a path's TLS ports, a
    /// clear-text port with an encrypted alternative): (transport or any, low, high).
    other: Vec<(Option<Transport>, u16, u16)>,
    /// (transport or any, low, high, path).
    ranges: Vec<(Option<Transport>, u16, u16, u32)>,
}

impl Lists {
    fn of(paths: &[Path]) -> Lists {
        let mut l = Lists::default();
        for (i, p) in paths.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            // A path lists a port once however often its entries name it; only its own
            // entries can repeat it, so only they are searched.
            let own = l.exact.len();
            for e in &p.ports {
                match (e.spec, e.transport) {
                    (PortSpec::One(port), Some(t)) => {
                        if !l.exact.get(own..).unwrap_or(&[]).contains(&(t, port, i)) {
                            l.exact.push((t, port, i));
                        }
                    }
                    (PortSpec::Range(lo, hi), t) => l.ranges.push((t, lo, hi, i)),
                    (PortSpec::Any, t) => l.ranges.push((t, 1, u16::MAX, i)),
                    (PortSpec::RpcDynamic | PortSpec::RtpMedia | PortSpec::One(_), _) => {}
                }
            }
            for e in &p.tls_ports {
                match e.spec {
                    PortSpec::One(port) => l.other.push((e.transport, port, port)),
                    PortSpec::Range(lo, hi) => l.other.push((e.transport, lo, hi)),
                    PortSpec::Any | PortSpec::RpcDynamic | PortSpec::RtpMedia => {}
                }
            }
        }
        l
    }

    /// One port's candidates, ranked: listed ports first, then ranges from the narrowest; within
    /// each, paths with fewer roles at their ends, then catalog order. The reference the index
    /// is tested against: it scans every entry, where [`Index::build`] sweeps the ports once.
    #[cfg(test)]
    fn at(&self, paths: &[Path], t: Transport, port: u16) -> Vec<Candidate> {
        let roles = |i: u32| {
            let p = &paths[i as usize];
            p.from.width() + p.to.width()
        };
        let mut exact: Vec<u32> = self
            .exact
            .iter()
            .filter(|&&(et, ep, _)| et == t && ep == port)
            .map(|&(_, _, i)| i)
            .collect();
        exact.sort_by_key(|&i| (roles(i), i));
        let mut ranges: Vec<(u32, u32)> = self
            .ranges
            .iter()
            .filter(|&&(rt, lo, hi, _)| rt.is_none_or(|rt| rt == t) && (lo..=hi).contains(&port))
            .map(|&(_, lo, hi, i)| (u32::from(hi - lo) + 1, i))
            .collect();
        ranges.sort_by_key(|&(w, i)| (w, roles(i), i));
        exact
            .into_iter()
            .map(|path| Candidate {
                path,
                how: PortMatch::Exact,
                width: 1,
            })
            .chain(ranges.into_iter().map(|(width, path)| Candidate {
                path,
                how: PortMatch::Range,
                width,
            }))
            .collect()
    }
}

impl Index {
    fn build(paths: &[Path], alternatives: &[Alternative]) -> Index {
        let roles = |i: u32| {
            let p = &paths[i as usize];
            p.from.width() + p.to.width()
        };
        let mut ix = Index::default();
        let mut lists = Lists::of(paths);
        for a in alternatives {
            lists.other.push((Some(a.transport), a.clear, a.clear));
        }
        for t in [Transport::Tcp, Transport::Udp] {
            let mut cuts: Vec<u32> = vec![0];
            for &(et, p, _) in &lists.exact {
                if et == t {
                    cuts.extend([u32::from(p), u32::from(p) + 1]);
                }
            }
            for &(rt, lo, hi, _) in &lists.ranges {
                if rt.is_none_or(|rt| rt == t) {
                    cuts.extend([u32::from(lo), u32::from(hi) + 1]);
                }
            }
            for &(rt, lo, hi) in &lists.other {
                if rt.is_none_or(|rt| rt == t) {
                    cuts.extend([u32::from(lo), u32::from(hi) + 1]);
                }
            }
            cuts.sort_unstable();
            cuts.dedup();
            // One sweep over the segments, in port order: listed ports found by binary search,
            // ranges kept in an active set as the sweep enters and leaves them, so the cost
            // grows with the paths and not with paths times segments.
            let mut exact: Vec<(u16, u32)> = lists
                .exact
                .iter()
                .filter(|&&(et, _, _)| et == t)
                .map(|&(_, port, i)| (port, i))
                .collect();
            exact.sort_unstable_by_key(|&(port, i)| (port, roles(i), i));
            let mut ranges: Vec<(u16, u16, u32)> = lists
                .ranges
                .iter()
                .filter(|&&(rt, ..)| rt.is_none_or(|rt| rt == t))
                .map(|&(_, lo, hi, i)| (lo, hi, i))
                .collect();
            ranges.sort_unstable_by_key(|&(lo, ..)| lo);
            let mut next_range = 0;
            // The ranges that hold `start`: (high end, width, path).
            let mut active: Vec<(u16, u32, u32)> = Vec::new();
            for start in cuts.into_iter().filter_map(|c| u16::try_from(c).ok()) {
                while let Some(&(lo, hi, i)) = ranges.get(next_range) {
                    if lo > start {
                        break;
                    }
                    active.push((hi, u32::from(hi - lo) + 1, i));
                    next_range += 1;
                }
                active.retain(|&(hi, ..)| hi >= start);
                let from = u32::try_from(ix.pool.len()).unwrap_or(u32::MAX);
                let first = exact.partition_point(|&(p, _)| p < start);
                let here = exact
                    .get(first..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|&&(p, _)| p == start);
                ix.pool.extend(here.map(|&(_, path)| Candidate {
                    path,
                    how: PortMatch::Exact,
                    width: 1,
                }));
                let mut in_range: Vec<(u32, u32)> =
                    active.iter().map(|&(_, w, i)| (w, i)).collect();
                in_range.sort_unstable_by_key(|&(w, i)| (w, roles(i), i));
                ix.pool
                    .extend(in_range.into_iter().map(|(width, path)| Candidate {
                        path,
                        how: PortMatch::Range,
                        width,
                    }));
                let len = u32::try_from(ix.pool.len())
                    .unwrap_or(u32::MAX)
                    .saturating_sub(from);
                ix.starts[slot(t)].push(start);
                ix.spans[slot(t)].push((from, len));
            }
        }
        for (i, p) in paths.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            let inferred = |path| Candidate {
                path,
                how: PortMatch::Inferred,
                width: 1 << 16,
            };
            if p.ports.iter().any(|e| e.spec == PortSpec::RpcDynamic) {
                ix.rpc.push(inferred(i));
            }
            if p.ports.iter().any(|e| e.spec == PortSpec::RtpMedia) {
                ix.media.push(inferred(i));
            }
        }
        ix.rpc.sort_by_key(|c| (roles(c.path), c.path));
        ix.media.sort_by_key(|c| (roles(c.path), c.path));
        ix
    }

    /// The candidates of one port: its segment's, then `rpc-dynamic` paths when `rpc` is set
    /// (TCP only), then `rtp-media` paths when `media` is set (UDP ports 1024 and up).
    pub(super) fn candidates(
        &self,
        transport: Transport,
        port: u16,
        rpc: bool,
        media: bool,
    ) -> Candidates<'_> {
        let s = slot(transport);
        let seg = self.starts[s].partition_point(|&b| b <= port);
        // Segments are numbered across both transports: TCP's first, then UDP's.
        let before = if s == 0 { 0 } else { self.starts[0].len() };
        let by_port = seg
            .checked_sub(1)
            .and_then(|i| self.spans[s].get(i))
            .and_then(|&(from, len)| {
                self.pool
                    .get(from as usize..(from as usize).checked_add(len as usize)?)
            })
            .unwrap_or(&[]);
        Candidates {
            segment: u32::try_from(before + seg).unwrap_or(u32::MAX),
            by_port,
            symbolic: if rpc && transport == Transport::Tcp {
                &self.rpc
            } else {
                &[]
            },
            media: if media && transport == Transport::Udp && port >= 1024 {
                &self.media
            } else {
                &[]
            },
        }
    }

    /// The same answers worked out the slow way, port by port, for the tests.
    #[cfg(test)]
    pub(super) fn slow(paths: &[Path]) -> impl Fn(Transport, u16) -> Vec<Candidate> + '_ {
        let lists = Lists::of(paths);
        move |t, port| lists.at(paths, t, port)
    }
}
