//! What the endpoint mapper and the DCOM object resolver teach: the dynamic endpoints that RPC
//! clients are told to connect to.
//!
//! An RPC client asks the endpoint mapper (C706 appendix O, interface
//! e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0, on 135/TCP or over `ncacn_http` on 593) where an
//! interface listens: `ept_map` (opnum 3) answers with protocol towers, `ept_lookup` (opnum 2)
//! with entries that each carry an annotation and a tower. A tower (C706 appendix L, MS-RPCE
//! 2.2.1.1) is a list of floors: the interface UUID and version, the transfer syntax, the RPC
//! protocol, then the endpoint (TCP or UDP port, named pipe, local RPC name, `ncacn_http` port)
//! and the host (IPv4 address, NetBIOS name). DCOM answers carry string bindings instead
//! (MS-DCOM 2.2.19 `DUALSTRINGARRAY`: `host[port]` per protocol sequence): the object exporter's
//! ResolveOxid / ResolveOxid2 / ServerAlive2 and the activator's RemoteCreateInstance /
//! RemoteGetClassObject.
//!
//! [`learn`] reads one flow's two directions with the PDU walker of [`super::dcerpc`], pairs each
//! response with its request by call_id, reassembles fragmented responses (bounded), and decodes
//! the stubs in NDR or NDR64, as the bind_ack accepted (both are tried, strictly, when the bind
//! was not seen). It returns the [`Epm`] detail (what the flow's JSON shows under `epm`) and the
//! [`Endpoint`]s a later stage turns into expectations.
//!
//! Own parser: no maintained Rust crate decodes endpoint-mapper or DCOM resolver stubs from
//! captured bytes (the DCE/RPC crates build client calls; none reads towers or string bindings
//! out of NDR). The structures are small and fixed by C706 and MS-DCOM.
//!
//! Every count on the wire is checked against the bytes held before anything is read or kept;
//! every list kept is capped by a named constant, and what the caps drop is counted.

#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::dcerpc::{self, ContextResult, PduType, Transfer, Uuid};
use super::{Input, MAX_TEXT, wire_text};

/// The endpoint mapper (C706 appendix O).
pub const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
/// MS-DCOM 1.9: the object resolver (IObjectExporter).
pub const OBJECT_EXPORTER: Uuid = Uuid::from_u128(0x99fcfec4_5260_101b_bbcb_00aa0021347a);
/// MS-DCOM 1.9: the activator (ISystemActivator).
pub const SYSTEM_ACTIVATOR: Uuid = Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046);

/// Endpoints kept per flow; the rest are counted in [`Learned::endpoints_dropped`].
pub const MAX_ENDPOINTS: usize = 64;
/// Towers kept in the detail per flow.
pub const MAX_TOWERS: usize = 64;
/// DCOM string bindings kept in the detail per flow.
pub const MAX_BINDINGS: usize = 32;
/// Requests whose asked-for interface is kept in the detail.
pub const MAX_ASKED: usize = 16;
/// Requests remembered while their responses are matched by call_id.
const MAX_CALLS: usize = 64;
/// bind / alter_context offers remembered while their answers are matched.
const MAX_BINDS: usize = 8;
/// Presentation contexts remembered per flow.
const MAX_CONTEXTS: usize = 16;
/// Bytes of one reassembled response stub (the prefix bounds it anyway; this bounds a large
/// configured prefix).
const MAX_STUB: usize = 64 * 1024;
/// Floors read of one tower (real towers have 4 or 5).
const MAX_FLOORS: u16 = 16;
/// Entries read of one answer (`max_towers` / `max_ents` are usually 4 or 500).
const MAX_ENTRIES: usize = 512;
/// Largest DUALSTRINGARRAY looked at, in 16-bit units.
const MAX_DSA_UNITS: usize = 2048;
/// DUALSTRINGARRAYs taken from one response.
const MAX_DSAS: usize = 4;
/// 16-bit units the DUALSTRINGARRAY scan may examine per response: candidates that fail late
/// cost up to [`MAX_DSA_UNITS`] each, and this keeps a hostile stub's scan linear.
const MAX_SCAN_UNITS: usize = 256 * 1024;
/// ept_lookup annotations hold at most 64 characters (C706 `ept_max_annotation_size`).
const MAX_ANNOTATION: usize = 64;
/// `ncacn_http` (MS-RPCH 2.1.1.1), skipped before the PDUs as the walker's inspector does.
const NCACN_HTTP: &[u8] = b"ncacn_http/1.0";
/// pfc_flags (C706 12.6.3.1).
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_LAST_FRAG: u8 = 0x02;

/// EPM opnums (C706 appendix O).
const EPT_LOOKUP: u16 = 2;
const EPT_MAP: u16 = 3;

/// An interface and its version, as a tower's first floor or a request names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IfId {
    pub uuid: Uuid,
    pub major: u16,
    pub minor: u16,
}

impl IfId {
    /// The interface's name, where the DCE/RPC table knows it.
    pub fn name(&self) -> Option<&'static str> {
        dcerpc::interface(&self.uuid).map(|i| i.name)
    }
}

impl Serialize for IfId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = self.name();
        let mut st = s.serialize_struct("IfId", if name.is_some() { 3 } else { 2 })?;
        st.serialize_field("uuid", &self.uuid)?;
        st.serialize_field(
            "version",
            &format_args!("{}.{}", self.major, self.minor).to_string(),
        )?;
        if let Some(n) = name {
            st.serialize_field("endpoint", n)?;
        } else {
            st.skip_field("endpoint")?;
        }
        st.end()
    }
}

