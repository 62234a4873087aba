//! One saved capture: legacy pcap (either byte order, micro- or nanosecond magic, the "modified"
//! variant) or pcapng (any number of sections of either byte order, interfaces with their own link
//! type, snaplen, `if_tsresol` and `if_tsoffset`; enhanced, simple and obsolete packet blocks),
//! optionally gzip- or zstd-compressed, from a file or standard input.
//!
//! Blocks are framed by pcap-parser, a maintained streaming reader; this module adds what a
//! hostile file needs on top: a record length is checked against the snaplen and a hard maximum
//! before any buffer grows for it, and every failure names the file and the byte offset. A
//! pcapng block that carries no packet and describes no interface (statistics, name resolution,
//! decryption secrets …) is skipped and counted when its contents do not parse but its two
//! length fields agree: where the next block starts is still known.
//! Decompression is `compressed.rs`'s: when the input ends, this module asks how the stream
//! ended and reports a damaged one once, after every whole record before the damage was lent.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

use super::compressed::{End, GZIP_MAGIC, Gzip, Input, Shared, Zstd, is_zstd};
use super::{LinkType, RawPacket, SourceConfig, SourceError, SourceWarning};
use crate::stats::CaptureStats;
use crate::time::Timestamp;

/// Read buffer at start (256 KiB): any Ethernet or jumbo frame; it grows for larger records.
const INITIAL_BUFFER_BYTES: usize = 1 << 18;
/// libpcap's MAXIMUM_SNAPLEN: no legitimate legacy record is larger unless its snaplen says so.
const MAX_LEGACY_RECORD_BYTES: u64 = 262_144;
/// The largest pcapng block we accept (libpcap refuses larger ones as well: 16 MiB).
const MAX_PCAPNG_BLOCK_BYTES: u64 = 16 * 1024 * 1024;
/// Interfaces one pcapng section may define before we call the file corrupt.
const MAX_INTERFACES: usize = 65_536;
/// pcapng block types (pcapng specification, section 11.1).
const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const OBSOLETE_PACKET_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    /// Timestamp units per second (10^6 unless `if_tsresol` says otherwise).
    units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_secs: i64,
}

enum Format {
    Legacy {
        link: LinkType,
        snaplen: u32,
        units_per_sec: u64,
        big_endian: bool,
    },
    Ng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// A capture file being read, with its current packet.
pub struct CaptureFile {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    format: Format,
    /// How the (decompressed) byte stream ended, told by the reader under pcap-parser.
    stream: Shared,
    /// The current packet's bytes; reused, so it only grows to the largest packet.
    buf: Vec<u8>,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    packets: u64,
    last_ts: Timestamp,
    done: bool,
    warnings: Vec<SourceWarning>,
    /// Errors that did not stop the file (its framing is intact).
    errors: Vec<SourceError>,
    over_snaplen_reported: bool,
    /// Packets on unsupported link types, by link type (bounded by the number of link types).
    unsupported: BTreeMap<u32, u64>,
}

/// Fills a read buffer as far as the stream allows: pcap-parser reads the file header with one
/// call, and a short read from a pipe or a decompressor would make a valid file look unrecognised.
/// The streams below never fail (they record what went wrong in their [`Shared`] slot).
struct Filled<R>(R);

impl<R: Read> Read for Filled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while let Some(space) = buf.get_mut(filled..).filter(|s| !s.is_empty()) {
            match self.0.read(space) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(filled)
    }
}

fn first_bytes_hex(b: &[u8]) -> String {
    b.iter().take(4).map(|x| format!("{x:02x}")).collect()
}

/// The file at `path`, or standard input for `-`.
fn open_raw(path: &Path) -> Result<Box<dyn Read + Send>, SourceError> {
    Ok(if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        let meta = std::fs::metadata(path).map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            return Err(SourceError::IsDirectory {
                path: path.to_owned(),
            });
        }
        Box::new(File::open(path).map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?)
    })
}

