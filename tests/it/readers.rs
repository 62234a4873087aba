//! Every capture format variation and every link layer the fixture builder can write gives back
//! the same conversation.

use exaudit::flow::ConnState;
use exaudit::testkit::scenes::encapsulations;
use exaudit::testkit::{Capture, Endian, NgBlock, PcapOptions, PcapngOptions, addr};
use exaudit::time::Duration;

use super::common::{analyse_bytes, flows_of};

fn session() -> Capture {
    let mut cap = Capture::new();
    cap.step(Duration::from_nanos(1_234_567));
    cap.tcp(addr("10.1.0.50:49200"), addr("10.1.0.10:25"))
        .handshake()
        .client_sends(b"EHLO x\r\n")
        .close();
    cap
}

fn summary(bytes: Vec<u8>) -> (usize, ConnState, String, u64, u64) {
    let fs = flows_of(bytes);
    let f = &fs[0];
    (
        fs.len(),
        f.conn_state,
        f.history.as_str().to_owned(),
        f.start.nanos(),
        f.last.nanos(),
    )
}

#[test]
fn pcap_variants_read_alike() {
    let cap = session();
    let base = summary(cap.to_pcap());
    assert_eq!(
        (base.0, base.1, base.2.as_str()),
        (1, ConnState::SF, "ShADFf")
    );
    for endian in [Endian::Little, Endian::Big] {
        // Microsecond files lose the sub-microsecond part; nanosecond ones keep it.
        let micro = summary(cap.to_pcap_with(&PcapOptions {
            endian,
            nanos: false,
        }));
        assert_eq!(micro, base);
        let nano = summary(cap.to_pcap_with(&PcapOptions {
            endian,
            nanos: true,
        }));
        assert_eq!(&nano.2, &base.2);
        assert_eq!(nano.4 - nano.3, 5 * 1_234_567);
    }
}

#[test]
fn pcapng_variants_read_alike() {
    let cap = session();
    let base = summary(cap.to_pcap());
    for endian in [Endian::Little, Endian::Big] {
        for block in [NgBlock::Enhanced, NgBlock::Obsolete] {
            for section_every in [0, 3] {
                for decoy_interface in [false, true] {
                    let o = PcapngOptions {
                        endian,
                        nanos: false,
                        block,
                        section_every,
                        decoy_interface,
                        ..PcapngOptions::default()
                    };
                    assert_eq!(summary(cap.to_pcapng_with(&o)), base, "{o:?}");
                }
            }
        }
        let o = PcapngOptions {
            endian,
            nanos: true,
            ..PcapngOptions::default()
        };
        let nano = summary(cap.to_pcapng_with(&o));
        assert_eq!(nano.4 - nano.3, 5 * 1_234_567);
    }
    // Simple packet blocks carry no timestamp: same conversation, all at time zero.
    let o = PcapngOptions {
        block: NgBlock::Simple,
        ..PcapngOptions::default()
    };
    let simple = summary(cap.to_pcapng_with(&o));
    assert_eq!((simple.0, simple.1, simple.3), (1, ConnState::SF, 0));
}

/// Link types written through one pcapng file with an interface per link type.
#[test]
fn every_encapsulation_gives_the_same_flow() {
    for (name, cap) in encapsulations() {
        let a = analyse_bytes(cap.to_pcap(), Default::default(), Default::default());
        assert!(a.errors.is_empty(), "{name}: {:?}", a.errors);
        assert_eq!(a.flows.len(), 1, "{name}: {:#?}", a.flows);
        let f = &a.flows[0];
        assert_eq!(f.conn_state, ConnState::SF, "{name}");
        assert_eq!(f.history.as_str(), "ShADFf", "{name}");
        assert_eq!((f.orig.1, f.resp.1), (49200, 25), "{name}");
        assert_eq!(f.orig_payload.bytes(), b"EHLO x\r\n", "{name}");
        assert_eq!(a.stats.decode.total(), 0, "{name}: {:?}", a.stats.decode);
        let vlans: &[u16] = match name {
            "qinq" => &[100, 20],
            "erspan3" => &[10],
            _ => &[],
        };
        assert_eq!(f.vlans.ids(), vlans, "{name}");
    }
    // All of them in one pcapng file, one interface per link type, one session each.
    let mut cap = Capture::new();
    let n = encapsulations().len();
    for i in 0..n {
        cap.encap(encap_of(i));
        let port = 49200 + u16::try_from(i).unwrap();
        cap.tcp(addr(&format!("10.1.0.50:{port}")), addr("10.1.0.10:25"))
            .handshake()
            .close();
    }
    let a = analyse_bytes(cap.to_pcapng(), Default::default(), Default::default());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.flows.len(), n);
    assert!(a.flows.iter().all(|f| f.conn_state == ConnState::SF));
}