/// A protocol sequence (MS-RPCE 2.1), from a tower's floors or a string binding's tower id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Protseq {
    #[serde(rename = "ncacn_ip_tcp")]
    Tcp,
    #[serde(rename = "ncadg_ip_udp")]
    Udp,
    #[serde(rename = "ncacn_http")]
    Http,
    #[serde(rename = "ncacn_np")]
    NamedPipe,
    #[serde(rename = "ncalrpc")]
    Lrpc,
    #[serde(rename = "ncacn_nb_tcp")]
    NetBios,
    #[serde(rename = "other")]
    Other,
}

impl Protseq {
    /// MS-DCOM 2.2.19.3 / MS-RPCE: the tower id of a string binding.
    fn from_tower_id(id: u16) -> Protseq {
        match id {
            0x07 => Protseq::Tcp,
            0x08 => Protseq::Udp,
            0x0f => Protseq::NamedPipe,
            0x10 => Protseq::Lrpc,
            0x12 => Protseq::NetBios,
            0x1f => Protseq::Http,
            _ => Protseq::Other,
        }
    }
}

/// The operation an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "ept_map")]
    EptMap,
    #[serde(rename = "ept_lookup")]
    EptLookup,
    ResolveOxid,
    ResolveOxid2,
    ServerAlive2,
    RemoteGetClassObject,
    RemoteCreateInstance,
    /// A DCOM answer whose call was not seen (DCOM inferred from the answer's shape).
    #[serde(rename = "dcom")]
    Dcom,
}

/// The transport of a learned endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Where in the flow an answer was: the server direction's PDU (its index among the PDUs the
/// walker yielded, and its byte offset in the server prefix). For a fragmented answer, the last
/// fragment (the answer is complete there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct At {
    pub pdu: u32,
    pub offset: u32,
}

/// An endpoint an answer taught: "`interface` of host `ip` listens at `transport` `port`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `None` for DCOM object-exporter bindings (the exporter's port serves many interfaces).
    pub interface: Option<IfId>,
    pub transport: Transport,
    pub port: u16,
    /// The host. `None` with `host` `None`: the tower said 0.0.0.0 or gave no address, which
    /// means the server that answered. `None` with `host` set: a name, not an address.
    pub ip: Option<IpAddr>,
    /// DCOM: the string binding's network address as written (a name or an address).
    pub host: Option<String>,
    /// Learned from a DCOM string binding rather than from an endpoint-mapper tower.
    pub dcom: bool,
    pub op: Op,
    pub at: At,
}

/// An interface a client asked the endpoint mapper for, and what came back.
#[derive(Debug, Serialize)]
pub struct Asked {
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<IfId>,
    /// A response to this request was seen.
    pub answered: bool,
    /// Towers in the answer.
    #[serde(skip_serializing_if = "is_zero")]
    pub towers: u32,
    /// The answer's status when not 0 (0x16c9a0d6 is `ept_s_not_registered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
}

/// One protocol tower of an endpoint-mapper answer.
#[derive(Debug, Serialize)]
pub struct Tower {
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<IfId>,
    pub protseq: Protseq,
    /// TCP, UDP or `ncacn_http` port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Named pipe, local RPC endpoint or NetBIOS name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ept_lookup's annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
}

/// One DCOM string binding.
#[derive(Debug, Serialize)]
pub struct Binding {
    pub op: Op,
    pub tower_id: u16,
    pub protseq: Protseq,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// What the endpoint-mapper and DCOM conversation of one flow showed (the flow's `epm` object).
#[derive(Debug, Default, Serialize)]
pub struct Epm {
    #[serde(skip_serializing_if = "is_zero")]
    pub maps: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub lookups: u32,
    /// DCOM resolver and activation requests.
    #[serde(skip_serializing_if = "is_zero")]
    pub dcom: u32,
    /// Answers decoded (endpoint mapper and DCOM).
    #[serde(skip_serializing_if = "is_zero")]
    pub answers: u32,
    /// Faults returned to those calls.
    #[serde(skip_serializing_if = "is_zero")]
    pub faults: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asked: Vec<Asked>,
    #[serde(skip_serializing_if = "is_zero")]
    pub asked_more: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub towers: Vec<Tower>,
    #[serde(skip_serializing_if = "is_zero")]
    pub towers_more: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
    #[serde(skip_serializing_if = "is_zero")]
    pub bindings_more: u32,
    /// Answers (or requests) that were the right call but did not decode.
    #[serde(skip_serializing_if = "is_zero")]
    pub malformed: u32,
    /// The stubs were NDR64.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ndr64: bool,
}

impl Epm {
    /// No endpoint-mapper or DCOM resolver call was read.
    pub fn is_empty(&self) -> bool {
        self.maps == 0
            && self.lookups == 0
            && self.dcom == 0
            && self.answers == 0
            && self.faults == 0
            && self.asked.is_empty()
            && self.towers.is_empty()
            && self.bindings.is_empty()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What one flow taught.
#[derive(Debug, Default)]
pub struct Learned {
    pub epm: Epm,
    /// TCP and UDP endpoints, in answer order, at most [`MAX_ENDPOINTS`].
    pub endpoints: Vec<Endpoint>,
    pub endpoints_dropped: u32,
}

impl Learned {
    fn push_endpoint(&mut self, e: Endpoint) {
        if self.endpoints.len() < MAX_ENDPOINTS {
            self.endpoints.push(e);
        } else {
            self.endpoints_dropped = self.endpoints_dropped.saturating_add(1);
        }
    }

    fn push_tower(&mut self, t: Tower) {
        if self.epm.towers.len() < MAX_TOWERS {
            self.epm.towers.push(t);
        } else {
            self.epm.towers_more = self.epm.towers_more.saturating_add(1);
        }
    }

    fn push_binding(&mut self, b: Binding) {
        if self.epm.bindings.len() < MAX_BINDINGS {
            self.epm.bindings.push(b);
        } else {
            self.epm.bindings_more = self.epm.bindings_more.saturating_add(1);
        }
    }

    fn malformed(&mut self) {
        self.epm.malformed = self.epm.malformed.saturating_add(1);
    }
}

/// Which interface a presentation context names, as far as this module cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Epm,
    ObjectExporter,
    Activator,
    /// Another interface: nothing to learn.
    Foreign,
}

impl Kind {
    fn of(uuid: &Uuid) -> Kind {
        if *uuid == EPM {
            Kind::Epm
        } else if *uuid == OBJECT_EXPORTER {
            Kind::ObjectExporter
        } else if *uuid == SYSTEM_ACTIVATOR {
            Kind::Activator
        } else {
            Kind::Foreign
        }
    }
}

/// A presentation context: its id, interface and whether it runs NDR64 (`None`: not known).
#[derive(Clone, Copy, Debug)]
struct Ctx {
    id: u16,
    kind: Kind,
    ndr64: Option<bool>,
}

/// A request seen in the client direction.
#[derive(Debug)]
struct Call<'a> {
    call_id: u32,
    context_id: u16,
    opnum: u16,
    le: bool,
    stub: &'a [u8],
    answered: bool,
    towers: u32,
    status: Option<u32>,
    /// The stub decoded as NDR64 (the answer's syntax, when the context did not say).
    ndr64: Option<bool>,
}

/// The walk's state.
#[derive(Default)]
struct Walk<'a> {
    offers: Vec<(u32, Vec<(u16, Uuid)>)>,
    contexts: Vec<Ctx>,
    calls: Vec<Call<'a>>,
}

