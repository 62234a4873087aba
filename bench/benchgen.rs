//! Writes a large, reproducible capture for benchmarking `exaudit audit` against `tcpdump`.
//!
//! ```text
//! cargo run --release --example benchgen -- --out bench/data/bench-1g.pcap
//! cargo run --release --example benchgen -- --out big.pcap --target-bytes 2147483648
//! cargo run --release --example benchgen -- --out slice.pcap --target-bytes 50000000
//! ```
//!
//! The same arguments give the same bytes: every choice comes from one SplitMix64 stream seeded
//! by `--seed`, and packets are built by `exaudit::testkit` (etherparse's `PacketBuilder`).
//! Frames are streamed to the file as they are scheduled (`testkit::PcapStreamWriter`); memory
//! holds only the flows in the window.
//!
//! Size. `--target-bytes` (default 1 GiB) sets the file size and `--flows` (default one flow per
//! KiB of target: 1 048 576 for 1 GiB) the number of flows. Without the bulk transfers the mix
//! below averages about 930 bytes of file per flow; each bulk transfer is sized when it starts,
//! to spread the bytes still missing over the bulk transfers still expected (±50 %, between
//! 64 KiB and 8 MiB), so the file ends near the target. Seed 1 with the defaults gives
//! 1 075 502 230 bytes, 6 033 701 packets, 1 048 576 flows (352 bulk, 270 KiB on average).
//! Packets are small (178 bytes per record on average), as on a network where DNS, LDAP and
//! Kerberos make most of the flows.
//!
//! Mix (share of flows; sizes are payload bytes, skewed towards the low end of each range):
//!
//! | share   | kind                   | packets                                                   |
//! |---------|------------------------|-----------------------------------------------------------|
//! | 45 %    | DNS, UDP 53            | query 30–60 B, answer 60–400 B; 3 % unanswered            |
//! | 4 %     | Kerberos, UDP 88       | AS/TGS-REQ 200–500 B, reply 600–1400 B                    |
//! | 1.5 %   | ICMP                   | 1–4 echo request/reply pairs; 1 in 5 is a UDP probe to a  |
//! |         |                        | closed port answered by port unreachable (type 3 code 3)  |
//! | 4 %     | TCP, unanswered SYN    | 1–3 identical SYNs (S0)                                   |
//! | 3 %     | TCP, refused           | SYN, RST-ACK (REJ)                                        |
//! | 5 %     | TCP, reset             | handshake, one request/answer, RST from either side       |
//! | 37.47 % | TCP, closed with FIN   | handshake, request/answer exchanges in MSS (1460 B)       |
//! |         |                        | segments, an ACK every second segment and after each      |
//! |         |                        | answer, FIN close from either side (3 or 4 packets)       |
//! | 0.03 %  | TCP bulk               | handshake, request, then hundreds of KiB in MSS segments  |
//! |         |                        | (download on 443/445, upload on 25), ACK every 2 segments |
//!
//! TCP services (share of the TCP sessions; request, answer, exchanges): 443 EWS/MAPI/ActiveSync
//! 42 % (100–900, 60–2000, 1–2), 389 LDAP 22 % and 3268 global catalog 6 % (60–300, 40–1200,
//! 1–2), 135 RPC endpoint mapper 10 % (72–160, 60–200, 1), 88 Kerberos 6 % (1100–1700,
//! 900–1800, 1), 445 SMB 10 % (70–300, 80–900, 1–2), 25 SMTP 4 % (banner, EHLO, MAIL, RCPT,
//! DATA with a 200–4000-byte message, QUIT). Attempts that fail go to 445, 135, 443, 3389, 5985
//! or a random registered port. Payloads start like their protocol (TLS record, BER SEQUENCE,
//! DCE/RPC header, SMB2 magic, DNS header and question, SMTP lines); the rest is random bytes.
//!
//! Hosts: 3000 clients (10.20.0.0/16, every 8th on VLAN 120; 5 % of DNS, HTTPS and failed TCP
//! attempts and 10 % of pings use IPv6, fd00:20::/64), 4 Exchange mailbox servers, 2 Edge
//! servers, 6 domain controllers (DNS, Kerberos, LDAP), 250 external SMTP peers: 3262 hosts. 15 %
//! of DNS, Kerberos, ICMP, LDAP, SMB, HTTPS and RPC flows start at a mailbox server; SMTP runs
//! Internet → Edge, Edge → mailbox, mailbox → mailbox and mailbox → Edge. Client ports come from
//! a per-host counter over 49152–65535, as Windows allocates them.
//!
//! Time: `--window` flows (default 2000) are open at once and take turns, one packet per turn
//! (a bulk transfer sends up to four): consecutive packets of a flow are about `window` packets
//! apart, and when a flow has sent its last packet a new one takes its slot. The capture clock
//! advances 1–99 µs (uniform, mean 50 µs, `--mean-gap-us`) per packet, so the 1 GiB file spans
//! about five minutes of capture time and, with Zeek's timeouts (UDP 60 s, close linger 5 s),
//! exaudit's flow table holds about 120 000 flows at once.
//!
//! Next to FILE it writes FILE.info (`key=value` lines: flows, packets, bytes, per-kind counts),
//! which `bench/run.sh` reads.