fn encap_of(i: usize) -> exaudit::testkit::Encap {
    use exaudit::testkit::{Encap, ip};
    let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
    match i % 6 {
        0 => Encap::Ethernet(vec![]),
        1 => Encap::Raw(exaudit::source::LinkType::IPV4),
        2 => Encap::Null,
        3 => Encap::Sll2,
        4 => Encap::Nflog,
        _ => Encap::Erspan2(a, b),
    }
}

/// MPLS (a label stack, bottom-of-stack bit on the last) and VN-Tag between Ethernet and IP.
#[test]
fn mpls_and_vntag_frames() {
    let mut ip_only = Capture::new();
    ip_only.encap(exaudit::testkit::Encap::Raw(exaudit::source::LinkType::RAW));
    ip_only.udp(addr("10.1.0.50:53000"), addr("10.1.0.2:53"), b"query");
    let ip = ip_only.frames()[0].data.clone();
    let eth = |ethertype: u16, shim: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(shim);
        f.extend_from_slice(&ip);
        f
    };
    let mut cap = Capture::new();
    // Two labels: 100 (not bottom), 200 (bottom of stack).
    cap.push_frame(
        exaudit::source::LinkType::ETHERNET,
        eth(0x8847, &[0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40]),
    );
    // VN-Tag: 4 bytes of tag, then the IPv4 type.
    cap.push_frame(
        exaudit::source::LinkType::ETHERNET,
        eth(0x8926, &[0x80, 0x01, 0x00, 0x02, 0x08, 0x00]),
    );
    let a = analyse_bytes(cap.to_pcap(), Default::default(), Default::default());
    assert_eq!(a.stats.decode.total(), 0, "{:?}", a.stats.decode);
    assert_eq!(a.flows.len(), 1);
    assert_eq!(a.flows[0].orig_counts.pkts, 2);
}

// ---- compressed captures ----------------------------------------------------------------------

use std::io::{Read, Write};

use exaudit::source::{Compression, Cut, Damage, SourceError, SourceWarning};

/// `n` one-packet UDP flows of 1000 bytes of payload each (about 1 MiB of pcap for 1000), each
/// payload different so that compression leaves the file large.
fn udp_flows(n: u16) -> Vec<u8> {
    let mut cap = Capture::new();
    let mut x: u32 = 7;
    for i in 0..n {
        let payload: Vec<u8> = (0..1000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                x.to_le_bytes()[2]
            })
            .collect();
        cap.udp(
            addr(&format!("10.1.0.50:{}", 20000 + i)),
            addr("10.1.0.2:53"),
            &payload,
        );
        cap.wait(Duration::from_millis(1));
    }
    cap.to_pcap()
}