impl Walk<'_> {
    fn context(&self, id: u16) -> Option<Ctx> {
        if let Some(c) = self.contexts.iter().rev().find(|c| c.id == id) {
            return Some(*c);
        }
        // Offered, answer not seen: the interface is known, the syntax is not.
        self.offers
            .iter()
            .rev()
            .flat_map(|(_, o)| o.iter())
            .find(|(cid, _)| *cid == id)
            .map(|(cid, u)| Ctx {
                id: *cid,
                kind: Kind::of(u),
                ndr64: None,
            })
    }

    fn set_context(&mut self, c: Ctx) {
        if let Some(old) = self.contexts.iter_mut().find(|k| k.id == c.id) {
            *old = c;
        } else if self.contexts.len() < MAX_CONTEXTS {
            self.contexts.push(c);
        }
    }
}

fn strip_http(b: &[u8]) -> (&[u8], usize) {
    match b.strip_prefix(NCACN_HTTP) {
        Some(rest) => (rest, NCACN_HTTP.len()),
        None => (b, 0),
    }
}

/// The endpoints one flow's endpoint-mapper and DCOM answers teach, with the detail to show.
/// `None` (after a few comparisons) when the flow is not connection-oriented DCE/RPC or carries
/// no call this module reads.
pub fn learn(input: &Input<'_>) -> Option<Learned> {
    if input.udp {
        return None;
    }
    let (client, _) = strip_http(input.client);
    let (server, skip) = strip_http(input.server);
    if !dcerpc::looks_like(client) && !dcerpc::looks_like(server) {
        return None;
    }
    let mut w = Walk::default();
    for pdu in dcerpc::pdus(client) {
        on_client(&pdu, &mut w);
    }
    let mut l = Learned::default();
    let mut seen = false;
    let mut partial: Option<(u32, u16, Vec<u8>)> = None;
    let mut offset = skip;
    for (index, pdu) in dcerpc::pdus(server).enumerate() {
        let at = At {
            pdu: u32::try_from(index).unwrap_or(u32::MAX),
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
        };
        offset = offset.saturating_add(usize::from(pdu.frag_len));
        match pdu.ptype {
            PduType::BindAck | PduType::AlterContextResp => on_answer(&pdu, &mut w),
            PduType::Response => {
                let Some((ctx, stub)) = pdu.response() else {
                    continue;
                };
                let first = pdu.flags & PFC_FIRST_FRAG != 0;
                let last = pdu.flags & PFC_LAST_FRAG != 0;
                if first && (last || pdu.cut) {
                    partial = None;
                    seen |= answer(&mut l, &mut w, pdu.call_id, ctx, stub, pdu, at);
                } else if first {
                    let mut buf = Vec::new();
                    extend_capped(&mut buf, stub);
                    partial = Some((pdu.call_id, ctx, buf));
                } else if let Some((id, ctx, mut buf)) = partial.take() {
                    if id != pdu.call_id {
                        continue;
                    }
                    extend_capped(&mut buf, stub);
                    if last || pdu.cut {
                        seen |= answer(&mut l, &mut w, id, ctx, &buf, pdu, at);
                    } else {
                        partial = Some((id, ctx, buf));
                    }
                }
            }
            PduType::Fault => {
                if let Some(c) = w.calls.iter_mut().find(|c| c.call_id == pdu.call_id) {
                    c.answered = true;
                    c.status = pdu.fault_status();
                    if learnable(w_kind(&w.contexts, &w.offers, c.context_id), c.opnum) {
                        l.epm.faults = l.epm.faults.saturating_add(1);
                    }
                }
            }
            _ => {}
        }
    }
    seen |= conclude(&mut l, &w);
    seen.then_some(l)
}