#![allow(
    clippy::print_stderr,
    reason = "a command-line generator reports progress and totals on stderr"
)]

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use exaudit::source::LinkType;
use exaudit::testkit::{
    Capture, Dir, Frame, PcapStreamWriter, TcpConv, flags, pcap_record_bytes, take_frames,
};
use exaudit::time::{Duration, Timestamp};

#[derive(Parser, Debug)]
#[command(about = "Write a reproducible benchmark capture (legacy pcap, Ethernet)")]
struct Args {
    /// Output file
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Number of flows (default: one per KiB of --target-bytes)
    #[arg(long, value_name = "N")]
    flows: Option<u64>,
    /// PRNG seed
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Approximate file size in bytes (default: 1 GiB, or 1 KiB per flow when --flows is given)
    #[arg(long, value_name = "B")]
    target_bytes: Option<u64>,
    /// Flows open at once, taking turns
    #[arg(long, value_name = "N", default_value_t = 2000)]
    window: usize,
    /// Mean capture time between consecutive packets, in microseconds
    #[arg(long, value_name = "US", default_value_t = 50)]
    mean_gap_us: u64,
}

/// TCP maximum segment size on Ethernet (1500 − 20 − 20).
const MSS: usize = 1460;
/// Bytes a pure TCP ACK takes in the file: record header, Ethernet, IPv4, TCP.
const ACK_RECORD_BYTES: u64 = 16 + 14 + 20 + 20;
/// Bulk transfers never go below or above these payload sizes.
const BULK_MIN: u64 = 64 << 10;
const BULK_MAX: u64 = 8 << 20;
/// Share of bulk transfers among all flows, in millionths (0.03 %).
const BULK_PER_MILLION: u64 = 300;
/// Before this many flows the mix has no bulk transfer (the per-flow average is not known yet).
const BULK_WARMUP_FLOWS: u64 = 2000;
/// 2026-01-05T09:00:00Z, the testkit's start of capture.
const START_SECS: u64 = 1_767_603_600;

// ---- PRNG ------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; Lemire's multiply-shift, bias below 2^-32 for our `n`).
    fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next() >> 32) * u128::from(n);
        u64::try_from(wide >> 32).unwrap_or(0)
    }

    fn below_usize(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// Uniform in `a..=b`.
    fn range(&mut self, a: u64, b: u64) -> u64 {
        a + self.below(b - a + 1)
    }

    /// Between `a` and `b`, skewed towards `a` (a uniform draw below a uniform draw).
    fn skewed(&mut self, a: usize, b: usize) -> usize {
        let span = self.below((b - a) as u64 + 1);
        a + usize::try_from(self.below(span + 1)).unwrap_or(0)
    }

    /// True with probability `n` per thousand.
    fn permille(&mut self, n: u64) -> bool {
        self.below(1000) < n
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below_usize(xs.len())]
    }
}

// ---- hosts -----------------------------------------------------------------------------------

const CLIENTS: usize = 3000;
const MAILBOX: usize = 4;
const EDGE: usize = 2;
const DCS: usize = 6;
const EXTERNAL: usize = 250;

struct Host {
    v4: Ipv4Addr,
    v6: Option<Ipv6Addr>,
    vlan: Option<u16>,
    /// Next ephemeral port this host uses as a client.
    next_port: u16,
}

struct Hosts {
    all: Vec<Host>,
    clients: std::ops::Range<usize>,
    mailbox: std::ops::Range<usize>,
    edge: std::ops::Range<usize>,
    dcs: std::ops::Range<usize>,
    external: std::ops::Range<usize>,
}

/// Windows' dynamic port range (RFC 6335 §6).
const EPHEMERAL: std::ops::RangeInclusive<u16> = 49152..=65535;