/// Whole records in the first `len` bytes of a little-endian legacy pcap file.
fn whole_records(pcap: &[u8], len: usize) -> u64 {
    let mut at = 24;
    let mut n = 0;
    while at + 16 <= len {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
        if at > len {
            break;
        }
        n += 1;
    }
    n
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn compressed_warning(a: &exaudit::Analysis) -> Option<Damage> {
    match a.warnings.as_slice() {
        [SourceWarning::Compressed { damage, .. }] => Some(*damage),
        [] => None,
        w => panic!("more than one warning: {w:?}"),
    }
}

#[test]
fn cut_gzip_keeps_every_packet_that_inflated() {
    let pcap = udp_flows(600);
    let file = gz(&pcap);
    let intact = analyse_bytes(file.clone(), Default::default(), Default::default());
    assert!(intact.errors.is_empty() && intact.warnings.is_empty());
    assert_eq!(
        (intact.stats.capture.packets, intact.flows.len()),
        (600, 600)
    );
    for (cut, at) in [
        (4, Cut::GzipTrailer),
        (8, Cut::GzipTrailer),
        (file.len() / 3, Cut::Deflate),
        (file.len() * 2 / 3, Cut::Deflate),
    ] {
        let part = file[..file.len() - cut].to_vec();
        // What zcat would print before its error: every byte that inflated.
        let mut inflated = Vec::new();
        let _ = flate2::read::GzDecoder::new(&part[..]).read_to_end(&mut inflated);
        let want = whole_records(&pcap, inflated.len());
        let a = analyse_bytes(part, Default::default(), Default::default());
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        assert_eq!(a.stats.capture.packets, want, "cut {cut}");
        assert_eq!(a.flows.len() as u64, want);
        assert_eq!(compressed_warning(&a), Some(Damage::Cut(at)), "cut {cut}");
    }
}

/// A capture that decompresses to less than the read buffer (256 KiB) is kept too.
#[test]
fn small_cut_gzip_is_not_lost_whole() {
    let pcap = udp_flows(30);
    let file = gz(&pcap);
    let a = analyse_bytes(
        file[..file.len() - 4].to_vec(),
        Default::default(),
        Default::default(),
    );
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!((a.stats.capture.packets, a.flows.len()), (30, 30));
    match a.warnings.as_slice() {
        [
            SourceWarning::Compressed {
                damage, packets, ..
            },
        ] => {
            assert_eq!((*damage, *packets), (Damage::Cut(Cut::GzipTrailer), 30));
        }
        w => panic!("{w:?}"),
    }
}

#[test]
fn gzip_damage_is_told_and_the_packets_kept() {
    let pcap = udp_flows(40);
    let good = gz(&pcap);
    let n = good.len();
    let read = |bytes: Vec<u8>| analyse_bytes(bytes, Default::default(), Default::default());
    let mut crc = good.clone();
    crc[n - 6] ^= 0x10;
    let mut size = good.clone();
    size[n - 1] ^= 0x10;
    let cases = [
        (crc, Some(Damage::ChecksumMismatch(Compression::Gzip))),
        (
            size,
            Some(Damage::LengthMismatch {
                stored: u32::try_from(pcap.len()).unwrap() ^ 0x1000_0000,
                actual: u32::try_from(pcap.len()).unwrap(),
            }),
        ),
        (
            [good.clone(), b"\r\n-- end of capture --\r\n".to_vec()].concat(),
            Some(Damage::TrailingData {
                compression: Compression::Gzip,
                offset: n as u64,
            }),
        ),
        // Tape and block devices pad with zeros: read, and nothing to say.
        ([good.clone(), vec![0; 100]].concat(), None),
        // `cat a.gz b.gz`: two members, one stream.
        ([good.clone(), gz(&pcap[24..])].concat(), None),
    ];
    for (i, (bytes, damage)) in cases.into_iter().enumerate() {
        let two = i == 4;
        let a = read(bytes);
        assert!(a.errors.is_empty(), "case {i}: {:?}", a.errors);
        assert_eq!(compressed_warning(&a), damage, "case {i}");
        assert_eq!(
            a.stats.capture.packets,
            if two { 80 } else { 40 },
            "case {i}"
        );
    }
    // Deflate data that does not inflate (a second member whose first block has the reserved
    // type 11, RFC 1951 §3.2.3): an error; the first member's packets are kept.
    let mut bad = [good.clone(), gz(&pcap[24..])].concat();
    bad[n + 10] |= 0b110;
    let a = read(bad);
    assert_eq!(a.stats.capture.packets, 40);
    match a.errors.as_slice() {
        [SourceError::Compressed { damage, .. }] => {
            assert_eq!(*damage, Damage::BadDeflate { member: n as u64 });
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn cut_zstd_keeps_every_packet_of_the_blocks_that_decoded() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let pcap = udp_flows(600);
    // Raw blocks carry 128 KiB each, so the bytes that decode are known exactly.
    let file = compress_to_vec(&pcap[..], CompressionLevel::Uncompressed);
    let ends = exaudit::testkit::zstd_block_ends(&file);
    for k in [1, 3] {
        let a = analyse_bytes(
            file[..ends[k - 1] + 500].to_vec(),
            Default::default(),
            Default::default(),
        );
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        let want = whole_records(&pcap, k * 131_072);
        assert_eq!(
            (a.stats.capture.packets, a.flows.len() as u64),
            (want, want)
        );
        assert_eq!(compressed_warning(&a), Some(Damage::Cut(Cut::ZstdBlock)));
    }
    // Compressed blocks: more of the file, never fewer packets. (Before the end of the first
    // block nothing decodes, not even the file header: that is an error, see cli.rs.)
    let file = compress_to_vec(&pcap[..], CompressionLevel::Fastest);
    let mut last = 0;
    for tenth in 3..10 {
        let a = analyse_bytes(
            file[..file.len() * tenth / 10].to_vec(),
            Default::default(),
            Default::default(),
        );
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        assert!(a.stats.capture.packets >= last);
        last = a.stats.capture.packets;
        assert!(matches!(compressed_warning(&a), Some(Damage::Cut(_))));
    }
    assert!(last > 300, "{last}");
}

#[test]
fn zstd_damage_is_told_and_the_packets_kept() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let pcap = udp_flows(40);
    let good = compress_to_vec(&pcap[..], CompressionLevel::Fastest);
    let mut checksum = good.clone();
    let n = checksum.len();
    checksum[n - 3] ^= 1;
    let a = analyse_bytes(checksum, Default::default(), Default::default());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.stats.capture.packets, 40);
    assert_eq!(
        compressed_warning(&a),
        Some(Damage::ChecksumMismatch(Compression::Zstd))
    );
    let a = analyse_bytes(
        [good.clone(), vec![0; 512], vec![1]].concat(),
        Default::default(),
        Default::default(),
    );
    assert_eq!(a.stats.capture.packets, 40);
    assert_eq!(
        compressed_warning(&a),
        Some(Damage::TrailingData {
            compression: Compression::Zstd,
            offset: n as u64 + 512
        })
    );
    let a = analyse_bytes(
        [good, vec![0; 512]].concat(),
        Default::default(),
        Default::default(),
    );
    assert_eq!(a.stats.capture.packets, 40);
    assert!(a.warnings.is_empty() && a.errors.is_empty());
}

/// A skippable frame as pzstd writes it before each frame (RFC 8878 §3.1.2).
fn skippable(payload: &[u8]) -> Vec<u8> {
    let mut f = 0x184D_2A50u32.to_le_bytes().to_vec();
    f.extend(u32::try_from(payload.len()).unwrap().to_le_bytes());
    f.extend(payload);
    f
}

#[test]
fn pzstd_output_and_concatenated_frames_are_read() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let pcap = udp_flows(40);
    // Two frames, each announced by a skippable frame holding its size, as pzstd writes them.
    let (head, tail) = pcap.split_at(24 + 20 * (16 + 1042));
    let (a, b) = (
        compress_to_vec(head, CompressionLevel::Fastest),
        compress_to_vec(tail, CompressionLevel::Fastest),
    );
    let file = [
        skippable(&u32::try_from(a.len()).unwrap().to_le_bytes()),
        a,
        skippable(&u32::try_from(b.len()).unwrap().to_le_bytes()),
        b,
    ]
    .concat();
    let r = analyse_bytes(file, Default::default(), Default::default());
    assert!(r.errors.is_empty() && r.warnings.is_empty(), "{r:?}");
    assert_eq!((r.stats.capture.packets, r.flows.len()), (40, 40));
}

