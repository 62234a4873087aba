//! Decoder throughput: `Decoder::decode` over frames built by `exaudit::testkit` and held in
//! memory, so only decoding is timed (no file reading, no flow table). Throughput is the captured
//! bytes of the frames decoded per second.
//!
//! Cases: short TCP sessions (handshake, a 300-byte request, a 1200-byte answer, FIN close) over
//! Ethernet with IPv4, the same inside an 802.1Q VLAN tag, the same over IPv6, and DNS-sized UDP
//! query/answer pairs over Ethernet with IPv4.
//!
//! `cargo bench --bench decode`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exaudit::decode::{DecodeConfig, Decoder};
use exaudit::source::RawPacket;
use exaudit::testkit::{Capture, Dir, Frame, take_frames};

/// Sessions (or UDP exchanges) per case: enough frames that one pass is well above timer
/// resolution, few enough to stay in cache like a read buffer does.
const FLOWS: u16 = 1000;

fn client(v6: bool, i: u16) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 0, 10 + i % 3000))
    } else {
        let [hi, lo] = (10 + i % 3000).to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(10, 20, hi, lo))
    }
}

fn server(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 1, 10))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10))
    }
}

fn tcp_sessions(vlans: &[u16], v6: bool) -> Vec<Frame> {
    let mut cap = Capture::new();
    cap.vlans(vlans);
    let request = vec![0x17u8; 300];
    let answer = vec![0x17u8; 1200];
    for i in 0..FLOWS {
        let c = SocketAddr::new(client(v6, i), 49152 + i);
        let mut conv = cap.tcp(c, SocketAddr::new(server(v6), 443));
        conv.handshake();
        conv.client_sends(&request);
        conv.server_sends(&answer);
        conv.ack(Dir::ToServer);
        conv.close();
    }
    take_frames(&mut cap)
}

fn udp_exchanges() -> Vec<Frame> {
    let mut cap = Capture::new();
    let query = vec![0x01u8; 40];
    let answer = vec![0x81u8; 200];
    for i in 0..FLOWS {
        let c = SocketAddr::new(client(false, i), 49152 + i);
        let s = SocketAddr::new(server(false), 53);
        cap.udp(c, s, &query);
        cap.udp(s, c, &answer);
    }
    take_frames(&mut cap)
}

fn captured_bytes(frames: &[Frame]) -> u64 {
    frames.iter().map(|f| f.data.len() as u64).sum()
}

/// Decodes every frame once; returns a value that depends on every result.
fn decode_all(decoder: &mut Decoder, frames: &[Frame]) -> u64 {
    let mut sum = 0u64;
    for f in frames {
        let pkt = RawPacket {
            ts: f.ts,
            link: f.link,
            data: &f.data,
            orig_len: f.orig_len,
        };
        if let Some(d) = decoder.decode(&pkt) {
            sum += u64::from(d.ip_len) + u64::from(d.ip_proto);
            black_box(&d);
        }
    }
    sum
}

fn bench_decode(c: &mut Criterion) {
    let cases: [(&str, Vec<Frame>); 4] = [
        ("ethernet_ipv4_tcp", tcp_sessions(&[], false)),
        ("vlan_ipv4_tcp", tcp_sessions(&[120], false)),
        ("ethernet_ipv6_tcp", tcp_sessions(&[], true)),
        ("ethernet_ipv4_udp", udp_exchanges()),
    ];
    let mut group = c.benchmark_group("decode");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, frames) in &cases {
        group.throughput(Throughput::Bytes(captured_bytes(frames)));
        let mut decoder = Decoder::new(DecodeConfig::default());
        group.bench_function(*name, |b| {
            b.iter(|| decode_all(&mut decoder, black_box(frames)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