impl Hosts {
    fn new(rng: &mut Rng) -> Self {
        let mut all = Vec::new();
        let mut add = |v4: Ipv4Addr, v6: Option<Ipv6Addr>, vlan: Option<u16>, rng: &mut Rng| {
            let start = u16::try_from(rng.range(49152, 65535)).unwrap_or(49152);
            all.push(Host {
                v4,
                v6,
                vlan,
                next_port: start,
            });
            all.len() - 1
        };
        let c0 = 0;
        for i in 0..CLIENTS {
            let n = u16::try_from(i + 10).unwrap_or(0);
            let [hi, lo] = n.to_be_bytes();
            let v4 = Ipv4Addr::new(10, 20, hi, lo);
            let v6 = Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 0, n);
            let vlan = (i % 8 == 0).then_some(120);
            add(v4, Some(v6), vlan, rng);
        }
        let c1 = c0 + CLIENTS;
        for i in 0..MAILBOX {
            let n = u8::try_from(i + 10).unwrap_or(0);
            let v6 = Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 1, u16::from(n));
            add(Ipv4Addr::new(10, 0, 1, n), Some(v6), None, rng);
        }
        let m1 = c1 + MAILBOX;
        for i in 0..EDGE {
            let n = u8::try_from(i + 10).unwrap_or(0);
            add(Ipv4Addr::new(10, 0, 2, n), None, None, rng);
        }
        let e1 = m1 + EDGE;
        for i in 0..DCS {
            let n = u8::try_from(i + 10).unwrap_or(0);
            let v6 = Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 2, u16::from(n));
            add(Ipv4Addr::new(10, 0, 0, n), Some(v6), None, rng);
        }
        let d1 = e1 + DCS;
        for i in 0..EXTERNAL {
            let n = u8::try_from(i % 250 + 1).unwrap_or(1);
            let net = if i % 2 == 0 { 100 } else { 113 };
            let a = if net == 100 {
                Ipv4Addr::new(198, 51, 100, n)
            } else {
                Ipv4Addr::new(203, 0, 113, n)
            };
            add(a, None, None, rng);
        }
        let x1 = d1 + EXTERNAL;
        Self {
            all,
            clients: c0..c1,
            mailbox: c1..m1,
            edge: m1..e1,
            dcs: e1..d1,
            external: d1..x1,
        }
    }

    fn any(&self, rng: &mut Rng, r: &std::ops::Range<usize>) -> usize {
        r.start + rng.below_usize(r.len())
    }

    fn ephemeral(&mut self, h: usize) -> u16 {
        let Some(host) = self.all.get_mut(h) else {
            return *EPHEMERAL.start();
        };
        let p = host.next_port;
        host.next_port = if p == *EPHEMERAL.end() {
            *EPHEMERAL.start()
        } else {
            p + 1
        };
        p
    }
}

/// The two ends of a flow: addresses (same family), the client's VLAN.
struct Ends {
    client: IpAddr,
    server: IpAddr,
    cport: u16,
    vlan: Option<u16>,
}

fn ends(hosts: &mut Hosts, c: usize, s: usize, v6: bool) -> Ends {
    let cport = hosts.ephemeral(c);
    let (ch, sh) = (&hosts.all[c], &hosts.all[s]);
    let (client, server) = match (v6, ch.v6, sh.v6) {
        (true, Some(a), Some(b)) => (IpAddr::V6(a), IpAddr::V6(b)),
        _ => (IpAddr::V4(ch.v4), IpAddr::V4(sh.v4)),
    };
    Ends {
        client,
        server,
        cport,
        vlan: ch.vlan,
    }
}

// ---- flow kinds ------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dns,
    KerberosUdp,
    Icmp,
    Unanswered,
    Refused,
    TcpRst,
    TcpFin,
    Bulk,
}