// ---- several files ------------------------------------------------------------------------------

/// Three DNS queries from `host`, 1 ms apart, starting `start_us` µs after the testkit's start.
fn queries(host: &str, start_us: u64) -> Capture {
    let mut cap = Capture::new();
    cap.wait(Duration::from_nanos(start_us * 1000));
    for i in 0..3u16 {
        cap.udp(
            addr(&format!("{host}:{}", 50000 + i)),
            addr("10.1.0.2:53"),
            b"q",
        );
        cap.wait(Duration::from_millis(1));
    }
    cap
}

/// Every packet of a merge (time and bytes), and the most files it had open at once.
fn drain(mut m: exaudit::source::Merged) -> (Vec<(u64, Vec<u8>)>, usize) {
    let mut stats = exaudit::stats::CaptureStats::default();
    let mut out = Vec::new();
    let mut most = m.files_open();
    while let Some(p) = m.next_packet(&mut stats) {
        out.push((p.ts.nanos(), p.data.to_vec()));
        most = most.max(m.files_open());
    }
    assert!(m.take_errors().is_empty());
    (out, most)
}

/// Files named together are merged in time order, as if all were open at once, but each is
/// opened only when the merge reaches its first packet and closed at its end: rotated captures
/// (one after the other in time) are read one at a time, whatever their compression.
#[test]
fn merged_files_are_opened_when_their_time_comes() {
    use exaudit::source::{CaptureFile, Merged, SourceConfig};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let zst = |b: Vec<u8>| {
        ruzstd::encoding::compress_to_vec(&b[..], ruzstd::encoding::CompressionLevel::Fastest)
    };
    let a = write("a.pcap.zst", zst(queries("10.1.0.50", 0).to_pcap()));
    let b = write("b.pcap.gz", gz(&queries("10.1.0.51", 20_000).to_pcap()));
    let c = write("c.pcapng", queries("10.1.0.52", 40_000).to_pcapng());
    // Overlaps a: its packets fall between a's.
    let d = write("d.pcap", queries("10.1.0.53", 500).to_pcap());
    let eager = |paths: &[&std::path::PathBuf]| {
        Merged::new(
            paths
                .iter()
                .map(|p| CaptureFile::open(p).unwrap())
                .collect(),
        )
    };
    let lazy = |paths: &[&std::path::PathBuf]| {
        let owned: Vec<std::path::PathBuf> = paths.iter().map(|p| (*p).clone()).collect();
        let (m, errors) = Merged::open(&owned, &SourceConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        m
    };
    // Rotated files, named out of order.
    let rotated = [&c, &a, &b];
    let (want, all_open) = drain(eager(&rotated));
    assert_eq!((want.len(), all_open), (9, 3));
    let (got, most) = drain(lazy(&rotated));
    assert_eq!(got, want);
    assert_eq!(most, 1);
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
    // With a file that overlaps another, the two are open together.
    let overlapping = [&c, &d, &a, &b];
    let (want, _) = drain(eager(&overlapping));
    let (got, most) = drain(lazy(&overlapping));
    assert_eq!(got, want);
    assert_eq!((got.len(), most), (12, 2));
}

/// A zstd file whose first packet lies beyond what is decoded to find it (a 5 MiB block before
/// it) is opened at once and read the ordinary way: nothing is lost or reordered.
#[test]
fn merged_file_with_a_far_first_packet_is_read_whole() {
    use exaudit::source::{Merged, SourceConfig};
    let ng = queries("10.1.0.50", 0).to_pcapng();
    // After the section header and the interface description, an unassigned block type
    // (pcapng §11.1) of 5 MiB, which readers skip.
    let shb = u32::from_le_bytes(ng[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(ng[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let len = 12 + (5 << 20);
    let mut big = 0x0000_0101u32.to_le_bytes().to_vec();
    big.extend(u32::try_from(len).unwrap().to_le_bytes());
    big.resize(len - 4, 0);
    big.extend(u32::try_from(len).unwrap().to_le_bytes());
    let file = [&ng[..shb + idb], &big[..], &ng[shb + idb..]].concat();
    let dir = tempfile::tempdir().unwrap();
    let far = dir.path().join("far.pcapng.zst");
    std::fs::write(
        &far,
        ruzstd::encoding::compress_to_vec(
            &file[..],
            ruzstd::encoding::CompressionLevel::Uncompressed,
        ),
    )
    .unwrap();
    let near = dir.path().join("near.pcap");
    std::fs::write(&near, queries("10.1.0.51", 500).to_pcap()).unwrap();
    let (m, errors) = Merged::open(&[far, near], &SourceConfig::default());
    assert!(errors.is_empty(), "{errors:?}");
    // The far file could not be placed without reading it: it is open from the start.
    assert_eq!(m.files_open(), 1);
    let (got, most) = drain(m);
    assert_eq!((got.len(), most), (6, 2));
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
}

// ---- malformed pcapng blocks ------------------------------------------------------------------

/// A little-endian pcapng block of type `ty` around `body` (padded to 4 bytes), with both of
/// its length fields right (pcapng §3.1).
fn ng_block(ty: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let len = u32::try_from(12 + body.len()).unwrap();
    [
        &ty.to_le_bytes()[..],
        &len.to_le_bytes(),
        &body,
        &len.to_le_bytes(),
    ]
    .concat()
}

/// `ng` with `extra` inserted after its `n`-th block.
fn insert_after_block(ng: &[u8], n: usize, extra: &[u8]) -> Vec<u8> {
    let mut at = 0;
    for _ in 0..n {
        at += u32::from_le_bytes(ng[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    [&ng[..at], extra, &ng[at..]].concat()
}

/// Interface statistics, name resolution and decryption secrets blocks whose lengths are right
/// but whose contents are not are skipped and counted; the packets after them are read.
#[test]
fn malformed_statistics_names_and_secrets_blocks_are_skipped() {
    let cap = session();
    let ng = cap.to_pcapng();
    let base = summary(ng.clone());
    let packets = cap.frames().len() as u64;
    let le = |v: u32| v.to_le_bytes();
    let malformed: [(&str, Vec<u8>); 5] = [
        // ISB (type 5) too short for its interface id and timestamp (pcapng §4.6).
        ("isb short", ng_block(5, &le(0))),
        // NRB (type 4) whose IPv4 record claims 200 bytes (pcapng §4.5).
        (
            "nrb record",
            ng_block(4, &[&[1, 0, 200, 0][..], &[10, 1, 0, 10]].concat()),
        ),
        // DSB (type 10) whose secrets length runs past the block (pcapng §4.7).
        (
            "dsb length",
            ng_block(
                10,
                &[
                    &le(0x544c_534b)[..],
                    &le(4000),
                    b"CLIENT_RANDOM 0123 4567\n",
                ]
                .concat(),
            ),
        ),
        // DSB too short for its type and length.
        ("dsb short", ng_block(10, &[1, 2])),
        // A custom block (type 0xBAD) too short for its enterprise number (pcapng §4.8).
        ("custom short", ng_block(0x0bad, &[])),
    ];
    for (name, block) in malformed {
        // After the section header, the interface description and two packets.
        let bytes = insert_after_block(&ng, 4, &block);
        let a = analyse_bytes(bytes.clone(), Default::default(), Default::default());
        assert!(a.errors.is_empty(), "{name}: {:?}", a.errors);
        assert!(a.warnings.is_empty(), "{name}: {:?}", a.warnings);
        let c = &a.stats.capture;
        assert_eq!((c.blocks_malformed, c.blocks_skipped), (1, 0), "{name}");
        assert_eq!(c.packets, packets, "{name}");
        assert_eq!(summary(bytes), base, "{name}");
    }
    // Near misses: an ISB whose option runs past the block is read as an ISB with no options
    // (pcap-parser stops at the last whole option), and a well-formed DSB: skipped, unused.
    for block in [
        ng_block(
            5,
            &[&le(0)[..], &le(0), &le(0), &[4, 0, 200, 0], &le(7)].concat(),
        ),
        ng_block(10, &[&le(0x544c_534b)[..], &le(8), b"secret!!"].concat()),
    ] {
        let a = analyse_bytes(
            insert_after_block(&ng, 4, &block),
            Default::default(),
            Default::default(),
        );
        assert!(a.errors.is_empty() && a.warnings.is_empty());
        let c = &a.stats.capture;
        assert_eq!(
            (c.blocks_malformed, c.blocks_skipped, c.packets),
            (0, 1, packets)
        );
    }
    // A malformed block whose length fields disagree is not skipped: where the next block
    // starts is unknown.
    let mut bad = ng_block(10, &[1, 2]);
    let n = bad.len();
    bad[n - 4] = 0x20;
    let a = analyse_bytes(
        insert_after_block(&ng, 4, &bad),
        Default::default(),
        Default::default(),
    );
    assert_eq!(a.errors.len(), 1, "{:?}", a.errors);
    assert_eq!(a.stats.capture.blocks_malformed, 0);
    // Nor is a malformed packet block.
    let epb = insert_after_block(&ng, 4, &ng_block(6, &le(0)));
    let a = analyse_bytes(epb, Default::default(), Default::default());
    assert_eq!(a.errors.len(), 1, "{:?}", a.errors);
}

// ---- far-future timestamps --------------------------------------------------------------------

/// Timestamps far in the future (a nanosecond pcapng interface with a large `if_tsoffset`, past
/// what 64 bits of nanoseconds hold) saturate at one instant, `Timestamp::MAX`, in order: one
/// connection stays one flow, its packets neither split nor reordered.
#[test]
fn far_future_timestamps_keep_a_connection_one_flow() {
    use exaudit::time::Timestamp;
    let cap = session();
    let base = summary(cap.to_pcap());
    // The capture starts in 2026: 2^32 s later (year 2162) is below the limit (2262), 2^34 s
    // (2570) past it, and so is the largest offset.
    for (offset, saturated) in [(1i64 << 32, false), (1 << 34, true), (i64::MAX, true)] {
        let o = PcapngOptions {
            nanos: true,
            ts_offset_secs: offset,
            ..PcapngOptions::default()
        };
        let a = analyse_bytes(
            cap.to_pcapng_with(&o),
            Default::default(),
            Default::default(),
        );
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        assert_eq!(a.flows.len(), 1, "offset {offset}: {:#?}", a.flows);
        let f = &a.flows[0];
        assert_eq!(
            (f.conn_state, f.history.as_str()),
            (base.1, base.2.as_str())
        );
        assert_eq!(f.orig_counts.pkts + f.resp_counts.pkts, 7);
        assert_eq!(a.stats.capture.timestamps_backwards, 0);
        assert!(f.start <= f.last && f.last <= Timestamp::MAX);
        assert_eq!(f.last == Timestamp::MAX, saturated, "offset {offset}");
    }
    // A negative offset that takes the time before 1970 clamps the whole time, not only its
    // seconds: packets stay in order.
    let o = PcapngOptions {
        nanos: true,
        ts_offset_secs: i64::MIN,
        ..PcapngOptions::default()
    };
    let a = analyse_bytes(
        cap.to_pcapng_with(&o),
        Default::default(),
        Default::default(),
    );
    assert_eq!(a.flows.len(), 1);
    assert_eq!(a.stats.capture.timestamps_backwards, 0);
    assert_eq!(
        (a.flows[0].start, a.flows[0].last),
        (Timestamp::ZERO, Timestamp::ZERO)
    );
}

/// A read that fails in the middle of a file (a disk error, a network share that went away)
/// ends the file with an error after every packet read before it.
#[test]
fn a_read_error_keeps_the_packets_before_it() {
    /// Gives the first `ok` bytes, then fails.
    struct Failing {
        bytes: std::io::Cursor<Vec<u8>>,
    }
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.bytes.read(buf)? {
                0 => Err(std::io::Error::other("input/output error")),
                n => Ok(n),
            }
        }
    }
    let pcap = udp_flows(100);
    let ok = 24 + 40 * (16 + 1042) + 500;
    let reader = Failing {
        bytes: std::io::Cursor::new(pcap[..ok].to_vec()),
    };
    let a = exaudit::analyse(
        "failing",
        Box::new(reader),
        Default::default(),
        Default::default(),
    );
    assert_eq!(a.stats.capture.packets, 40);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    match a.errors.as_slice() {
        [e @ SourceError::Read { .. }] => {
            assert_eq!(
                exaudit::error_line(e),
                format!(
                    "failing: byte {}: read failed: input/output error",
                    24 + 40 * 1058
                )
            );
        }
        e => panic!("{e:?}"),
    }
}
