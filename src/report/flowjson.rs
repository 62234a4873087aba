//! The `flow` JSON object, written by hand into a reused buffer: at a million flows a run, a
//! generic serializer's per-token writes through `dyn Write` cost as much as the rest of the
//! pipeline. The output is byte for byte what serde_json writes for the same object (compact,
//! fields in the order of `docs/output.md`), but for DEL and the C1 controls, which are escaped
//! as well; the schema and snapshot tests hold it to that. Every string written by hand here is
//! made by exaudit (addresses, timestamps, state names, history letters), none comes from the
//! wire, so none needs escaping; the inspectors' evidence, which carries wire strings, goes
//! through serde_json and [`super::jsontext`].

use std::collections::HashMap;
use std::net::IpAddr;

use super::proto_name;
use crate::catalog::{Catalog, RoleSet};
use crate::classify::{Classification, MAX_ALSO};
use crate::flow::{EndReason, FlowRecord};
use crate::inspect::{Detail, Evidence, Fact};
use crate::time::Timestamp;

fn int(buf: &mut Vec<u8>, n: impl itoa::Integer) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(n).as_bytes());
}

fn key(buf: &mut Vec<u8>, k: &str) {
    buf.push(b',');
    buf.push(b'"');
    buf.extend_from_slice(k.as_bytes());
    buf.extend_from_slice(b"\":");
}

fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
}

fn ip(buf: &mut Vec<u8>, a: IpAddr) {
    buf.push(b'"');
    match a {
        // Dotted quad by hand: the formatter machinery costs more than the rest of the line.
        IpAddr::V4(v) => {
            for (i, o) in v.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                if o >= 100 {
                    buf.push(b'0' + o / 100);
                }
                if o >= 10 {
                    buf.push(b'0' + (o / 10) % 10);
                }
                buf.push(b'0' + o % 10);
            }
        }
        IpAddr::V6(v) => {
            use std::io::Write;
            // Writing into a Vec cannot fail.
            let _ = write!(buf, "{v}");
        }
    }
    buf.push(b'"');
}

/// RFC 3339 with microseconds, as `Timestamp`'s Display writes it.
fn ts(buf: &mut Vec<u8>, t: Timestamp) {
    buf.push(b'"');
    buf.extend_from_slice(&t.rfc3339());
    buf.push(b'"');
}

fn float(buf: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        let mut b = ryu::Buffer::new();
        buf.extend_from_slice(b.format_finite(f).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

fn end_reason(e: EndReason) -> &'static str {
    match e {
        EndReason::Closed => "closed",
        EndReason::Attempt => "attempt",
        EndReason::Timeout => "timeout",
        EndReason::Reused => "reused",
        EndReason::Evicted => "evicted",
        EndReason::EndOfInput => "end_of_input",
    }
}

fn roles(buf: &mut Vec<u8>, r: RoleSet) {
    buf.push(b'[');
    for (i, role) in r.shown().iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, role.as_str());
    }
    buf.push(b']');
}

/// What the cached part of a flow's verdict fields depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TailKey {
    path: Option<u32>,
    how: Option<crate::catalog::PortMatch>,
    also: [u32; MAX_ALSO],
    also_len: usize,
    roles: Option<(RoleSet, RoleSet)>,
    verdict: crate::classify::Verdict,
}

/// Most remembered renderings before the cache starts over.
const TAIL_ENTRIES: usize = 4096;

/// Writes flow objects, remembering what repeats: the verdict fields that the path, the other
/// matches, the roles and the verdict decide (a capture has few distinct combinations), and each
/// path's expected encryption and authentication. Flows then cost a hash probe and a copy for
/// those fields instead of a dozen small writes.
#[derive(Debug, Default)]
pub struct FlowWriter {
    tails: HashMap<TailKey, Vec<u8>, foldhash::fast::FixedState>,
    /// By path index: `,"encryption":{"expected":…,"mechanisms":[…],"observed":` and
    /// `},"auth":{"expected":[…],"observed":`.
    expected: Vec<(Vec<u8>, Vec<u8>)>,
}