const KINDS: [Kind; 8] = [
    Kind::Dns,
    Kind::KerberosUdp,
    Kind::Icmp,
    Kind::Unanswered,
    Kind::Refused,
    Kind::TcpRst,
    Kind::TcpFin,
    Kind::Bulk,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Dns => "dns_udp53",
            Kind::KerberosUdp => "kerberos_udp88",
            Kind::Icmp => "icmp",
            Kind::Unanswered => "tcp_unanswered_syn",
            Kind::Refused => "tcp_refused",
            Kind::TcpRst => "tcp_rst",
            Kind::TcpFin => "tcp_fin",
            Kind::Bulk => "tcp_bulk",
        }
    }

    fn index(self) -> usize {
        KINDS.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// Draws a kind from the mix (shares in millionths; see the module documentation).
    fn draw(rng: &mut Rng, bulk_allowed: bool) -> Kind {
        let x = rng.below(1_000_000);
        if x < BULK_PER_MILLION {
            return if bulk_allowed {
                Kind::Bulk
            } else {
                Kind::TcpFin
            };
        }
        match x {
            _ if x < 450_000 + BULK_PER_MILLION => Kind::Dns,
            _ if x < 490_000 + BULK_PER_MILLION => Kind::KerberosUdp,
            _ if x < 505_000 + BULK_PER_MILLION => Kind::Icmp,
            _ if x < 545_000 + BULK_PER_MILLION => Kind::Unanswered,
            _ if x < 575_000 + BULK_PER_MILLION => Kind::Refused,
            _ if x < 625_000 + BULK_PER_MILLION => Kind::TcpRst,
            _ => Kind::TcpFin,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Https,
    Ldap,
    Gc,
    Epm,
    Kerberos,
    Smb,
    Smtp,
}

impl Service {
    fn port(self) -> u16 {
        match self {
            Service::Https => 443,
            Service::Ldap => 389,
            Service::Gc => 3268,
            Service::Epm => 135,
            Service::Kerberos => 88,
            Service::Smb => 445,
            Service::Smtp => 25,
        }
    }

    fn draw(rng: &mut Rng) -> Service {
        match rng.below(100) {
            0..42 => Service::Https,
            42..64 => Service::Ldap,
            64..70 => Service::Gc,
            70..80 => Service::Epm,
            80..86 => Service::Kerberos,
            86..96 => Service::Smb,
            _ => Service::Smtp,
        }
    }

    /// Request and response payload ranges of one exchange, and how many exchanges.
    fn sizes(self) -> ((usize, usize), (usize, usize), (u64, u64)) {
        match self {
            Service::Https => ((100, 900), (60, 2000), (1, 2)),
            Service::Ldap | Service::Gc => ((60, 300), (40, 1200), (1, 2)),
            Service::Epm => ((72, 160), (60, 200), (1, 1)),
            Service::Kerberos => ((1100, 1700), (900, 1800), (1, 1)),
            Service::Smb => ((70, 300), (80, 900), (1, 2)),
            Service::Smtp => ((20, 80), (20, 200), (1, 1)),
        }
    }
}

// ---- payloads --------------------------------------------------------------------------------

/// Bytes that look like encrypted or compressed data, sliced to make payloads.
struct Filler(Vec<u8>);

impl Filler {
    fn new(rng: &mut Rng) -> Self {
        let mut v = Vec::with_capacity(1 << 16);
        while v.len() < 1 << 16 {
            v.extend_from_slice(&rng.next().to_le_bytes());
        }
        Self(v)
    }

    /// `len` bytes starting with `head` (cut to `len`).
    fn message(&self, rng: &mut Rng, head: &[u8], len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(head.get(..len.min(head.len())).unwrap_or(&[]));
        while v.len() < len {
            let off = rng.below_usize(self.0.len() - MSS);
            let n = (len - v.len()).min(MSS);
            v.extend_from_slice(&self.0[off..off + n]);
        }
        v
    }
}

/// A DNS message (RFC 1035 §4.1): header, one question for a name under `corp.example`, and for
/// an answer `answers` resource records of random data. Exactly `len` bytes or longer.
fn dns(rng: &mut Rng, txid: u16, answer: bool, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(64));
    v.extend_from_slice(&txid.to_be_bytes());
    v.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
    v.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    let label_len = rng.range(3, 12);
    v.push(u8::try_from(label_len).unwrap_or(3));
    for _ in 0..label_len {
        v.push(b'a' + u8::try_from(rng.below(26)).unwrap_or(0));
    }
    v.extend_from_slice(b"\x04corp\x07example\x00");
    let qtype: u16 = *rng.pick(&[1, 28, 33, 1, 1]);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    while v.len() < len {
        v.push(u8::try_from(rng.below(256)).unwrap_or(0));
    }
    v
}

// ---- one flow --------------------------------------------------------------------------------

/// Sends `data` from `dir` in MSS-sized segments; the receiver acknowledges every second one,
/// and the last when `ack_last` (otherwise its answer carries the acknowledgement).
fn send(conv: &mut TcpConv<'_>, dir: Dir, data: &[u8], ack_last: bool) {
    let back = match dir {
        Dir::ToServer => Dir::ToClient,
        Dir::ToClient => Dir::ToServer,
    };
    let n = data.chunks(MSS).len();
    for (i, chunk) in data.chunks(MSS).enumerate() {
        match dir {
            Dir::ToServer => conv.client_sends(chunk),
            Dir::ToClient => conv.server_sends(chunk),
        };
        if (i % 2 == 1 && i + 1 < n) || (ack_last && i + 1 == n) {
            conv.ack(back);
        }
    }
}

fn fin_close(conv: &mut TcpConv<'_>, rng: &mut Rng) {
    let (first, second) = if rng.permille(700) {
        (Dir::ToServer, Dir::ToClient)
    } else {
        (Dir::ToClient, Dir::ToServer)
    };
    conv.fin(first);
    if rng.permille(300) {
        // FIN, ACK, FIN, ACK.
        conv.ack(second);
    }
    conv.fin(second);
    conv.ack(first);
}

fn smtp_session(conv: &mut TcpConv<'_>, rng: &mut Rng, filler: &Filler, body: usize) {
    let lines: [(Dir, &[u8]); 7] = [
        (Dir::ToClient, b"220 mail.corp.example Microsoft ESMTP MAIL Service ready\r\n"),
        (Dir::ToServer, b"EHLO edge1.corp.example\r\n"),
        (
            Dir::ToClient,
            b"250-mail.corp.example Hello\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 CHUNKING\r\n",
        ),
        (Dir::ToServer, b"MAIL FROM:<a@corp.example>\r\n"),
        (Dir::ToClient, b"250 2.1.0 Sender OK\r\n"),
        (Dir::ToServer, b"RCPT TO:<b@corp.example>\r\n"),
        (Dir::ToClient, b"250 2.1.5 Recipient OK\r\n"),
    ];
    for (dir, line) in lines {
        send(conv, dir, line, false);
    }
    send(conv, Dir::ToServer, b"DATA\r\n", false);
    send(conv, Dir::ToClient, b"354 Start mail input\r\n", false);
    let msg = filler.message(rng, b"Received: from edge1.corp.example\r\n", body);
    send(conv, Dir::ToServer, &msg, false);
    send(conv, Dir::ToServer, b"\r\n.\r\n", false);
    send(
        conv,
        Dir::ToClient,
        b"250 2.6.0 Queued mail for delivery\r\n",
        false,
    );
    send(conv, Dir::ToServer, b"QUIT\r\n", false);
    send(conv, Dir::ToClient, b"221 2.0.0 Service closing\r\n", true);
}

fn head(s: Service) -> &'static [u8] {
    match s {
        // TLS record header: handshake / application data.
        Service::Https => &[0x17, 0x03, 0x03, 0x00, 0x00],
        // BER SEQUENCE (LDAPMessage), long form length.
        Service::Ldap | Service::Gc => &[0x30, 0x84, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01],
        // DCE/RPC v5 request, little-endian.
        Service::Epm => &[0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00],
        // Kerberos over TCP: 4-byte length, then APPLICATION 10/12.
        Service::Kerberos => &[0x00, 0x00, 0x05, 0x00, 0x6c, 0x82],
        // NetBIOS session, SMB2 magic.
        Service::Smb => &[0x00, 0x00, 0x00, 0x00, 0xfe, b'S', b'M', b'B'],
        Service::Smtp => b"",
    }
}