/// The kind of a context id, from the answered contexts or else the offers.
fn w_kind(contexts: &[Ctx], offers: &[(u32, Vec<(u16, Uuid)>)], id: u16) -> Option<Kind> {
    if let Some(c) = contexts.iter().rev().find(|c| c.id == id) {
        return Some(c.kind);
    }
    offers
        .iter()
        .rev()
        .flat_map(|(_, o)| o.iter())
        .find(|(cid, _)| *cid == id)
        .map(|(_, u)| Kind::of(u))
}

/// Whether a call on a context of this kind (`None`: unknown) is one whose answer teaches.
fn learnable(kind: Option<Kind>, opnum: u16) -> bool {
    match kind {
        Some(Kind::Epm) => matches!(opnum, EPT_LOOKUP | EPT_MAP),
        Some(Kind::ObjectExporter) => matches!(opnum, 0 | 4 | 5),
        Some(Kind::Activator) => matches!(opnum, 3 | 4),
        Some(Kind::Foreign) => false,
        None => matches!(opnum, 0 | 2..=5),
    }
}

fn extend_capped(buf: &mut Vec<u8>, more: &[u8]) {
    let room = MAX_STUB.saturating_sub(buf.len());
    buf.extend_from_slice(more.get(..room).unwrap_or(more));
}

fn on_client<'a>(pdu: &dcerpc::Pdu<'a>, w: &mut Walk<'a>) {
    match pdu.ptype {
        PduType::Bind | PduType::AlterContext => {
            if w.offers.len() >= MAX_BINDS {
                return;
            }
            let offered: Vec<(u16, Uuid)> = pdu
                .contexts()
                .take(MAX_CONTEXTS)
                .map(|c| (c.id, c.abstract_syntax.uuid))
                .collect();
            w.offers.push((pdu.call_id, offered));
        }
        PduType::Request => {
            if pdu.flags & PFC_FIRST_FRAG == 0 || w.calls.len() >= MAX_CALLS {
                return;
            }
            if let Some(r) = pdu.request() {
                w.calls.push(Call {
                    call_id: pdu.call_id,
                    context_id: r.context_id,
                    opnum: r.opnum,
                    le: pdu.little_endian,
                    stub: r.stub,
                    answered: false,
                    towers: 0,
                    status: None,
                    ndr64: None,
                });
            }
        }
        _ => {}
    }
}

fn on_answer(pdu: &dcerpc::Pdu<'_>, w: &mut Walk<'_>) {
    let Some(offered) = w
        .offers
        .iter()
        .find(|(id, _)| *id == pdu.call_id)
        .map(|(_, o)| o.clone())
    else {
        return;
    };
    for ((id, uuid), a) in offered.iter().zip(pdu.answers()) {
        if a.result != ContextResult::Accepted {
            continue;
        }
        let ndr64 = a
            .transfer
            .map(|t| Transfer::from(t.uuid) == Transfer::Ndr64);
        w.set_context(Ctx {
            id: *id,
            kind: Kind::of(uuid),
            ndr64,
        });
    }
}

/// Decodes one complete (or cut) response stub. Returns whether it was a call this module reads.
fn answer(
    l: &mut Learned,
    w: &mut Walk<'_>,
    call_id: u32,
    ctx_id: u16,
    stub: &[u8],
    pdu: dcerpc::Pdu<'_>,
    at: At,
) -> bool {
    let ctx = w.context(ctx_id);
    let kind = ctx.map(|c| c.kind);
    let call = w.calls.iter_mut().find(|c| c.call_id == call_id);
    let opnum = call.as_ref().map(|c| c.opnum);
    let le = pdu.little_endian;
    let cut = pdu.cut;
    let syntax = ctx.and_then(|c| c.ndr64);
    match (kind, opnum) {
        (Some(Kind::Foreign), _) => false,
        (Some(Kind::Epm) | None, Some(op @ (EPT_LOOKUP | EPT_MAP))) => {
            let op = if op == EPT_MAP {
                Op::EptMap
            } else {
                Op::EptLookup
            };
            match epm_answer(l, op, stub, le, syntax, cut, at) {
                Some((towers, status, wide)) => {
                    if let Some(c) = call {
                        c.answered = true;
                        c.towers = towers;
                        c.status = status;
                        c.ndr64 = Some(wide);
                    }
                    l.epm.answers = l.epm.answers.saturating_add(1);
                    true
                }
                None if kind == Some(Kind::Epm) => {
                    if let Some(c) = call {
                        c.answered = true;
                    }
                    l.malformed();
                    true
                }
                // No bind seen and not an endpoint-mapper answer: perhaps DCOM.
                None => dcom(l, call, None, opnum, stub, le, cut, at),
            }
        }
        (Some(Kind::Epm), None) => {
            // The request was not seen: the answer's shape says which operation it was.
            let found = epm_answer(l, Op::EptMap, stub, le, syntax, cut, at)
                .or_else(|| epm_answer(l, Op::EptLookup, stub, le, syntax, cut, at));
            if found.is_some() {
                l.epm.answers = l.epm.answers.saturating_add(1);
            } else {
                l.malformed();
            }
            true
        }
        (Some(Kind::Epm), Some(_)) => false,
        (k, op) => dcom(l, call, k, op, stub, le, cut, at),
    }
}

