//! Flow-table throughput: decode plus `FlowTable::observe` over a mix built by
//! `exaudit::testkit` and held in memory, driven the way `exaudit::run` drives them (records
//! drained and recycled as they come out). The report is not written. Throughput is the captured
//! bytes of the frames per second.
//!
//! The mix: 4000 short TCP sessions (handshake, one or two request/answer exchanges of 100 to
//! 1600 bytes, FIN close; every tenth ends with a RST instead), 4000 DNS-sized UDP query/answer
//! pairs and 200 unanswered SYNs, over 3000 client addresses: 49 600 packets. Flows are
//! interleaved, 1000 open at once taking turns, 50 µs of capture time apart, so the table holds
//! thousands of flows and consecutive packets belong to different flows, as on a real capture.
//!
//! - `decode_only`: the decoder alone over the same frames; the difference is the table's share.
//! - `decode_observe`: the steady state of a long capture. One table serves every pass; each pass
//!   is shifted an hour later, so its first packet expires the previous pass's flows (each flow
//!   is written once per pass) and payload buffers come from the pool's free list.
//! - `decode_observe_fresh_table`: a new table per pass plus `finish`, the start of a run, where
//!   every flow's payload buffer is a fresh allocation.
//!
//! `cargo bench --bench flow`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::flow::{FlowConfig, FlowRecord, FlowTable};
use exaudit::source::RawPacket;
use exaudit::stats::FlowStats;
use exaudit::testkit::{Capture, Dir, Frame, flags, take_frames};
use exaudit::time::{Duration as CaptureDuration, Timestamp};

const TCP_SESSIONS: u16 = 4000;
const UDP_EXCHANGES: u16 = 4000;
const UNANSWERED: u16 = 200;
/// Flows open at once in the interleaving.
const WINDOW: usize = 1000;
/// Capture time between consecutive packets.
const GAP_MICROS: u64 = 50;

fn client(i: u16) -> IpAddr {
    let [hi, lo] = (10 + i % 3000).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(10, 20, hi, lo))
}

fn server(i: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        10,
        0,
        1,
        10 + u8::try_from(i % 8).unwrap_or(0),
    ))
}

/// Each flow's frames, in flow order.
fn flows() -> Vec<Vec<Frame>> {
    let mut cap = Capture::new();
    let mut out = Vec::new();
    for i in 0..TCP_SESSIONS {
        let c = SocketAddr::new(client(i), 49152 + i);
        let mut conv = cap.tcp(
            c,
            SocketAddr::new(server(i), [443, 389, 135, 25][usize::from(i % 4)]),
        );
        conv.handshake();
        for x in 0..1 + i % 2 {
            let q = vec![0x30u8; 100 + usize::from((i * 7 + x) % 400)];
            let a = vec![0x30u8; 200 + usize::from((i * 13 + x) % 1400)];
            conv.client_sends(&q);
            conv.server_sends(&a);
            conv.ack(Dir::ToServer);
        }
        if i % 10 == 0 {
            conv.rst(Dir::ToClient);
        } else {
            conv.close();
        }
        out.push(take_frames(&mut cap));
    }
    for i in 0..UDP_EXCHANGES {
        let c = SocketAddr::new(client(i + 1500), 50000 + i);
        let s = SocketAddr::new(server(i), 53);
        cap.udp(c, s, &vec![0x01u8; 30 + usize::from(i % 30)]);
        cap.udp(s, c, &vec![0x81u8; 60 + usize::from(i % 300)]);
        out.push(take_frames(&mut cap));
    }
    for i in 0..UNANSWERED {
        let c = SocketAddr::new(client(i + 700), 60000 + i);
        let mut conv = cap.tcp(c, SocketAddr::new(server(i), 445));
        let syn = conv.next_segment(Dir::ToServer, flags::SYN, &[]);
        conv.emit(syn.clone());
        conv.emit(syn);
        out.push(take_frames(&mut cap));
    }
    out
}