struct Gen {
    rng: Rng,
    hosts: Hosts,
    filler: Filler,
    cap: Capture,
}

impl Gen {
    /// Picks originator and responder for a flow to `service_hosts`; 15 % start at a server.
    fn pair(&mut self, service: &std::ops::Range<usize>, from_servers: bool) -> (usize, usize) {
        let s = self.hosts.any(&mut self.rng, service);
        let c = if from_servers && self.rng.permille(150) {
            let m = self.hosts.mailbox.clone();
            self.hosts.any(&mut self.rng, &m)
        } else {
            let c = self.hosts.clients.clone();
            self.hosts.any(&mut self.rng, &c)
        };
        (c, s)
    }

    fn begin(&mut self, e: &Ends) {
        match e.vlan {
            Some(id) => self.cap.vlans(&[id]),
            None => self.cap.vlans(&[]),
        };
    }

    /// Builds every frame of one flow of `kind` (times are set when they are scheduled).
    fn flow(&mut self, kind: Kind, bulk_payload: u64) -> Vec<Frame> {
        match kind {
            Kind::Dns => self.dns(),
            Kind::KerberosUdp => self.kerberos_udp(),
            Kind::Icmp => self.icmp(),
            Kind::Unanswered | Kind::Refused => self.attempt(kind),
            Kind::TcpRst | Kind::TcpFin => self.session(kind),
            Kind::Bulk => self.bulk(bulk_payload),
        }
        take_frames(&mut self.cap)
    }

    fn dns(&mut self) {
        let dcs = self.hosts.dcs.clone();
        let (c, s) = self.pair(&dcs, true);
        let v6 = self.rng.permille(50);
        let e = ends(&mut self.hosts, c, s, v6);
        self.begin(&e);
        let txid = u16::try_from(self.rng.below(65536)).unwrap_or(0);
        let qlen = self.rng_range(30, 60);
        let q = dns(&mut self.rng, txid, false, qlen);
        let cl = SocketAddr::new(e.client, e.cport);
        let sv = SocketAddr::new(e.server, 53);
        self.cap.udp(cl, sv, &q);
        if !self.rng.permille(30) {
            let len = self.rng.skewed(60, 400);
            let a = dns(&mut self.rng, txid, true, len);
            self.cap.udp(sv, cl, &a);
        }
    }