/// Reads a DCOM answer (`k`: the context's interface, `None` when no bind was seen). Returns
/// whether it was a call this module reads.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the answer's parts"
)]
fn dcom(
    l: &mut Learned,
    call: Option<&mut Call<'_>>,
    k: Option<Kind>,
    op: Option<u16>,
    stub: &[u8],
    le: bool,
    cut: bool,
    at: At,
) -> bool {
    let dcom_op = match (k, op) {
        (Some(Kind::ObjectExporter), Some(0)) => Op::ResolveOxid,
        (Some(Kind::ObjectExporter), Some(4)) => Op::ResolveOxid2,
        (Some(Kind::ObjectExporter), Some(5)) => Op::ServerAlive2,
        (Some(Kind::Activator), Some(3)) => Op::RemoteGetClassObject,
        (Some(Kind::Activator), Some(4)) => Op::RemoteCreateInstance,
        (Some(Kind::ObjectExporter | Kind::Activator), None) => Op::Dcom,
        (None, Some(0 | 3..=5)) => Op::Dcom,
        _ => return false,
    };
    let known = k.is_some();
    let n = dcom_answer(l, dcom_op, stub, le, at);
    if let Some(c) = call {
        if known || n > 0 {
            c.answered = true;
        }
    }
    if n > 0 {
        l.epm.answers = l.epm.answers.saturating_add(1);
        return true;
    }
    if known && !cut {
        // A successful answer carries bindings; a failed one (an HRESULT) does not.
        let failed = last_u32(stub, le).is_some_and(|s| s != 0);
        if !failed {
            l.malformed();
        }
    }
    known
}

/// The last u32 of a stub (the return status of every call read here).
fn last_u32(stub: &[u8], le: bool) -> Option<u32> {
    let at = stub.len().checked_sub(4)?;
    Ndr::new(stub, le, false).u32_at(at)
}

/// Counts the requests and records what each endpoint-mapper request asked for.
fn conclude(l: &mut Learned, w: &Walk<'_>) -> bool {
    let mut seen = false;
    for c in &w.calls {
        let kind = w_kind(&w.contexts, &w.offers, c.context_id);
        if !learnable(kind, c.opnum) {
            continue;
        }
        let syntax = w.context(c.context_id).and_then(|x| x.ndr64).or(c.ndr64);
        match (kind, c.opnum) {
            (Some(Kind::Epm) | None, EPT_MAP | EPT_LOOKUP) => {
                let op = if c.opnum == EPT_MAP {
                    Op::EptMap
                } else {
                    Op::EptLookup
                };
                let asked = asked_interface(op, c.stub, c.le, syntax);
                // Without a bind, only a stub that decodes (or an answer that did) says EPM.
                if kind.is_none() && asked.is_none() && c.ndr64.is_none() {
                    continue;
                }
                seen = true;
                if op == Op::EptMap {
                    l.epm.maps = l.epm.maps.saturating_add(1);
                } else {
                    l.epm.lookups = l.epm.lookups.saturating_add(1);
                }
                if syntax == Some(true) {
                    l.epm.ndr64 = true;
                }
                let a = Asked {
                    op,
                    interface: asked.flatten(),
                    answered: c.answered,
                    towers: c.towers,
                    status: c.status.filter(|s| *s != 0),
                };
                if l.epm.asked.len() < MAX_ASKED {
                    l.epm.asked.push(a);
                } else {
                    l.epm.asked_more = l.epm.asked_more.saturating_add(1);
                }
            }
            (Some(Kind::ObjectExporter | Kind::Activator), _) => {
                seen = true;
                l.epm.dcom = l.epm.dcom.saturating_add(1);
            }
            _ => {}
        }
    }
    seen
}

/// Why an NDR read stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    /// The bytes ended.
    Short,
    /// The bytes contradict the structure.
    Bad,
}

type R<T> = Result<T, Fail>;

/// A reader of NDR (C706 14) or NDR64 (MS-RPCE 2.2.5) primitives; alignment is relative to the
/// start of the stub (which the PDU puts at an 8-byte boundary).
struct Ndr<'a> {
    b: &'a [u8],
    pos: usize,
    le: bool,
    /// NDR64: pointers, conformances, offsets and counts are 8 bytes, aligned to 8.
    wide: bool,
}