/// Interleaves flows: `WINDOW` open at once, one packet per turn, in a fixed order that mixes
/// the kinds; times are rewritten to be `GAP_MICROS` apart.
fn interleave(flows: Vec<Vec<Frame>>) -> Vec<Frame> {
    // Alternate kinds in the queue (TCP, UDP, TCP, UDP …, then the SYNs spread in).
    let n = flows.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (i * 7919) % n);
    let mut queue = order.into_iter();
    let mut slots: Vec<Option<std::vec::IntoIter<Frame>>> = Vec::new();
    let mut flows: Vec<Option<Vec<Frame>>> = flows.into_iter().map(Some).collect();
    let mut next = |q: &mut dyn Iterator<Item = usize>| {
        q.next()
            .and_then(|i| flows.get_mut(i).and_then(Option::take))
            .map(Vec::into_iter)
    };
    for _ in 0..WINDOW {
        slots.push(next(&mut queue));
    }
    let mut now = Timestamp::from_parts(1_767_603_600, 0, 1);
    let mut out = Vec::new();
    loop {
        let mut any = false;
        for slot in slots.iter_mut() {
            let Some(it) = slot else { continue };
            any = true;
            match it.next() {
                Some(mut f) => {
                    now = now.saturating_add(CaptureDuration::from_nanos(GAP_MICROS * 1000));
                    f.ts = now;
                    out.push(f);
                }
                None => *slot = next(&mut queue),
            }
        }
        if !any {
            break;
        }
    }
    out
}

fn raw(f: &Frame, shift: CaptureDuration) -> RawPacket<'_> {
    RawPacket {
        ts: f.ts.saturating_add(shift),
        link: f.link,
        data: &f.data,
        orig_len: f.orig_len,
    }
}

/// A decoder and a flow table that live across passes, as they do across a long capture.
struct Pipeline {
    decoder: Decoder,
    table: FlowTable,
    st: FlowStats,
    done: Vec<FlowRecord>,
}

impl Pipeline {
    fn new() -> Self {
        Self {
            decoder: Decoder::new(DecodeConfig::default()),
            table: FlowTable::new(FlowConfig::default()),
            st: FlowStats::default(),
            done: Vec::new(),
        }
    }

    /// What `exaudit::run` does per packet, minus reading and the report: decode, observe, and
    /// drain and recycle the records that come out.
    fn pass(&mut self, frames: &[Frame], shift: CaptureDuration) -> u64 {
        let mut sum = 0u64;
        for f in frames {
            let pkt = raw(f, shift);
            let truncated = (pkt.data.len() as u64) < u64::from(pkt.orig_len);
            if let Some(d) = self.decoder.decode(&pkt) {
                self.table
                    .observe(pkt.ts, &d, truncated, &mut self.st, &mut self.done);
            }
            for rec in &mut self.done {
                sum += black_box(rec.orig_counts.pkts);
                self.table.recycle(rec);
            }
            self.done.clear();
        }
        sum
    }

    /// The input ended: every open flow is written.
    fn finish(&mut self) -> u64 {
        let mut sum = 0u64;
        self.table.finish(&mut self.st, &mut self.done);
        for rec in &mut self.done {
            sum += black_box(rec.orig_counts.pkts);
            self.table.recycle(rec);
        }
        self.done.clear();
        sum
    }
}

fn decode_only(decoder: &mut Decoder, frames: &[Frame]) -> u64 {
    let mut sum = 0u64;
    for f in frames {
        if let Some(d) = decoder.decode(&raw(f, CaptureDuration::ZERO)) {
            sum += u64::from(d.ip_len);
            black_box(&d);
        }
    }
    sum
}

fn bench_flow(c: &mut Criterion) {
    let frames = interleave(flows());
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    let mut group = c.benchmark_group("flow");
    // Flat sampling: a pass takes tens of milliseconds, too long for criterion's linear ramp of
    // iteration counts to fit 20 samples in 5 s.
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(bytes));
    let mut decoder = Decoder::new(DecodeConfig::default());
    group.bench_function("decode_only", |b| {
        b.iter(|| decode_only(&mut decoder, black_box(&frames)));
    });
    // Steady state: one table for every pass, each pass an hour of capture time after the one
    // before, so its first packet expires the previous pass's flows (timed: every flow is written
    // once per pass, as in a long capture) and their payload buffers are reused.
    let mut p = Pipeline::new();
    let mut hour = 0u64;
    group.bench_function("decode_observe", |b| {
        b.iter(|| {
            hour += 1;
            p.pass(black_box(&frames), CaptureDuration::from_secs(hour * 3600))
        });
    });
    // Start-up: a fresh table per pass (made and dropped outside the timed part), so every
    // flow's payload buffer is a new allocation; `finish` writes the flows at the end.
    group.bench_function("decode_observe_fresh_table", |b| {
        b.iter_batched(
            Pipeline::new,
            |mut p| {
                let n = p.pass(black_box(&frames), CaptureDuration::ZERO) + p.finish();
                (p, n)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench_flow);
criterion_main!(benches);