impl FlowWriter {
    /// Appends the flow's JSON object (no newline) to `buf`.
    pub fn write(
        &mut self,
        buf: &mut Vec<u8>,
        rec: &FlowRecord,
        cls: &Classification,
        ev: &Evidence,
        community_id: &[u8; 30],
        catalog: &Catalog,
    ) {
        write_head(buf, rec, community_id);
        self.write_verdict(buf, cls, catalog);
        self.write_evidence(buf, cls, ev, catalog);
        buf.push(b'}');
    }

    /// The classification fields: path, how it matched, other matches, roles, verdict,
    /// reachability and finding codes. Path ids come from the catalog, which was validated to
    /// letters, digits, '.', '-' and '_', so they need no escaping either.
    fn write_verdict(&mut self, buf: &mut Vec<u8>, cls: &Classification, catalog: &Catalog) {
        let mut also = [0u32; MAX_ALSO];
        let kept = cls.also();
        let also_len = kept.len();
        for (slot, p) in also.iter_mut().zip(kept) {
            *slot = *p;
        }
        let tail = TailKey {
            path: cls.path,
            how: cls.how,
            also,
            also_len,
            roles: cls.roles,
            verdict: cls.verdict,
        };
        match self.tails.get(&tail) {
            Some(t) => buf.extend_from_slice(t),
            None => {
                let mut t = Vec::new();
                write_choice(&mut t, cls, catalog);
                buf.extend_from_slice(&t);
                if self.tails.len() >= TAIL_ENTRIES {
                    self.tails.clear();
                }
                self.tails.insert(tail, t);
            }
        }
        key(buf, "reachability");
        string(buf, cls.reachability.as_str());
        key(buf, "findings");
        buf.push(b'[');
        for (i, c) in cls.findings.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            string(buf, c.as_str());
        }
        buf.push(b']');
        if let Some(i) = &cls.rpc_interface {
            serialized(buf, "rpc_interface", i);
        }
        if let Some(l) = &cls.learned {
            write_learned(buf, l);
        }
    }

    /// The evidence fields: the service seen, what the payload covered, encryption and
    /// authentication expected (from the catalog path) and observed (from the payload), then
    /// each protocol's details.
    fn write_evidence(
        &mut self,
        buf: &mut Vec<u8>,
        cls: &Classification,
        ev: &Evidence,
        catalog: &Catalog,
    ) {
        key(buf, "service");
        match ev.service {
            Some(s) => string(buf, s.as_str()),
            None => buf.extend_from_slice(b"null"),
        }
        key(buf, "payload");
        string(buf, ev.payload.as_str());
        if self.expected.len() != catalog.paths.len() {
            self.expected = catalog.paths.iter().map(expected_json).collect();
        }
        let none = (
            b",\"encryption\":{\"expected\":null,\"mechanisms\":[],\"observed\":".as_slice(),
            b"},\"auth\":{\"expected\":[],\"observed\":".as_slice(),
        );
        let (enc, auth) = cls
            .path
            .and_then(|p| self.expected.get(p as usize))
            .map_or(none, |(e, a)| (e.as_slice(), a.as_slice()));
        buf.extend_from_slice(enc);
        string(buf, ev.protection.as_str());
        buf.extend_from_slice(auth);
        if ev.auth.is_empty() {
            buf.extend_from_slice(b"[]");
        } else {
            super::jsontext::append(buf, &ev.auth);
        }
        if ev.auth_more > 0 {
            key(buf, "observed_more");
            int(buf, ev.auth_more);
        }
        buf.push(b'}');
        if !ev.facts.is_empty() {
            key(buf, "facts");
            words(buf, ev.facts.iter().map(Fact::as_str));
        }
        if let Some(t) = &ev.tls {
            serialized(buf, "tls", t);
        }
        if let Some(n) = &ev.ntlm {
            serialized(buf, "ntlm", n);
        }
        match &ev.detail {
            Detail::None => {}
            Detail::Smtp(d) => serialized(buf, "smtp", d),
            Detail::Imap(d) => serialized(buf, "imap", d),
            Detail::Pop3(d) => serialized(buf, "pop3", d),
            Detail::Http(d) => serialized(buf, "http", d),
            Detail::Ldap(d) => serialized(buf, "ldap", d),
            Detail::Kerberos(d) => serialized(buf, "krb", d),
            Detail::Smb(d) => serialized(buf, "smb", d),
            Detail::DceRpc(d) => serialized(buf, "dce_rpc", d),
            Detail::Sip(d) => serialized(buf, "sip", d),
        }
        if let Some(e) = &ev.epm {
            serialized(buf, "epm", e);
        }
    }
}