impl<'a> Ndr<'a> {
    fn new(b: &'a [u8], le: bool, wide: bool) -> Self {
        Ndr {
            b,
            pos: 0,
            le,
            wide,
        }
    }

    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    fn align(&mut self, n: usize) -> R<()> {
        let p = self.pos.div_ceil(n).saturating_mul(n);
        if p > self.b.len() {
            return Err(Fail::Short);
        }
        self.pos = p;
        Ok(())
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Fail::Bad)?;
        let s = self.b.get(self.pos..end).ok_or(Fail::Short)?;
        self.pos = end;
        Ok(s)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let a: [u8; 4] = self.b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    fn u16(&mut self) -> R<u16> {
        self.align(2)?;
        let a: [u8; 2] = self.take(2)?.try_into().map_err(|_| Fail::Bad)?;
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    fn u32(&mut self) -> R<u32> {
        self.align(4)?;
        let a: [u8; 4] = self.take(4)?.try_into().map_err(|_| Fail::Bad)?;
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    fn u64(&mut self) -> R<u64> {
        self.align(8)?;
        let a: [u8; 8] = self.take(8)?.try_into().map_err(|_| Fail::Bad)?;
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    /// A pointer's referent id, a conformance, an offset or a count: 4 bytes in NDR, 8 in NDR64.
    fn long(&mut self) -> R<u64> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// Bytes one [`Ndr::long`] takes.
    fn long_len(&self) -> usize {
        if self.wide { 8 } else { 4 }
    }

    fn uuid(&mut self) -> R<Uuid> {
        self.align(4)?;
        let b = self.take(16)?;
        Uuid::parse(b, self.le).ok_or(Fail::Bad)
    }

    /// A `twr_t` (C706 appendix N): conformance, tower_length (equal to it), the octets.
    fn tower(&mut self) -> R<&'a [u8]> {
        let conf = self.long()?;
        let len = self.u32()?;
        if conf != u64::from(len) {
            return Err(Fail::Bad);
        }
        self.take(usize::try_from(len).map_err(|_| Fail::Bad)?)
    }

    /// The header of a conformant varying array whose length must be `expect`: max_count,
    /// offset (0), actual_count (≤ max_count). Returns the count, checked against the bytes
    /// left at `min_each` bytes per element.
    fn array(&mut self, expect: u32, min_each: usize) -> R<usize> {
        let max = self.long()?;
        let offset = self.long()?;
        let actual = self.long()?;
        if offset != 0 || actual > max || actual != u64::from(expect) {
            return Err(Fail::Bad);
        }
        let n = usize::try_from(actual).map_err(|_| Fail::Bad)?;
        if n.saturating_mul(min_each) > self.left() {
            // Either absurd or cut: the caller decides by whether the stub was cut.
            return Err(Fail::Short);
        }
        Ok(n.min(MAX_ENTRIES))
    }

    /// After the status: nothing but alignment padding may follow.
    fn end(&self) -> R<()> {
        if self.left() < 8 {
            Ok(())
        } else {
            Err(Fail::Bad)
        }
    }
}

/// One decoded tower.
#[derive(Debug, PartialEq, Eq)]
struct Floors {
    interface: Option<IfId>,
    protseq: Protseq,
    port: Option<u16>,
    ip: Option<Ipv4Addr>,
    name: Option<String>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_le_bytes(a))
}

fn be16(b: &[u8]) -> Option<u16> {
    let a: [u8; 2] = b.get(..2)?.try_into().ok()?;
    Some(u16::from_be_bytes(a))
}

/// A name from a floor's right-hand side, without its terminating NULs.
fn floor_text(mut b: &[u8]) -> Option<String> {
    while let Some((0, head)) = b.split_last() {
        b = head;
    }
    (!b.is_empty()).then(|| wire_text(b))
}

/// C706 appendix L: floor_count (u16, little-endian like every count in a tower), then floors
/// of `lhs_len u16, lhs (protocol id, data), rhs_len u16, rhs`. The interface is the first floor
/// (0x0d: UUID little-endian, major version; minor in the right-hand side); the fourth names the
/// protocol sequence's endpoint.
fn parse_tower(oct: &[u8]) -> Option<Floors> {
    let count = le16(oct, 0)?;
    if count == 0 || count > MAX_FLOORS {
        return None;
    }
    let mut rest = oct.get(2..)?;
    let mut f = Floors {
        interface: None,
        protseq: Protseq::Other,
        port: None,
        ip: None,
        name: None,
    };
    let mut rpc = 0u8;
    for i in 0..count {
        let lhs_len = usize::from(le16(rest, 0)?);
        let lhs = rest.get(2..2usize.checked_add(lhs_len)?)?;
        let rhs_at = 2 + lhs_len;
        let rhs_len = usize::from(le16(rest, rhs_at)?);
        let rhs = rest.get(rhs_at + 2..(rhs_at + 2).checked_add(rhs_len)?)?;
        rest = rest.get(rhs_at + 2 + rhs_len..)?;
        let (&id, data) = lhs.split_first()?;
        match (i, id) {
            (0, 0x0d) => {
                let uuid = Uuid::parse(data, true)?;
                f.interface = Some(IfId {
                    uuid,
                    major: le16(data, 16)?,
                    minor: le16(rhs, 0).unwrap_or(0),
                });
            }
            (0, _) => return None,
            (1, 0x0d) => {}
            (1, _) => return None,
            (2, p) => rpc = p,
            (3, 0x07) if rpc == 0x0b => {
                f.protseq = Protseq::Tcp;
                f.port = Some(be16(rhs)?);
            }
            (3, 0x08) if rpc == 0x0a => {
                f.protseq = Protseq::Udp;
                f.port = Some(be16(rhs)?);
            }
            (3, 0x1f) => {
                f.protseq = Protseq::Http;
                f.port = Some(be16(rhs)?);
            }
            (3, 0x0f) => {
                f.protseq = Protseq::NamedPipe;
                f.name = floor_text(rhs);
            }
            (3, 0x10) => {
                f.protseq = Protseq::Lrpc;
                f.name = floor_text(rhs);
            }
            (3, 0x11) => {
                f.protseq = Protseq::NetBios;
                f.name = floor_text(rhs);
            }
            (_, 0x09) if i >= 3 => {
                let a: [u8; 4] = rhs.get(..4)?.try_into().ok()?;
                f.ip = Some(Ipv4Addr::from(a));
            }
            (_, 0x11) if i >= 4 && f.name.is_none() => f.name = floor_text(rhs),
            _ => {}
        }
    }
    Some(f)
}

/// What an endpoint-mapper answer gave: towers, status, and whether it was NDR64.
type EpmResult = (u32, Option<u32>, bool);

/// Decodes an ept_map or ept_lookup answer in the syntax the context says, or, when it is not
/// known, in NDR and then NDR64 (each checked strictly, so at most one fits).
fn epm_answer(
    l: &mut Learned,
    op: Op,
    stub: &[u8],
    le: bool,
    syntax: Option<bool>,
    cut: bool,
    at: At,
) -> Option<EpmResult> {
    let order: &[bool] = match syntax {
        Some(true) => &[true],
        Some(false) => &[false],
        None => &[false, true],
    };
    for &wide in order {
        let mut towers = Vec::new();
        let r = if op == Op::EptMap {
            map_answer(stub, le, wide, &mut towers)
        } else {
            lookup_answer(stub, le, wide, &mut towers)
        };
        let status = match r {
            Ok(s) => Some(s),
            Err(Fail::Short) if cut => None,
            Err(_) => continue,
        };
        let n = u32::try_from(towers.len()).unwrap_or(u32::MAX);
        if wide {
            l.epm.ndr64 = true;
        }
        for (floors, annotation) in towers {
            record_tower(l, op, floors, annotation, at);
        }
        return Some((n, status, wide));
    }
    None
}

fn record_tower(l: &mut Learned, op: Op, f: Floors, annotation: Option<String>, at: At) {
    let transport = match f.protseq {
        Protseq::Tcp => Some(Transport::Tcp),
        Protseq::Udp => Some(Transport::Udp),
        _ => None,
    };
    if let (Some(transport), Some(port)) = (transport, f.port) {
        l.push_endpoint(Endpoint {
            interface: f.interface,
            transport,
            port,
            ip: f.ip.filter(|ip| !ip.is_unspecified()).map(IpAddr::V4),
            host: None,
            dcom: false,
            op,
            at,
        });
    }
    l.push_tower(Tower {
        op,
        interface: f.interface,
        protseq: f.protseq,
        port: f.port,
        ip: f.ip,
        name: f.name,
        annotation,
    });
}

type Found = Vec<(Floors, Option<String>)>;

/// ept_map's out parameters (C706 appendix O): entry_handle (20 bytes), num_towers,
/// towers[max_towers] of `twr_p_t` with length num_towers (pointers, then the towers they
/// point to), status. Returns the status; towers found are pushed as they decode.
fn map_answer(stub: &[u8], le: bool, wide: bool, out: &mut Found) -> R<u32> {
    let mut r = Ndr::new(stub, le, wide);
    r.take(20)?;
    let num = r.u32()?;
    let n = r.array(num, r.long_len())?;
    let mut ptrs = Vec::new();
    for _ in 0..n {
        ptrs.push(r.long()?);
    }
    for p in ptrs {
        if p == 0 {
            continue;
        }
        let oct = r.tower()?;
        out.push((parse_tower(oct).ok_or(Fail::Bad)?, None));
    }
    let status = r.u32()?;
    r.end()?;
    Ok(status)
}

/// ept_lookup's out parameters: entry_handle, num_ents, entries[max_ents] of ept_entry_t
/// `{ uuid object; twr_p_t tower; [string] char annotation[64]; }` with length num_ents, the
/// towers after the array, status.
fn lookup_answer(stub: &[u8], le: bool, wide: bool, out: &mut Found) -> R<u32> {
    let mut r = Ndr::new(stub, le, wide);
    r.take(20)?;
    let num = r.u32()?;
    let each = 16 + 3 * r.long_len();
    let n = r.array(num, each)?;
    let mut entries = Vec::new();
    for _ in 0..n {
        r.align(if wide { 8 } else { 4 })?;
        r.uuid()?;
        let p = r.long()?;
        let offset = r.long()?;
        let count = r.long()?;
        let count = usize::try_from(count).map_err(|_| Fail::Bad)?;
        if offset != 0 || count > MAX_ANNOTATION {
            return Err(Fail::Bad);
        }
        let text = r.take(count)?;
        entries.push((p, floor_text(text)));
    }
    for (p, annotation) in entries {
        if p == 0 {
            continue;
        }
        let oct = r.tower()?;
        out.push((parse_tower(oct).ok_or(Fail::Bad)?, annotation));
    }
    let status = r.u32()?;
    r.end()?;
    Ok(status)
}

/// The interface an ept_map or ept_lookup request asks for. `None`: the stub did not decode;
/// `Some(None)`: it decoded and names no interface (lookup of all entries, no map tower).
fn asked_interface(op: Op, stub: &[u8], le: bool, syntax: Option<bool>) -> Option<Option<IfId>> {
    let order: &[bool] = match syntax {
        Some(true) => &[true],
        Some(false) => &[false],
        None => &[false, true],
    };
    order.iter().find_map(|&wide| {
        let mut r = Ndr::new(stub, le, wide);
        let got = if op == Op::EptMap {
            map_request(&mut r)
        } else {
            lookup_request(&mut r)
        };
        got.ok()
    })
}

/// ept_map's in parameters: object (unique uuid), map_tower (unique twr_t), entry_handle,
/// max_towers.
fn map_request(r: &mut Ndr<'_>) -> R<Option<IfId>> {
    if r.long()? != 0 {
        r.uuid()?;
    }
    if r.long()? == 0 {
        return Ok(None);
    }
    let oct = r.tower()?;
    let f = parse_tower(oct).ok_or(Fail::Bad)?;
    r.take(20)?;
    r.u32()?;
    r.end()?;
    Ok(f.interface)
}

/// ept_lookup's in parameters: inquiry_type, object (unique uuid), Ifid (unique rpc_if_id_t:
/// uuid, major u16, minor u16), vers_option, entry_handle, max_ents.
fn lookup_request(r: &mut Ndr<'_>) -> R<Option<IfId>> {
    let inquiry = r.u32()?;
    if inquiry > 5 {
        return Err(Fail::Bad);
    }
    if r.long()? != 0 {
        r.uuid()?;
    }
    let mut ifid = None;
    if r.long()? != 0 {
        let uuid = r.uuid()?;
        let major = r.u16()?;
        let minor = r.u16()?;
        ifid = Some(IfId { uuid, major, minor });
    }
    let vers_option = r.u32()?;
    if vers_option > 5 {
        return Err(Fail::Bad);
    }
    r.take(20)?;
    r.u32()?;
    r.end()?;
    // rpc_c_ep_match_by_if (1) and rpc_c_ep_match_by_both (3) use the interface.
    Ok(ifid.filter(|_| matches!(inquiry, 1 | 3)))
}

/// One string binding of a DUALSTRINGARRAY.
#[derive(Debug, PartialEq, Eq)]
struct StringBinding {
    tower_id: u16,
    host: String,
    port: Option<u16>,
}

/// Finds the DUALSTRINGARRAYs of a DCOM answer and records their bindings. Returns how many
/// arrays were found.
///
/// The arrays are found by structure rather than by walking each call's out parameters, so
/// that the activator's answers (whose ScmReplyInfoData sits inside a serialised
/// activation-properties blob) are read the same way as the resolver's: at each offset, a
/// conformance N (4 bytes in NDR, 8 in NDR64) followed by wNumEntries = N and
/// wSecurityOffset ≤ N - 2, then N 16-bit units that hold at least one string binding of a
/// known-range tower id and printable characters, terminated as MS-DCOM 2.2.19.1 says (a NUL
/// after each string, another after the last one, and a NUL at the end of the security part).
/// The scan is bounded by the stub and [`MAX_SCAN_UNITS`]; a match moves the scan past it.
fn dcom_answer(l: &mut Learned, op: Op, stub: &[u8], le: bool, at: At) -> usize {
    let mut found = 0;
    let mut o = 0usize;
    let mut budget = MAX_SCAN_UNITS;
    while o < stub.len() && found < MAX_DSAS && budget > 0 {
        match dsa_at(stub, o, le, &mut budget) {
            Some((end, bindings)) => {
                found += 1;
                for b in bindings {
                    record_binding(l, op, b, at);
                }
                o = end;
            }
            None => o += 1,
        }
    }
    found
}

fn unit(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

/// A DUALSTRINGARRAY at `o`, NDR or NDR64: the end offset and its string bindings.
fn dsa_at(
    stub: &[u8],
    o: usize,
    le: bool,
    budget: &mut usize,
) -> Option<(usize, Vec<StringBinding>)> {
    let r = Ndr::new(stub, le, false);
    let n32 = r.u32_at(o)?;
    let n = usize::try_from(n32).ok()?;
    if !(4..=MAX_DSA_UNITS).contains(&n) {
        return None;
    }
    // NDR: conformance u32; NDR64: conformance u64 (high half zero).
    let body = if unit(stub, o + 4, le) == Some(u16::try_from(n).ok()?) {
        o + 4
    } else if r.u32_at(o + 4) == Some(0) && unit(stub, o + 8, le) == u16::try_from(n).ok() {
        o + 8
    } else {
        return None;
    };
    let sec = usize::from(unit(stub, body + 2, le)?);
    if sec < 2 || sec.checked_add(2)? > n {
        return None;
    }
    let arr = body + 4;
    let u = |i: usize| unit(stub, arr + 2 * i, le);
    // The terminators: two NULs end the string bindings, one ends the security bindings.
    if u(sec - 1)? != 0 || u(sec - 2)? != 0 || u(n - 1)? != 0 {
        return None;
    }
    // Charged up front: the walk below reads at most `sec` units.
    *budget = budget.saturating_sub(sec);
    let mut bindings = Vec::new();
    let mut i = 0usize;
    while i < sec - 1 {
        let tower_id = u(i)?;
        if tower_id == 0 {
            break;
        }
        if tower_id > 0x1f {
            return None;
        }
        i += 1;
        let start = i;
        while i < sec - 1 && u(i)? != 0 {
            let c = u(i)?;
            if c < 0x20 || c == 0x7f {
                return None;
            }
            i += 1;
        }
        if i == start || u(i)? != 0 {
            return None;
        }
        let chars = (start..i).filter_map(u);
        bindings.push(binding(tower_id, chars));
        i += 1;
    }
    if bindings.is_empty() || i != sec - 1 {
        return None;
    }
    Some((arr + 2 * n, bindings))
}

/// `host[port]` (or `host`) from a binding's UTF-16 text, bounded by [`MAX_TEXT`].
fn binding(tower_id: u16, chars: impl Iterator<Item = u16>) -> StringBinding {
    let mut text = String::new();
    for c in char::decode_utf16(chars) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        if text.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        text.push(c);
    }
    let (host, port) = match text.rfind('[') {
        Some(i) if text.ends_with(']') => {
            let port = text.get(i + 1..text.len() - 1).and_then(|p| p.parse().ok());
            (text.get(..i).unwrap_or("").to_owned(), port)
        }
        _ => (text, None),
    };
    StringBinding {
        tower_id,
        host,
        port,
    }
}

fn record_binding(l: &mut Learned, op: Op, b: StringBinding, at: At) {
    let protseq = Protseq::from_tower_id(b.tower_id);
    let transport = match protseq {
        Protseq::Tcp => Some(Transport::Tcp),
        Protseq::Udp => Some(Transport::Udp),
        _ => None,
    };
    if let (Some(transport), Some(port)) = (transport, b.port) {
        l.push_endpoint(Endpoint {
            interface: None,
            transport,
            port,
            ip: b.host.parse().ok(),
            host: Some(b.host.clone()),
            dcom: true,
            op,
            at,
        });
    }
    l.push_binding(Binding {
        op,
        tower_id: b.tower_id,
        protseq,
        host: b.host,
        port: b.port,
    });
}

impl fmt::Display for Protseq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protseq::Tcp => "ncacn_ip_tcp",
            Protseq::Udp => "ncadg_ip_udp",
            Protseq::Http => "ncacn_http",
            Protseq::NamedPipe => "ncacn_np",
            Protseq::Lrpc => "ncalrpc",
            Protseq::NetBios => "ncacn_nb_tcp",
            Protseq::Other => "other",
        })
    }
}

#[cfg(test)]
mod tests;