    fn rng_range(&mut self, a: usize, b: usize) -> usize {
        a + self.rng.below_usize(b - a + 1)
    }

    fn kerberos_udp(&mut self) {
        let dcs = self.hosts.dcs.clone();
        let (c, s) = self.pair(&dcs, true);
        let e = ends(&mut self.hosts, c, s, false);
        self.begin(&e);
        let cl = SocketAddr::new(e.client, e.cport);
        let sv = SocketAddr::new(e.server, 88);
        let req_len = self.rng.skewed(200, 500);
        let rep_len = self.rng.skewed(600, 1400);
        // APPLICATION 10 (AS-REQ) / 12 (TGS-REQ); 11 / 13 for the replies (RFC 4120 §5.4).
        let (rq, rp) = if self.rng.permille(300) {
            (0x6a, 0x6b)
        } else {
            (0x6c, 0x6d)
        };
        let req = self.filler.message(&mut self.rng, &[rq, 0x82], req_len);
        let rep = self.filler.message(&mut self.rng, &[rp, 0x82], rep_len);
        self.cap.udp(cl, sv, &req);
        self.cap.udp(sv, cl, &rep);
    }

    fn icmp(&mut self) {
        let targets = self.hosts.mailbox.start..self.hosts.dcs.end;
        let (c, s) = self.pair(&targets, true);
        let e = ends(&mut self.hosts, c, s, self.rng.permille(100));
        self.begin(&e);
        if e.client.is_ipv4() && self.rng.permille(200) {
            // A UDP probe to a closed port, refused by the host.
            let cl = SocketAddr::new(e.client, e.cport);
            let port = u16::try_from(self.rng.range(1024, 40000)).unwrap_or(9);
            self.cap.udp(cl, SocketAddr::new(e.server, port), b"probe");
            if let Some(orig) = self.cap.last_ip_packet() {
                self.cap.icmp_unreachable(e.server, &orig, 3);
            }
            return;
        }
        let id = u16::try_from(self.rng.below(65536)).unwrap_or(1);
        for seq in 0..self.rng.range(1, 4) {
            let seq = u16::try_from(seq).unwrap_or(0);
            self.cap.ping(e.client, e.server, id, seq, false);
            self.cap.ping(e.server, e.client, id, seq, true);
        }
    }

    fn attempt(&mut self, kind: Kind) {
        let servers = self.hosts.mailbox.start..self.hosts.dcs.end;
        let (c, s) = self.pair(&servers, false);
        let e = ends(&mut self.hosts, c, s, self.rng.permille(50));
        self.begin(&e);
        let port = match self.rng.below(6) {
            0 => 445,
            1 => 135,
            2 => 443,
            3 => 3389,
            4 => 5985,
            _ => u16::try_from(self.rng.range(1024, 49151)).unwrap_or(8080),
        };
        let mut conv = self.cap.tcp(
            SocketAddr::new(e.client, e.cport),
            SocketAddr::new(e.server, port),
        );
        if kind == Kind::Refused {
            conv.syn();
            conv.refuse();
        } else {
            let syn = conv.next_segment(Dir::ToServer, flags::SYN, &[]);
            for _ in 0..self.rng.range(1, 3) {
                conv.emit(syn.clone());
            }
        }
    }

    /// Server hosts and whether servers originate too, for a TCP service.
    fn service_hosts(&self, svc: Service) -> (std::ops::Range<usize>, bool) {
        match svc {
            Service::Https | Service::Epm => (self.hosts.mailbox.clone(), true),
            Service::Ldap | Service::Gc | Service::Kerberos | Service::Smb => {
                (self.hosts.dcs.clone(), true)
            }
            Service::Smtp => (self.hosts.mailbox.clone(), false),
        }
    }

    /// SMTP flows: Internet → Edge, Edge → mailbox, mailbox → mailbox, mailbox → Edge.
    fn smtp_pair(&mut self) -> (usize, usize) {
        let h = &self.hosts;
        let (from, to) = match self.rng.below(4) {
            0 => (h.external.clone(), h.edge.clone()),
            1 => (h.edge.clone(), h.mailbox.clone()),
            2 => (h.mailbox.clone(), h.mailbox.clone()),
            _ => (h.mailbox.clone(), h.edge.clone()),
        };
        let c = self.hosts.any(&mut self.rng, &from);
        let s = self.hosts.any(&mut self.rng, &to);
        (c, s)
    }