impl CaptureFile {
    /// Opens `path` (`-` is standard input), undoes gzip or zstd compression, reads the file header.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Self::open_with(path, &SourceConfig::default())
    }

    /// [`CaptureFile::open`] with the limits of `config`.
    pub fn open_with(path: &Path, config: &SourceConfig) -> Result<Self, SourceError> {
        Self::from_reader_with(path, open_raw(path)?, config)
    }

    /// Opens `path` only to find the time of its first packet, and closes it again. A zstd
    /// stream is decoded only a few MiB for this, not a whole window. `None` if no packet came
    /// out of that part (the file is then best read the ordinary way, which tells why).
    pub(crate) fn first_packet_time(
        path: &Path,
        config: &SourceConfig,
    ) -> Result<Option<Timestamp>, SourceError> {
        let mut f = Self::start(path, open_raw(path)?, config, true)?;
        // Counted when the file is read for good, not now.
        let mut scratch = CaptureStats::default();
        Ok(match f.advance(&mut scratch) {
            Ok(true) => Some(f.ts),
            _ => None,
        })
    }

    /// Reads a capture from any byte stream (`path` only names it in messages).
    pub fn from_reader(path: &Path, raw: Box<dyn Read + Send>) -> Result<Self, SourceError> {
        Self::from_reader_with(path, raw, &SourceConfig::default())
    }

    /// [`CaptureFile::from_reader`] with the limits of `config`.
    pub fn from_reader_with(
        path: &Path,
        raw: Box<dyn Read + Send>,
        config: &SourceConfig,
    ) -> Result<Self, SourceError> {
        Self::start(path, raw, config, false)
    }

    /// Recognises the compression, then the capture format, and reads the file header. With
    /// `peek`, a zstd stream decodes only what the first packet needs.
    fn start(
        path: &Path,
        raw: Box<dyn Read + Send>,
        config: &SourceConfig,
        peek: bool,
    ) -> Result<Self, SourceError> {
        let stream = Shared::default();
        let mut input = Input::new(raw, stream.clone());
        let head = input.fill_buf().unwrap_or(&[]);
        let head_len = head.len();
        let head_hex = first_bytes_hex(head);
        let magic = head.first_chunk::<4>().copied();
        let compressed = head.starts_with(&GZIP_MAGIC) || magic.is_some_and(is_zstd);
        if head_len == 0
            && let Some(End::Io(source)) = stream.take().end
        {
            return Err(SourceError::Read {
                path: path.to_owned(),
                offset: 0,
                source,
            });
        }
        let decompressed: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(Gzip::new(input))
        } else if magic.is_some_and(is_zstd) {
            Box::new(Zstd::new(input, config.max_zstd_window_bytes, peek))
        } else {
            // An uncompressed file is read through the same buffer, which counts its offsets.
            Box::new(input)
        };
        let mut reader = match create_reader(INITIAL_BUFFER_BYTES, Filled(decompressed)) {
            Ok(r) => r,
            Err(e) => {
                return Err(match (e, stream.take().end) {
                    (_, Some(End::Io(source))) => SourceError::Read {
                        path: path.to_owned(),
                        offset: 0,
                        source,
                    },
                    (_, Some(End::Damaged(damage))) => SourceError::Compressed {
                        path: path.to_owned(),
                        damage,
                    },
                    (PcapError::Eof, _) => SourceError::Empty {
                        path: path.to_owned(),
                    },
                    (PcapError::Incomplete(_), _) => SourceError::TruncatedHeader {
                        path: path.to_owned(),
                        len: if compressed { 0 } else { head_len },
                    },
                    (_, _) if head_len < 4 && !compressed => SourceError::TruncatedHeader {
                        path: path.to_owned(),
                        len: head_len,
                    },
                    (_, _) => SourceError::BadMagic {
                        path: path.to_owned(),
                        magic: head_hex,
                    },
                });
            }
        };
        let format = match reader.next() {
            Ok((off, PcapBlockOwned::LegacyHeader(h))) => {
                let link = u32::try_from(h.network.0).unwrap_or(u32::MAX);
                let units = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                let snaplen = h.snaplen;
                let big_endian = h.is_bigendian();
                reader.consume(off);
                if !LinkType(link).is_supported() {
                    return Err(SourceError::UnsupportedLinkType {
                        path: path.to_owned(),
                        link,
                    });
                }
                Format::Legacy {
                    link: LinkType(link),
                    snaplen,
                    units_per_sec: units,
                    big_endian,
                }
            }
            // pcapng: the section header is handled like any later one, by `advance`.
            Ok(_) => Format::Ng {
                big_endian: false,
                interfaces: Vec::new(),
            },
            Err(_) => {
                let data = reader.data();
                let len = data.len();
                return Err(if len < 24 {
                    SourceError::TruncatedHeader {
                        path: path.to_owned(),
                        len,
                    }
                } else {
                    SourceError::BadMagic {
                        path: path.to_owned(),
                        magic: first_bytes_hex(data),
                    }
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            reader,
            format,
            stream,
            buf: Vec::new(),
            ts: Timestamp::ZERO,
            link: LinkType::ETHERNET,
            orig_len: 0,
            packets: 0,
            last_ts: Timestamp::ZERO,
            done: false,
            warnings: Vec::new(),
            errors: Vec::new(),
            over_snaplen_reported: false,
            unsupported: BTreeMap::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Stops reading this file (after an error that makes the rest untrustworthy).
    pub fn stop(&mut self) {
        self.done = true;
    }

    pub fn current_ts(&self) -> Timestamp {
        self.ts
    }

    /// The packet loaded by the last successful [`CaptureFile::advance`].
    pub fn current(&self) -> RawPacket<'_> {
        RawPacket {
            ts: self.ts,
            link: self.link,
            data: &self.buf,
            orig_len: self.orig_len,
        }
    }

    pub fn bytes_consumed(&self) -> u64 {
        self.reader.consumed() as u64
    }

    /// Errors that did not stop the file.
    pub fn take_errors(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.errors)
    }

    /// Whether [`CaptureFile::take_errors`] has anything to give (asked once per packet).
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn take_warnings(&mut self) -> Vec<SourceWarning> {
        for (&link, &packets) in &self.unsupported {
            self.warnings.push(SourceWarning::UnsupportedLinkType {
                path: self.path.clone(),
                link,
                packets,
            });
        }
        self.unsupported.clear();
        std::mem::take(&mut self.warnings)
    }

    fn corrupt(&self, what: String) -> SourceError {
        SourceError::Corrupt {
            path: self.path.clone(),
            offset: self.bytes_consumed(),
            what,
        }
    }

    /// Reads blocks until the next packet is loaded (`Ok(true)`) or the file ends (`Ok(false)`).
    pub fn advance(&mut self, stats: &mut CaptureStats) -> Result<bool, SourceError> {
        if self.done {
            return Ok(false);
        }
        loop {
            // A record too large to be real is refused before the buffer grows for it.
            self.check_pending_length()?;
            let mut step = match self.reader.next() {
                Ok((offset, block)) => {
                    let r = load_block(
                        block,
                        &mut self.format,
                        &mut self.buf,
                        &mut self.unsupported,
                        stats,
                    );
                    Step::Block(offset, r)
                }
                Err(PcapError::Eof) => Step::Eof,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::UnexpectedEof) => Step::CutAtEnd,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::ReadError) => Step::ReadFailed,
                Err(PcapError::HeaderNotRecognized) => {
                    Step::Corrupt("block header not recognised".to_owned())
                }
                Err(PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind)) => {
                    Step::Malformed(Some(kind))
                }
            };
            // pcap-parser wants more bytes for a block that is whole in the buffer: its
            // contents overrun its own length.
            // (Tested in place: a packet's step is large and is not moved for it.)
            if matches!(step, Step::Refill | Step::Grow | Step::CutAtEnd) && self.pending_is_whole()
            {
                step = Step::Malformed(None);
            }
            match step {
                Step::Block(offset, loaded) => {
                    let offset_before = self.bytes_consumed();
                    self.reader.consume(offset);
                    match loaded? {
                        Loaded::Nothing => {}
                        Loaded::Packet(meta) => {
                            self.packets += 1;
                            self.ts = meta.ts;
                            self.link = meta.link;
                            self.orig_len = meta.orig_len;
                            stats.packets += 1;
                            stats.captured_bytes += self.buf.len() as u64;
                            stats.wire_bytes += u64::from(meta.orig_len);
                            if (self.buf.len() as u64) < u64::from(meta.orig_len) {
                                stats.packets_cut_by_snaplen += 1;
                            }
                            if meta.ts < self.last_ts {
                                stats.timestamps_backwards += 1;
                            }
                            self.last_ts = meta.ts;
                            if meta.snaplen != 0 && self.buf.len() as u64 > u64::from(meta.snaplen)
                            {
                                stats.records_over_snaplen += 1;
                                // The framing is intact, so the packet is still handed on; the
                                // first such record of the file is reported, the rest counted.
                                if !self.over_snaplen_reported {
                                    self.over_snaplen_reported = true;
                                    self.errors.push(SourceError::OverSnaplen {
                                        path: self.path.clone(),
                                        packet: self.packets,
                                        offset: offset_before,
                                        caplen: self.buf.len() as u64,
                                        snaplen: meta.snaplen,
                                    });
                                }
                            }
                            return Ok(true);
                        }
                        Loaded::BadSection(what) => {
                            return Err(SourceError::Corrupt {
                                path: self.path.clone(),
                                offset: offset_before,
                                what,
                            });
                        }
                    }
                }
                Step::Eof => return self.end_of_stream(false),
                Step::Refill => self.refill()?,
                Step::CutAtEnd => return self.end_of_stream(true),
                Step::Malformed(what) => match self.skippable_block_len() {
                    Some(len) => {
                        self.reader.consume(len);
                        stats.blocks_malformed += 1;
                    }
                    None => {
                        let what = match &what {
                            Some(k) => k.description(),
                            None => "its contents overrun its own length",
                        };
                        return Err(self.corrupt(format!("malformed block ({what})")));
                    }
                },
                Step::Grow => {
                    let need = self.pending_length().unwrap_or(0);
                    let want = usize::try_from(need)
                        .unwrap_or(usize::MAX)
                        .saturating_add(64);
                    if need == 0 || !self.reader.grow(want.max(INITIAL_BUFFER_BYTES * 2)) {
                        return Err(self.corrupt(format!(
                            "record of {need} bytes does not fit the read buffer"
                        )));
                    }
                    self.refill()?;
                }
                Step::ReadFailed => return Err(self.read_error()),
                Step::Corrupt(what) => return Err(self.corrupt(what)),
            }
        }
    }

    /// The input ended (`cut`: inside a record). How the byte stream under the reader ended
    /// decides what the user is told: a compressed stream that was cut or damaged explains a
    /// cut last record, so only the stream's problem is reported.
    fn end_of_stream(&mut self, cut: bool) -> Result<bool, SourceError> {
        self.done = true;
        let end = self.stream.take();
        if let Some(damage) = end.damage {
            self.warnings.push(SourceWarning::Compressed {
                path: self.path.clone(),
                damage,
                packets: self.packets,
            });
        }
        match end.end {
            None => {
                if cut {
                    self.warnings.push(SourceWarning::LastRecordCut {
                        path: self.path.clone(),
                        packets: self.packets,
                    });
                }
                Ok(false)
            }
            Some(End::PeekDone) => Ok(false),
            Some(End::Io(source)) => Err(SourceError::Read {
                path: self.path.clone(),
                offset: self.bytes_consumed(),
                source,
            }),
            Some(End::Damaged(damage)) if damage.is_warning() => {
                self.warnings.push(SourceWarning::Compressed {
                    path: self.path.clone(),
                    damage,
                    packets: self.packets,
                });
                Ok(false)
            }
            Some(End::Damaged(damage)) => Err(SourceError::Compressed {
                path: self.path.clone(),
                damage,
            }),
        }
    }

    fn refill(&mut self) -> Result<(), SourceError> {
        if self.reader.refill().is_err() {
            return Err(self.read_error());
        }
        Ok(())
    }

    /// pcap-parser could not read: the streams under it never fail, so this is not expected.
    fn read_error(&self) -> SourceError {
        let source = match self.stream.take().end {
            Some(End::Io(e)) => e,
            _ => io::Error::other("read failed"),
        };
        SourceError::Read {
            path: self.path.clone(),
            offset: self.bytes_consumed(),
            source,
        }
    }

    /// The total length the next record or block claims, if its header is in the buffer.
    fn pending_length(&self) -> Option<u64> {
        let data = self.reader.data();
        match &self.format {
            Format::Legacy { big_endian, .. } => {
                let caplen: [u8; 4] = data.get(8..12)?.try_into().ok()?;
                let caplen = if *big_endian {
                    u32::from_be_bytes(caplen)
                } else {
                    u32::from_le_bytes(caplen)
                };
                Some(u64::from(caplen) + 16)
            }
            Format::Ng { big_endian, .. } => {
                let ty: [u8; 4] = data.get(0..4)?.try_into().ok()?;
                let len: [u8; 4] = data.get(4..8)?.try_into().ok()?;
                let be = if u32::from_le_bytes(ty) == SHB_TYPE {
                    // A new section announces its own byte order (byte-order magic at offset 8).
                    let bom: [u8; 4] = data.get(8..12)?.try_into().ok()?;
                    bom == [0x1a, 0x2b, 0x3c, 0x4d]
                } else {
                    *big_endian
                };
                Some(u64::from(if be {
                    u32::from_be_bytes(len)
                } else {
                    u32::from_le_bytes(len)
                }))
            }
        }
    }

    /// The length of the pending pcapng block if it may be skipped when its contents are
    /// malformed: it carries no packet and describes neither the section nor an interface
    /// (interface statistics, name resolution, decryption secrets, custom blocks …), it is whole
    /// in the buffer, and its two length fields agree (pcapng §3.1), so the next block starts
    /// where they say.
    fn skippable_block_len(&self) -> Option<usize> {
        let Format::Ng { big_endian, .. } = &self.format else {
            return None;
        };
        let data = self.reader.data();
        let u32_at = |at: usize| -> Option<u32> {
            let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if *big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let ty = u32_at(0)?;
        if matches!(
            ty,
            SHB_TYPE | IDB_TYPE | OBSOLETE_PACKET_TYPE | SPB_TYPE | EPB_TYPE
        ) {
            return None;
        }
        let len = u32_at(4)?;
        let end = usize::try_from(len).ok()?;
        (len >= 12 && len % 4 == 0 && u32_at(end.checked_sub(4)?)? == len).then_some(end)
    }

    /// Whether the pending record is entirely in the buffer (so "incomplete" means corrupt).
    fn pending_is_whole(&self) -> bool {
        self.pending_length()
            .is_some_and(|len| len <= self.reader.data().len() as u64)
    }

    /// Refuses a pending record whose claimed length no honest writer produces.
    fn check_pending_length(&self) -> Result<(), SourceError> {
        let Some(len) = self.pending_length() else {
            return Ok(());
        };
        match &self.format {
            Format::Legacy { snaplen, .. } => {
                let caplen = len - 16;
                // The file's snaplen can raise the limit (some link types need more than
                // libpcap's usual maximum), but only up to what a pcapng block may hold: a
                // hostile header must not make the read buffer grow without bound.
                let limit =
                    MAX_LEGACY_RECORD_BYTES.max(u64::from(*snaplen).min(MAX_PCAPNG_BLOCK_BYTES));
                if caplen > limit {
                    return Err(self.corrupt(format!(
                        "packet {} claims a captured length of {caplen} bytes (snaplen {snaplen}, \
                         at most {limit} accepted)",
                        self.packets + 1
                    )));
                }
            }
            Format::Ng { .. } => {
                if len < 12 {
                    return Err(
                        self.corrupt(format!("block length {len} is below the minimum of 12"))
                    );
                }
                if len % 4 != 0 {
                    return Err(self.corrupt(format!("block length {len} is not a multiple of 4")));
                }
                if len > MAX_PCAPNG_BLOCK_BYTES {
                    return Err(self.corrupt(format!(
                        "block length {len} exceeds the maximum of {MAX_PCAPNG_BLOCK_BYTES}"
                    )));
                }
            }
        }
        Ok(())
    }
}