/// `learned_from` (the flow and time of the answer that taught the endpoint), and for media
/// the call it belongs to.
fn write_learned(buf: &mut Vec<u8>, l: &crate::classify::Learned) {
    use crate::expect::What;
    key(buf, "learned_from");
    buf.extend_from_slice(b"{\"community_id\":");
    string(buf, l.from.community_id());
    key(buf, "ts");
    ts(buf, l.from.at);
    key(buf, "via");
    string(
        buf,
        match l.what {
            What::Rpc { dcom: false, .. } => "epm",
            What::Rpc { dcom: true, .. } => "dcom",
            What::Media { .. } => "sdp",
        },
    );
    if let Some(e) = &l.expected {
        serialized(buf, "interface", e);
    }
    buf.push(b'}');
    if let What::Media {
        call,
        rtcp,
        srtp,
        signalling_tls,
        ..
    } = l.what
    {
        key(buf, "media");
        buf.extend_from_slice(b"{\"call_id\":\"");
        buf.extend_from_slice(&call.hex());
        buf.extend_from_slice(b"\",\"stream\":");
        string(buf, if rtcp { "rtcp" } else { "rtp" });
        buf.extend_from_slice(b",\"srtp\":");
        buf.extend_from_slice(if srtp { b"true" } else { b"false" });
        if signalling_tls {
            buf.extend_from_slice(b",\"signalling_tls\":true");
        }
        match l.header {
            None => {}
            Some(None) => buf.extend_from_slice(b",\"header\":\"not-rtp\""),
            Some(Some(h)) => {
                key(buf, "header");
                string(buf, if h.rtcp { "rtcp" } else { "rtp" });
                key(buf, "payload_type");
                int(buf, h.payload_type);
                key(buf, "ssrc");
                int(buf, h.ssrc);
            }
        }
        buf.push(b'}');
    }
}

/// A path's expected encryption and authentication, rendered once.
fn expected_json(p: &crate::catalog::Path) -> (Vec<u8>, Vec<u8>) {
    let mut enc = b",\"encryption\":{\"expected\":".to_vec();
    string(&mut enc, p.encrypted_by_default.as_str());
    key(&mut enc, "mechanisms");
    words(&mut enc, p.encryption.iter().map(|e| e.as_str()));
    key(&mut enc, "observed");
    let mut auth = b"},\"auth\":{\"expected\":".to_vec();
    words(&mut auth, p.auth_default.iter().map(|a| a.as_str()));
    key(&mut auth, "observed");
    (enc, auth)
}

/// The verdict fields that the choice decides: path, path_match, also_matched, roles, verdict.
fn write_choice(buf: &mut Vec<u8>, cls: &Classification, catalog: &Catalog) {
    key(buf, "path");
    match cls.path {
        Some(p) => string(buf, &catalog.path(p).id),
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "path_match");
    match cls.how {
        Some(h) => string(buf, h.as_str()),
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "also_matched");
    buf.push(b'[');
    for (i, p) in cls.also().iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, &catalog.path(*p).id);
    }
    buf.push(b']');
    key(buf, "roles");
    match cls.roles {
        Some((s, d)) => {
            buf.extend_from_slice(b"{\"src\":");
            roles(buf, s);
            buf.extend_from_slice(b",\"dest\":");
            roles(buf, d);
            buf.push(b'}');
        }
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "verdict");
    string(buf, cls.verdict.as_str());
}