    fn session(&mut self, kind: Kind) {
        let svc = Service::draw(&mut self.rng);
        let (c, s) = if svc == Service::Smtp {
            self.smtp_pair()
        } else {
            let (servers, from_servers) = self.service_hosts(svc);
            self.pair(&servers, from_servers)
        };
        let v6 = svc == Service::Https && self.rng.permille(50);
        let e = ends(&mut self.hosts, c, s, v6);
        self.begin(&e);
        let ((qa, qb), (ra, rb), (xa, xb)) = svc.sizes();
        let exchanges = if kind == Kind::TcpRst {
            1
        } else {
            self.rng.range(xa, xb)
        };
        // Draw every size first: the conversation borrows the capture.
        let mut msgs = Vec::new();
        for _ in 0..exchanges {
            let q = self.rng.skewed(qa, qb);
            let r = self.rng.skewed(ra, rb);
            msgs.push((
                self.filler.message(&mut self.rng, head(svc), q),
                self.filler.message(&mut self.rng, head(svc), r),
            ));
        }
        let smtp_body = self.rng.skewed(200, 4000);
        let rst_from_server = self.rng.permille(400);
        let close_rng = Rng(self.rng.next());
        let smtp_rng = Rng(self.rng.next());
        let mut conv = self.cap.tcp(
            SocketAddr::new(e.client, e.cport),
            SocketAddr::new(e.server, svc.port()),
        );
        conv.handshake();
        if svc == Service::Smtp && kind == Kind::TcpFin {
            let mut r = smtp_rng;
            smtp_session(&mut conv, &mut r, &self.filler, smtp_body);
        } else {
            for (q, r) in &msgs {
                send(&mut conv, Dir::ToServer, q, false);
                send(&mut conv, Dir::ToClient, r, true);
            }
        }
        let mut r = close_rng;
        if kind == Kind::TcpRst {
            conv.rst(if rst_from_server {
                Dir::ToClient
            } else {
                Dir::ToServer
            });
        } else {
            fin_close(&mut conv, &mut r);
        }
    }

    fn bulk(&mut self, payload: u64) {
        let svc = *self
            .rng
            .pick(&[Service::Https, Service::Https, Service::Smb, Service::Smtp]);
        let (c, s) = if svc == Service::Smtp {
            self.smtp_pair()
        } else {
            let (servers, _) = self.service_hosts(svc);
            self.pair(&servers, false)
        };
        let e = ends(&mut self.hosts, c, s, false);
        self.begin(&e);
        let len = usize::try_from(payload).unwrap_or(1 << 20);
        let q = self.rng.skewed(200, 900);
        let req = self.filler.message(&mut self.rng, head(svc), q);
        let data = self.filler.message(&mut self.rng, head(svc), len);
        let mut close_rng = Rng(self.rng.next());
        let mut conv = self.cap.tcp(
            SocketAddr::new(e.client, e.cport),
            SocketAddr::new(e.server, svc.port()),
        );
        conv.handshake();
        if svc == Service::Smtp {
            // An upload: the client sends the message.
            send(&mut conv, Dir::ToClient, b"220 ready\r\n", false);
            send(&mut conv, Dir::ToServer, &data, true);
            send(&mut conv, Dir::ToClient, b"250 2.6.0 Queued\r\n", true);
        } else {
            send(&mut conv, Dir::ToServer, &req, false);
            send(&mut conv, Dir::ToClient, &data, true);
        }
        fin_close(&mut conv, &mut close_rng);
    }
}

// ---- scheduling ------------------------------------------------------------------------------

struct Active {
    frames: std::vec::IntoIter<Frame>,
    burst: usize,
}

