//! A streaming legacy-pcap writer, for captures too large to hold in memory (the benchmark
//! generator writes 1 and 2 GiB files with it). The header goes out when the writer is made;
//! each packet is written as it comes, so memory stays at one frame however long the file.
//!
//! The record layout is the one [`super::Capture::to_pcap`] writes (libpcap's
//! `pcap_file_header` and `pcap_pkthdr` on disk): the same bytes for the same frames.

use std::io::{self, Write};

use super::{Capture, Endian, Frame, PcapOptions};
use crate::source::LinkType;
use crate::time::Timestamp;

/// Legacy pcap magic for microsecond timestamps (libpcap `TCPDUMP_MAGIC`).
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Legacy pcap magic for nanosecond timestamps (libpcap `NSEC_TCPDUMP_MAGIC`).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// File format version 2.4, the only one libpcap writes.
const VERSION: (u16, u16) = (2, 4);
/// Bytes of a record header: seconds, sub-second part, captured length, original length.
pub const RECORD_HEADER_BYTES: u64 = 16;
/// Bytes of the file header.
pub const FILE_HEADER_BYTES: u64 = 24;

/// Writes a legacy pcap file one packet at a time. All packets share the link type given to
/// [`PcapStreamWriter::new`] (legacy pcap has one per file); a packet of another link type is
/// refused with [`io::ErrorKind::InvalidInput`].
///
/// ```
/// use exaudit::testkit::{Capture, PcapStreamWriter, addr, take_frames};
/// use exaudit::source::LinkType;
/// let mut out = Vec::new();
/// let mut w = PcapStreamWriter::new(&mut out, LinkType::ETHERNET, 65_535).unwrap();
/// let mut cap = Capture::new();
/// cap.udp(addr("10.0.0.9:53000"), addr("10.0.0.1:53"), b"query");
/// for f in take_frames(&mut cap) {
///     w.write_frame(&f).unwrap();
/// }
/// assert_eq!(w.packets(), 1);
/// w.finish().unwrap();
/// ```
pub struct PcapStreamWriter<W: Write> {
    out: W,
    link: LinkType,
    big_endian: bool,
    nanos: bool,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapStreamWriter<W> {
    /// Writes a little-endian, microsecond file header for `link` and `snaplen`.
    pub fn new(out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        Self::with_options(out, link, snaplen, &PcapOptions::default())
    }

    /// Writes the file header with the byte order and timestamp resolution `o` asks for.
    pub fn with_options(out: W, link: LinkType, snaplen: u32, o: &PcapOptions) -> io::Result<Self> {
        let mut w = Self {
            out,
            link,
            big_endian: o.endian == Endian::Big,
            nanos: o.nanos,
            packets: 0,
            bytes: 0,
        };
        let mut h = [0u8; 24];
        let magic = if o.nanos { MAGIC_NANOS } else { MAGIC_MICROS };
        w.put32(&mut h[0..4], magic);
        w.put16(&mut h[4..6], VERSION.0);
        w.put16(&mut h[6..8], VERSION.1);
        // thiszone and sigfigs: always 0 (libpcap writes 0).
        w.put32(&mut h[16..20], snaplen);
        w.put32(&mut h[20..24], link.0);
        w.out.write_all(&h)?;
        w.bytes = FILE_HEADER_BYTES;
        Ok(w)
    }

    fn put16(&self, dst: &mut [u8], v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        dst.copy_from_slice(&b);
    }

    fn put32(&self, dst: &mut [u8], v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        dst.copy_from_slice(&b);
    }

    /// Writes one frame (its own time, link type, bytes and original length).
    pub fn write_frame(&mut self, f: &Frame) -> io::Result<()> {
        self.write_packet(f.ts, f.link, &f.data, f.orig_len)
    }

    /// Writes one packet record. `orig_len` below the captured length is raised to it, as
    /// libpcap would never write such a record.
    pub fn write_packet(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        if link != self.link {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "link type {} in a legacy pcap file of link type {}",
                    link.0, self.link.0
                ),
            ));
        }
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet longer than 4 GiB"))?;
        let secs = u32::try_from(ts.secs())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp past 2106"))?;
        let frac = if self.nanos {
            ts.subsec_nanos()
        } else {
            ts.subsec_nanos() / 1_000
        };
        let mut h = [0u8; 16];
        self.put32(&mut h[0..4], secs);
        self.put32(&mut h[4..8], frac);
        self.put32(&mut h[8..12], caplen);
        self.put32(&mut h[12..16], orig_len.max(caplen));
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.packets += 1;
        self.bytes += RECORD_HEADER_BYTES + u64::from(caplen);
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far, file header included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and hands back the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Moves the frames recorded so far out of `cap`, leaving it empty with its clock, encapsulation
/// and IP id where they were. Lets a generator build a long capture in batches and stream each
/// batch out, instead of keeping every frame until [`Capture::to_pcap`].
pub fn take_frames(cap: &mut Capture) -> Vec<Frame> {
    std::mem::take(&mut cap.frames)
}

/// The bytes a frame takes in a legacy pcap file (record header plus captured bytes).
pub fn pcap_record_bytes(f: &Frame) -> u64 {
    RECORD_HEADER_BYTES + f.data.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::addr;

    fn sample() -> Capture {
        let mut cap = Capture::new();
        let mut s = cap.tcp(addr("10.0.0.9:40000"), addr("10.0.0.1:25"));
        s.handshake();
        s.client_sends(b"EHLO client.example\r\n");
        s.server_sends(b"250 mail.example\r\n");
        s.close();
        cap.udp(addr("10.0.0.9:53000"), addr("10.0.0.1:53"), b"query");
        cap
    }

    #[test]
    fn streamed_file_is_byte_identical_to_to_pcap() {
        for o in [
            PcapOptions::default(),
            PcapOptions {
                endian: Endian::Big,
                nanos: true,
            },
        ] {
            let mut cap = sample();
            let whole = cap.to_pcap_with(&o);
            let mut w =
                PcapStreamWriter::with_options(Vec::new(), LinkType::ETHERNET, 65_535, &o).unwrap();
            for f in take_frames(&mut cap) {
                w.write_frame(&f).unwrap();
            }
            assert_eq!(w.bytes(), whole.len() as u64);
            assert_eq!(w.finish().unwrap(), whole);
            assert!(cap.frames().is_empty());
        }
    }

    #[test]
    fn another_link_type_is_refused() {
        let mut w = PcapStreamWriter::new(Vec::new(), LinkType::ETHERNET, 65_535).unwrap();
        let e = w
            .write_packet(Timestamp::ZERO, LinkType::RAW, &[0x45], 1)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.packets(), 0);
    }
}