/// The flow's own fields, from `type` to `icmp`.
fn write_head(buf: &mut Vec<u8>, rec: &FlowRecord, community_id: &[u8; 30]) {
    buf.extend_from_slice(b"{\"type\":\"flow\",\"ts\":");
    ts(buf, rec.start);
    key(buf, "end_ts");
    ts(buf, rec.last);
    key(buf, "flow_id");
    int(buf, rec.id);
    key(buf, "community_id");
    buf.push(b'"');
    buf.extend_from_slice(community_id);
    buf.push(b'"');
    key(buf, "proto");
    string(buf, proto_name(rec));
    key(buf, "ip_proto");
    int(buf, rec.ip_proto);
    key(buf, "src_ip");
    ip(buf, rec.orig.0);
    key(buf, "src_port");
    int(buf, rec.orig.1);
    key(buf, "dest_ip");
    ip(buf, rec.resp.0);
    key(buf, "dest_port");
    int(buf, rec.resp.1);
    key(buf, "vlan");
    let ids = rec.vlans.ids();
    if ids.is_empty() {
        buf.extend_from_slice(b"null");
    } else {
        buf.push(b'[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            int(buf, *id);
        }
        buf.push(b']');
    }
    key(buf, "conn_state");
    string(buf, rec.conn_state.as_str());
    key(buf, "history");
    string(buf, rec.history.as_str());
    for (k, v) in [
        ("pkts_toserver", rec.orig_counts.pkts),
        ("pkts_toclient", rec.resp_counts.pkts),
        ("bytes_toserver", rec.orig_counts.bytes),
        ("bytes_toclient", rec.resp_counts.bytes),
        ("ip_bytes_toserver", rec.orig_counts.ip_bytes),
        ("ip_bytes_toclient", rec.resp_counts.ip_bytes),
        (
            "missed_bytes",
            rec.orig_counts.missed_bytes + rec.resp_counts.missed_bytes,
        ),
    ] {
        key(buf, k);
        int(buf, v);
    }
    key(buf, "duration");
    float(buf, rec.duration().as_secs_f64());
    key(buf, "end_reason");
    string(buf, end_reason(rec.end));
    key(buf, "midstream");
    buf.extend_from_slice(if rec.midstream { b"true" } else { b"false" });
    key(buf, "truncated");
    buf.extend_from_slice(if rec.truncated { b"true" } else { b"false" });
    if !rec.icmp_refusals.is_empty() {
        key(buf, "icmp");
        buf.push(b'[');
        for (i, r) in rec.icmp_refusals.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"type\":");
            int(buf, r.ty);
            key(buf, "code");
            int(buf, r.code);
            key(buf, "version");
            int(buf, if r.v6 { 6u8 } else { 4 });
            key(buf, "from");
            ip(buf, r.from);
            key(buf, "ts");
            ts(buf, r.first);
            key(buf, "count");
            int(buf, r.count);
            buf.push(b'}');
        }
        buf.push(b']');
    }
}

/// Writes a word list: `["a","b"]`.
fn words<'a>(buf: &mut Vec<u8>, it: impl Iterator<Item = &'a str>) {
    buf.push(b'[');
    for (i, w) in it.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, w);
    }
    buf.push(b']');
}

/// Appends a serde value; strings from the wire inside it are escaped by serde_json, and DEL
/// and the C1 controls as well ([`super::jsontext`]).
fn serialized(buf: &mut Vec<u8>, k: &str, v: &impl serde::Serialize) {
    key(buf, k);
    super::jsontext::append(buf, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for a in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "10.0.1.13",
            "192.0.2.7",
            "::1",
            "fd00:20::1:5",
            "::ffff:10.0.0.1",
        ] {
            let addr: IpAddr = a.parse().unwrap();
            let mut buf = Vec::new();
            ip(&mut buf, addr);
            assert_eq!(buf, format!("\"{addr}\"").into_bytes());
        }
        for o in 0..=255u8 {
            let addr = IpAddr::from([o, o, 0, 255 - o]);
            let mut buf = Vec::new();
            ip(&mut buf, addr);
            assert_eq!(buf, format!("\"{addr}\"").into_bytes());
        }
    }
}