enum Step {
    Block(usize, Result<Loaded, SourceError>),
    Eof,
    Refill,
    CutAtEnd,
    Grow,
    ReadFailed,
    Corrupt(String),
    /// A whole block that does not parse: what nom said, or `None` when its contents overrun
    /// its own length.
    Malformed(Option<pcap_parser::nom::error::ErrorKind>),
}

struct Meta {
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    snaplen: u32,
}

enum Loaded {
    Nothing,
    Packet(Meta),
    BadSection(String),
}

fn copy_into(buf: &mut Vec<u8>, data: &[u8]) {
    buf.clear();
    buf.extend_from_slice(data);
}

/// Interprets one block: loads a packet into `buf`, or updates the section's interfaces.
fn load_block(
    block: PcapBlockOwned<'_>,
    format: &mut Format,
    buf: &mut Vec<u8>,
    unsupported: &mut BTreeMap<u32, u64>,
    stats: &mut CaptureStats,
) -> Result<Loaded, SourceError> {
    match (format, block) {
        (
            Format::Legacy {
                link,
                snaplen,
                units_per_sec,
                ..
            },
            PcapBlockOwned::Legacy(b),
        ) => {
            copy_into(buf, b.data);
            Ok(Loaded::Packet(Meta {
                ts: Timestamp::from_parts(
                    u64::from(b.ts_sec),
                    u64::from(b.ts_usec),
                    *units_per_sec,
                ),
                link: *link,
                orig_len: b.origlen,
                snaplen: *snaplen,
            }))
        }
        (
            Format::Ng {
                big_endian,
                interfaces,
            },
            PcapBlockOwned::NG(block),
        ) => match block {
            Block::SectionHeader(shb) => {
                *big_endian = shb.big_endian();
                interfaces.clear();
                Ok(Loaded::Nothing)
            }
            Block::InterfaceDescription(idb) => {
                if interfaces.len() >= MAX_INTERFACES {
                    return Ok(Loaded::BadSection(format!(
                        "more than {MAX_INTERFACES} interfaces in one section"
                    )));
                }
                let units = match idb.if_tsresol() {
                    None => 1_000_000,
                    Some(Ok(r)) => match ts_units(r) {
                        Some(u) => u,
                        None => {
                            return Ok(Loaded::BadSection(format!(
                                "interface {} has an impossible if_tsresol of {r}",
                                interfaces.len()
                            )));
                        }
                    },
                    Some(Err(_)) => {
                        return Ok(Loaded::BadSection(format!(
                            "interface {} has a malformed if_tsresol option",
                            interfaces.len()
                        )));
                    }
                };
                let offset_secs = match idb.if_tsoffset() {
                    Some(Ok(o)) => o,
                    _ => 0,
                };
                interfaces.push(Interface {
                    link: LinkType(u32::try_from(idb.linktype.0).unwrap_or(u32::MAX)),
                    snaplen: idb.snaplen,
                    units_per_sec: units,
                    offset_secs,
                });
                Ok(Loaded::Nothing)
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                else {
                    return Ok(Loaded::BadSection(format!(
                        "packet on interface {} which the section never described",
                        epb.if_id
                    )));
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                ng_packet(iface, raw, epb.packet_data(), epb.origlen, buf, unsupported)
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first() else {
                    return Ok(Loaded::BadSection(
                        "simple packet block before any interface description".to_owned(),
                    ));
                };
                let mut data = spb.packet_data();
                if iface.snaplen != 0 {
                    let cut = usize::try_from(iface.snaplen).unwrap_or(usize::MAX);
                    data = data.get(..cut).unwrap_or(data);
                }
                // A simple packet block has no timestamp (pcapng §4.4): it takes time zero.
                let iface = *iface;
                let r = ng_packet(&iface, 0, data, spb.origlen, buf, unsupported)?;
                Ok(r)
            }
            // pcap-parser reads an unknown block's type little-endian whatever the section says.
            Block::Unknown(ub)
                if (if *big_endian {
                    ub.block_type.swap_bytes()
                } else {
                    ub.block_type
                }) == OBSOLETE_PACKET_TYPE =>
            {
                obsolete_packet(ub.data, *big_endian, interfaces, buf, unsupported)
            }
            _ => {
                stats.blocks_skipped += 1;
                Ok(Loaded::Nothing)
            }
        },
        // A legacy file never yields pcapng blocks and vice versa; anything else carries no packet.
        _ => Ok(Loaded::Nothing),
    }
}

/// `if_tsresol` (pcapng §4.2): high bit clear is 10^-n seconds, set is 2^-n seconds.
fn ts_units(r: u8) -> Option<u64> {
    let n = u32::from(r & 0x7f);
    if r & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

fn ng_packet(
    iface: &Interface,
    raw_ts: u64,
    data: &[u8],
    orig_len: u32,
    buf: &mut Vec<u8>,
    unsupported: &mut BTreeMap<u32, u64>,
) -> Result<Loaded, SourceError> {
    if !iface.link.is_supported() {
        // Counted and warned about once; the packet itself cannot be decoded.
        *unsupported.entry(iface.link.0).or_insert(0) += 1;
    }
    copy_into(buf, data);
    Ok(Loaded::Packet(Meta {
        ts: Timestamp::from_units(raw_ts, iface.units_per_sec, iface.offset_secs),
        link: iface.link,
        orig_len,
        snaplen: iface.snaplen,
    }))
}

/// The obsolete Packet Block (pcapng draft, appendix A): interface id (u16), drops (u16),
/// timestamp high and low (u32 each), captured length, original length, then the data.
fn obsolete_packet(
    body: &[u8],
    big_endian: bool,
    interfaces: &[Interface],
    buf: &mut Vec<u8>,
    unsupported: &mut BTreeMap<u32, u64>,
) -> Result<Loaded, SourceError> {
    let Some((hdr, rest)) = body.split_first_chunk::<20>() else {
        return Ok(Loaded::BadSection(
            "obsolete packet block cut short".to_owned(),
        ));
    };
    let [
        i0,
        i1,
        _,
        _,
        h0,
        h1,
        h2,
        h3,
        l0,
        l1,
        l2,
        l3,
        c0,
        c1,
        c2,
        c3,
        o0,
        o1,
        o2,
        o3,
    ] = *hdr;
    let u16_of = |b: [u8; 2]| {
        if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let u32_of = |b: [u8; 4]| {
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let if_id = usize::from(u16_of([i0, i1]));
    let raw_ts = (u64::from(u32_of([h0, h1, h2, h3])) << 32) | u64::from(u32_of([l0, l1, l2, l3]));
    let caplen = usize::try_from(u32_of([c0, c1, c2, c3])).unwrap_or(usize::MAX);
    let orig_len = u32_of([o0, o1, o2, o3]);
    let Some(iface) = interfaces.get(if_id) else {
        return Ok(Loaded::BadSection(format!(
            "packet on interface {if_id} which the section never described"
        )));
    };
    let Some(data) = rest.get(..caplen) else {
        return Ok(Loaded::BadSection(
            "obsolete packet block's captured length exceeds the block".to_owned(),
        ));
    };
    ng_packet(iface, raw_ts, data, orig_len, buf, unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_units() {
        assert_eq!(ts_units(6), Some(1_000_000));
        assert_eq!(ts_units(9), Some(1_000_000_000));
        assert_eq!(ts_units(0x80 | 20), Some(1 << 20));
        assert_eq!(ts_units(20), None);
        assert_eq!(ts_units(0x80 | 64), None);
    }
}
