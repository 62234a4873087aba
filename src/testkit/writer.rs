//! pcap and pcapng writers for fixtures, with the variations a reader must handle: both byte
//! orders, micro- and nanosecond timestamps, several interfaces, enhanced, simple and obsolete
//! packet blocks, several sections.

use super::Frame;
use crate::source::LinkType;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endian {
    #[default]
    Little,
    Big,
}

/// Legacy pcap variations.
#[derive(Clone, Copy, Debug, Default)]
pub struct PcapOptions {
    pub endian: Endian,
    /// Nanosecond magic (0xa1b23c4d) instead of microseconds.
    pub nanos: bool,
}

/// Which block carries the packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NgBlock {
    #[default]
    Enhanced,
    Simple,
    Obsolete,
}

/// pcapng variations.
#[derive(Clone, Copy, Debug, Default)]
pub struct PcapngOptions {
    pub endian: Endian,
    /// `if_tsresol` 9 (nanoseconds) instead of the default 6.
    pub nanos: bool,
    pub block: NgBlock,
    /// Start a new section (with its own interfaces) before every n-th packet; 0 = one section.
    pub section_every: usize,
    /// Write an unused interface description before the real ones (ids then start at 1).
    pub decoy_interface: bool,
    /// `if_tsoffset` of every interface, in seconds (0: no option).
    pub ts_offset_secs: i64,
}

struct W {
    out: Vec<u8>,
    be: bool,
}

impl W {
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&b);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
    fn pad4(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }
}

/// A legacy pcap file. All frames must share one link type (the first frame's).
pub fn pcap(frames: &[Frame], o: &PcapOptions, snaplen: u32) -> Vec<u8> {
    let mut w = W {
        out: Vec::new(),
        be: o.endian == Endian::Big,
    };
    w.u32(if o.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    w.u16(2);
    w.u16(4);
    w.u32(0);
    w.u32(0);
    w.u32(snaplen);
    w.u32(frames.first().map_or(LinkType::ETHERNET.0, |f| f.link.0));
    for f in frames {
        let (secs, frac) = split_ts(f, o.nanos);
        w.u32(u32::try_from(secs).unwrap_or(u32::MAX));
        w.u32(frac);
        w.u32(u32::try_from(f.data.len()).unwrap_or(u32::MAX));
        w.u32(f.orig_len);
        w.bytes(&f.data);
    }
    w.out
}

fn split_ts(f: &Frame, nanos: bool) -> (u64, u32) {
    let sub = f.ts.subsec_nanos();
    (f.ts.secs(), if nanos { sub } else { sub / 1000 })
}

fn block(w: &mut W, ty: u32, body: impl FnOnce(&mut W)) {
    let start = w.out.len();
    w.u32(ty);
    w.u32(0); // length, patched below
    body(w);
    w.pad4();
    let len = u32::try_from(w.out.len() - start + 4).unwrap_or(u32::MAX);
    w.u32(len);
    let b = if w.be {
        len.to_be_bytes()
    } else {
        len.to_le_bytes()
    };
    if let Some(slot) = w.out.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&b);
    }
}

fn section(w: &mut W) {
    block(w, 0x0A0D_0D0A, |w| {
        w.u32(0x1A2B_3C4D);
        w.u16(1);
        w.u16(0);
        w.u32(0xffff_ffff);
        w.u32(0xffff_ffff);
    });
}

fn interface(w: &mut W, link: LinkType, snaplen: u32, nanos: bool, offset_secs: i64) {
    block(w, 1, |w| {
        w.u16(u16::try_from(link.0).unwrap_or(u16::MAX));
        w.u16(0);
        w.u32(snaplen);
        if nanos {
            w.u16(9); // if_tsresol
            w.u16(1);
            w.bytes(&[9, 0, 0, 0]);
        }
        if offset_secs != 0 {
            w.u16(14); // if_tsoffset: a signed 64-bit number of seconds
            w.u16(8);
            let b = if w.be {
                offset_secs.to_be_bytes()
            } else {
                offset_secs.to_le_bytes()
            };
            w.bytes(&b);
        }
        w.u16(0); // opt_endofopt
        w.u16(0);
    });
}

/// A pcapng file: one interface per link type, in order of first use.
pub fn pcapng(frames: &[Frame], o: &PcapngOptions, snaplen: u32) -> Vec<u8> {
    let mut w = W {
        out: Vec::new(),
        be: o.endian == Endian::Big,
    };
    let mut links: Vec<LinkType> = Vec::new();
    let start_section = |w: &mut W, links: &mut Vec<LinkType>| {
        section(w);
        links.clear();
        if o.decoy_interface {
            interface(w, LinkType(147), 100, false, 0);
            links.push(LinkType(u32::MAX));
        }
    };
    start_section(&mut w, &mut links);
    for (i, f) in frames.iter().enumerate() {
        if o.section_every > 0 && i > 0 && i % o.section_every == 0 {
            start_section(&mut w, &mut links);
        }
        let if_id = match links.iter().position(|l| *l == f.link) {
            Some(p) => p,
            None => {
                interface(&mut w, f.link, snaplen, o.nanos, o.ts_offset_secs);
                links.push(f.link);
                links.len() - 1
            }
        };
        let units: u64 = if o.nanos { 1_000_000_000 } else { 1_000_000 };
        let ts = f.ts.secs() * units + u64::from(split_ts(f, o.nanos).1);
        let caplen = u32::try_from(f.data.len()).unwrap_or(u32::MAX);
        match o.block {
            NgBlock::Enhanced => block(&mut w, 6, |w| {
                w.u32(u32::try_from(if_id).unwrap_or(0));
                w.u32(u32::try_from(ts >> 32).unwrap_or(0));
                w.u32(u32::try_from(ts & 0xffff_ffff).unwrap_or(0));
                w.u32(caplen);
                w.u32(f.orig_len);
                w.bytes(&f.data);
            }),
            NgBlock::Simple => block(&mut w, 3, |w| {
                w.u32(f.orig_len);
                w.bytes(&f.data);
            }),
            NgBlock::Obsolete => block(&mut w, 2, |w| {
                w.u16(u16::try_from(if_id).unwrap_or(0));
                w.u16(0);
                w.u32(u32::try_from(ts >> 32).unwrap_or(0));
                w.u32(u32::try_from(ts & 0xffff_ffff).unwrap_or(0));
                w.u32(caplen);
                w.u32(f.orig_len);
                w.bytes(&f.data);
            }),
        }
    }
    w.out
}