#[derive(Default)]
struct Totals {
    flows: [u64; KINDS.len()],
    packets: [u64; KINDS.len()],
    bytes: [u64; KINDS.len()],
    /// Payload bytes asked of the bulk transfers.
    bulk_payload: u64,
    generated_bytes: u64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let (flows, target) = match (args.flows, args.target_bytes) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f.saturating_mul(1024)),
        (None, Some(t)) => ((t / 1024).max(1), t),
        (None, None) => (1 << 20, 1 << 30),
    };
    let window = args.window.max(1);
    let mut rng = Rng(args.seed);
    let hosts = Hosts::new(&mut rng);
    let filler = Filler::new(&mut rng);
    let mut cap = Capture::new();
    cap.snaplen(65_535);
    let mut g = Gen {
        rng,
        hosts,
        filler,
        cap,
    };
    let file = File::create(&args.out)?;
    let mut w = PcapStreamWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        LinkType::ETHERNET,
        65_535,
    )?;

    let mut t = Totals::default();
    let mut started: u64 = 0;
    let mut nonbulk_flows: u64 = 0;
    let mut nonbulk_bytes: u64 = 0;
    let mut bulk_started: u64 = 0;
    let expected_bulk = (flows * BULK_PER_MILLION / 1_000_000).max(1);
    let mut slots: Vec<Option<(Active, Kind)>> = Vec::with_capacity(window);
    let mut now = Timestamp::from_parts(START_SECS, 0, 1);
    let gap_max = args.mean_gap_us.max(1) * 2 - 1;
    let report_every = (flows / 20).max(1);

    let mut new_flow = |g: &mut Gen, t: &mut Totals| -> Option<(Active, Kind)> {
        if started >= flows {
            return None;
        }
        let kind = Kind::draw(&mut g.rng, started >= BULK_WARMUP_FLOWS);
        let mut bulk_payload = 0;
        if kind == Kind::Bulk {
            // Spread the bytes still missing over the bulk transfers still expected.
            let avg = nonbulk_bytes / nonbulk_flows.max(1);
            let left = flows - started;
            let rest_nonbulk = avg * left * (1_000_000 - BULK_PER_MILLION) / 1_000_000;
            let budget = target
                .saturating_sub(t.generated_bytes)
                .saturating_sub(rest_nonbulk);
            let bulk_left = expected_bulk.saturating_sub(bulk_started).max(1);
            let share = budget / bulk_left;
            // ±50 %, then from file bytes to payload bytes (one ACK per two MSS segments).
            let jitter = g.rng.range(50, 150);
            let per_seg = 16 + 14 + 20 + 20 + MSS as u64 + ACK_RECORD_BYTES / 2;
            bulk_payload = (share * jitter / 100 * MSS as u64 / per_seg).clamp(BULK_MIN, BULK_MAX);
            bulk_started += 1;
            t.bulk_payload += bulk_payload;
        }
        let frames = g.flow(kind, bulk_payload);
        let bytes: u64 = frames.iter().map(pcap_record_bytes).sum();
        let k = kind.index();
        t.flows[k] += 1;
        t.packets[k] += frames.len() as u64;
        t.bytes[k] += bytes;
        t.generated_bytes += bytes;
        if kind != Kind::Bulk {
            nonbulk_flows += 1;
            nonbulk_bytes += bytes;
        }
        started += 1;
        if started % report_every == 0 {
            eprintln!(
                "benchgen: {started}/{flows} flows, {} MiB",
                t.generated_bytes >> 20
            );
        }
        let burst = if kind == Kind::Bulk { 4 } else { 1 };
        Some((
            Active {
                frames: frames.into_iter(),
                burst,
            },
            kind,
        ))
    };

    for _ in 0..window {
        slots.push(new_flow(&mut g, &mut t));
    }
    loop {
        let mut any = false;
        for slot in slots.iter_mut() {
            let Some((active, _)) = slot else {
                continue;
            };
            any = true;
            let mut done = false;
            for _ in 0..active.burst {
                match active.frames.next() {
                    Some(f) => {
                        now = now
                            .saturating_add(Duration::from_nanos(g.rng.range(1, gap_max) * 1_000));
                        w.write_packet(now, f.link, &f.data, f.orig_len)?;
                    }
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            if done || active.frames.as_slice().is_empty() {
                *slot = new_flow(&mut g, &mut t);
            }
        }
        if !any {
            break;
        }
    }

    let packets = w.packets();
    let bytes = w.bytes();
    w.finish()?;
    let duration = now.since(Timestamp::from_parts(START_SECS, 0, 1));
    let mut info = String::new();
    info.push_str(&format!("file={}\n", args.out.display()));
    info.push_str(&format!("seed={}\nwindow={window}\n", args.seed));
    info.push_str(&format!("target_bytes={target}\n"));
    info.push_str(&format!("flows={}\n", t.flows.iter().sum::<u64>()));
    info.push_str(&format!("packets={packets}\nbytes={bytes}\n"));
    info.push_str(&format!("capture_seconds={:.3}\n", duration.as_secs_f64()));
    info.push_str(&format!("bulk_payload_bytes={}\n", t.bulk_payload));
    for k in KINDS {
        let i = k.index();
        info.push_str(&format!(
            "kind.{}=flows:{} packets:{} bytes:{}\n",
            k.name(),
            t.flows[i],
            t.packets[i],
            t.bytes[i]
        ));
    }
    let mut info_path = args.out.clone().into_os_string();
    info_path.push(".info");
    std::fs::write(&info_path, &info)?;
    eprint!("{info}");
    Ok(())
}
