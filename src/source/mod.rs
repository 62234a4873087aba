//! Where packets come from: saved pcap and pcapng files (plain, gzip or zstd), and standard input.
//!
//! A source hands out `(timestamp, link type, bytes, original length)` and nothing else. It lends
//! each packet from a buffer it reuses, so reading allocates nothing per packet once the buffer has
//! grown to the largest packet. Several inputs are merged in timestamp order, each opened when
//! the merge reaches it. A bad input is reported and dropped; the others go on. A damaged input
//! (cut, or a compressed stream that fails) gives every packet before the damage first.
//!
//! It does not look inside packets (that is `decode`).

#![deny(clippy::indexing_slicing)]

mod compressed;
mod file;

use std::path::PathBuf;

use crate::stats::CaptureStats;
use crate::time::Timestamp;

pub use file::CaptureFile;

/// A link-layer header type, as pcap and pcapng name it (tcpdump.org link-layer header types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// DLT_RAW as most systems number it.
    pub const RAW_12: LinkType = LinkType(12);
    /// DLT_RAW as OpenBSD numbers it.
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The link types `decode` understands.
    pub const SUPPORTED: [LinkType; 11] = [
        Self::NULL,
        Self::ETHERNET,
        Self::RAW_12,
        Self::RAW_14,
        Self::RAW,
        Self::LOOP,
        Self::LINUX_SLL,
        Self::IPV4,
        Self::IPV6,
        Self::NFLOG,
        Self::LINUX_SLL2,
    ];

    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }
}

/// Limits on reading inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// The largest zstd window accepted (`--max-zstd-window-mib`). A zstd decoder holds one
    /// window of output per open file, so this bounds the memory each one takes.
    pub max_zstd_window_bytes: u64,
}

impl SourceConfig {
    /// 128 MiB: zstd(1) refuses larger windows unless told otherwise (`--long=27` is the
    /// largest it decodes by default; its `--memory` option raises the limit).
    pub const DEFAULT_MAX_ZSTD_WINDOW_BYTES: u64 = 128 << 20;
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            max_zstd_window_bytes: Self::DEFAULT_MAX_ZSTD_WINDOW_BYTES,
        }
    }
}

/// One packet, lent by its source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// The captured bytes (may be shorter than `orig_len` when the snaplen cut the packet).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// Why an input could not be read, or could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: cannot open", crate::text::path(.path))]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is a directory, not a capture file", crate::text::path(.path))]
    IsDirectory { path: PathBuf },
    #[error("{}: empty file (no capture header)", crate::text::path(.path))]
    Empty { path: PathBuf },
    #[error("{}: not a pcap or pcapng file (first bytes {magic})", crate::text::path(.path))]
    BadMagic { path: PathBuf, magic: String },
    #[error("{}: file header cut short ({len} bytes)", crate::text::path(.path))]
    TruncatedHeader { path: PathBuf, len: usize },
    #[error(
        "{}: unsupported link type {link} (supported: 0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276)",
        crate::text::path(.path)
    )]
    UnsupportedLinkType { path: PathBuf, link: u32 },
    #[error("{}: byte {offset}: {what}", crate::text::path(.path))]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("{}: packet {packet} (byte {offset}): captured length {caplen} exceeds the snaplen of {snaplen}", crate::text::path(.path))]
    OverSnaplen {
        path: PathBuf,
        packet: u64,
        offset: u64,
        caplen: u64,
        snaplen: u32,
    },
    #[error("{}: byte {offset}: read failed", crate::text::path(.path))]
    Read {
        path: PathBuf,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The compressed stream is damaged where nothing after it can be read, or before the
    /// capture header.
    #[error("{}: {damage}", crate::text::path(.path))]
    Compressed { path: PathBuf, damage: Damage },
}

/// A compression format undone on reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// RFC 1952, one or more members.
    Gzip,
    /// RFC 8878, one or more frames, skippable frames among them.
    Zstd,
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// Where a compressed stream stops short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    GzipHeader,
    Deflate,
    GzipTrailer,
    ZstdFrameHeader,
    ZstdBlock,
    ZstdChecksum,
    SkippableFrame,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cut::GzipHeader => "gzip member header cut short",
            Cut::Deflate => "deflate data cut short",
            Cut::GzipTrailer => "gzip trailer missing",
            Cut::ZstdFrameHeader => "zstd frame header cut short",
            Cut::ZstdBlock => "zstd block cut short",
            Cut::ZstdChecksum => "zstd checksum missing",
            Cut::SkippableFrame => "zstd skippable frame cut short",
        })
    }
}

/// What is wrong with the compressed stream of a capture file. Offsets count bytes of the
/// compressed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The stream stops before its end: the file was copied or read while still being written,
    /// or a transfer was cut.
    Cut(Cut),
    /// gzip's CRC-32 (RFC 1952 §2.3.1) or zstd's content checksum (RFC 8878 §3.1.1) does not
    /// match the bytes that decompressed.
    ChecksumMismatch(Compression),
    /// gzip's ISIZE, the length modulo 2^32 (RFC 1952 §2.3.1), does not match either.
    LengthMismatch { stored: u32, actual: u32 },
    /// Bytes after the stream that are neither another member or frame nor zero padding.
    TrailingData {
        compression: Compression,
        offset: u64,
    },
    /// Not a gzip member header (RFC 1952 §2.3.1: magic 1f 8b, method 8, reserved flags clear).
    BadGzipHeader { offset: u64 },
    /// Deflate data (RFC 1951) that does not decode, in the member starting at `member`.
    BadDeflate { member: u64 },
    /// A zstd frame header that does not parse.
    BadZstdFrameHeader { offset: u64 },
    /// A zstd frame compressed with a dictionary, which a capture file does not come with.
    ZstdDictionary { offset: u64, id: u32 },
    /// A zstd block that does not decode.
    BadZstdBlock { offset: u64 },
    /// A zstd frame whose window (the memory it needs to decode) is above the limit.
    ZstdWindowTooLarge {
        offset: u64,
        window: u64,
        limit: u64,
    },
}

impl Damage {
    /// Whether every byte before the damage was read and the damage leaves the rest of the run's
    /// answer as complete as the file allows: a warning, not an error.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Damage::Cut(_)
                | Damage::ChecksumMismatch(_)
                | Damage::LengthMismatch { .. }
                | Damage::TrailingData { .. }
        )
    }
}

/// A size in the largest binary unit that divides it.
struct Bytes(u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => f.write_str("0 bytes"),
            n if n % (1 << 30) == 0 => write!(f, "{} GiB", n >> 30),
            n if n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Cut(at) => write!(f, "compressed stream ends early ({at})"),
            Damage::ChecksumMismatch(Compression::Gzip) => f.write_str(
                "gzip CRC-32 does not match the decompressed data (the file is damaged)",
            ),
            Damage::ChecksumMismatch(Compression::Zstd) => f.write_str(
                "zstd content checksum does not match the decompressed data (the file is damaged)",
            ),
            Damage::LengthMismatch { stored, actual } => write!(
                f,
                "gzip trailer gives a length of {stored} bytes but {actual} decompressed \
                 (modulo 2^32; the file is damaged)"
            ),
            Damage::TrailingData {
                compression,
                offset,
            } => {
                let unit = match compression {
                    Compression::Gzip => "member",
                    Compression::Zstd => "frame",
                };
                write!(
                    f,
                    "data after the end of the {compression} stream at byte {offset} ignored \
                     (neither a {compression} {unit} nor zero padding)"
                )
            }
            Damage::BadGzipHeader { offset } => {
                write!(f, "byte {offset}: not a valid gzip member header")
            }
            Damage::BadDeflate { member } => {
                write!(f, "gzip member at byte {member}: invalid deflate data")
            }
            Damage::BadZstdFrameHeader { offset } => {
                write!(f, "byte {offset}: not a valid zstd frame header")
            }
            Damage::ZstdDictionary { offset, id } => write!(
                f,
                "zstd frame at byte {offset} needs dictionary {id}, which is not in the file"
            ),
            Damage::BadZstdBlock { offset } => {
                write!(f, "byte {offset}: invalid zstd block")
            }
            Damage::ZstdWindowTooLarge {
                offset,
                window,
                limit,
            } => write!(
                f,
                "zstd frame at byte {offset} needs a window of {}, above the limit of {} \
                 (raise it with --max-zstd-window-mib)",
                Bytes(*window),
                Bytes(*limit)
            ),
        }
    }
}

/// Something worth telling the user that is not an error: the run's answer is still complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceWarning {
    /// The last record of the file is cut short: the capture stopped mid-write.
    LastRecordCut { path: PathBuf, packets: u64 },
    /// Packets arrived on an interface whose link type exaudit does not decode.
    UnsupportedLinkType {
        path: PathBuf,
        link: u32,
        packets: u64,
    },
    /// The compressed stream is damaged, but every packet before the damage was read.
    Compressed {
        path: PathBuf,
        damage: Damage,
        packets: u64,
    },
}

impl std::fmt::Display for SourceWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceWarning::LastRecordCut { path, packets } => write!(
                f,
                "{}: last record cut short (capture stopped mid-write); {packets} packets read",
                crate::text::path(path)
            ),
            SourceWarning::UnsupportedLinkType {
                path,
                link,
                packets,
            } => write!(
                f,
                "{}: {packets} packets on unsupported link type {link} were counted, not decoded",
                crate::text::path(path)
            ),
            SourceWarning::Compressed {
                path,
                damage,
                packets,
            } => write!(
                f,
                "{}: {damage}; {packets} packets read",
                crate::text::path(path)
            ),
        }
    }
}

/// One input of a [`Merged`] stream.
enum Slot {
    /// Not opened yet; its first packet comes at `first`.
    Waiting { path: PathBuf, first: Timestamp },
    /// Being read; `ready` when it holds a packet that has not been lent out yet.
    Open { file: CaptureFile, ready: bool },
    /// Read to its end, or stopped by an error, and closed.
    Closed,
}

/// Several capture files read as one stream in timestamp order.
///
/// Each open file keeps its own next packet; the earliest one is lent out. Ties go to the file
/// named first, so the same inputs always give the same order.
///
/// Files are opened when the merge reaches them and closed at their end. [`Merged::open`] reads
/// each file's first packet time and closes it again; a file is then opened for good only when
/// no open file has an earlier packet than its first. Rotated captures that follow each other in
/// time are thus read one after the other, and a zstd file holds its window (up to
/// `--max-zstd-window-mib`) only while it is read. Files that overlap in time are open together.
/// The order of the packets is the one all files open at once would give.
pub struct Merged {
    slots: Vec<Slot>,
    /// The file whose packet was lent last: it must read its next packet before we compare.
    lent: Option<usize>,
    errors: Vec<SourceError>,
    /// Warnings of the files already closed, with the index of their file.
    warnings: Vec<(usize, SourceWarning)>,
    /// Bytes consumed by the files already closed.
    closed_bytes: u64,
    config: SourceConfig,
    /// Slots not opened yet: while there are none, a packet costs no look at them.
    waiting: usize,
}

impl Merged {
    /// Merges files that are already open.
    pub fn new(files: Vec<CaptureFile>) -> Self {
        Self::with_slots(
            files
                .into_iter()
                .map(|file| Slot::Open { file, ready: false })
                .collect(),
            SourceConfig::default(),
        )
    }

    fn with_slots(slots: Vec<Slot>, config: SourceConfig) -> Self {
        let waiting = slots
            .iter()
            .filter(|s| matches!(s, Slot::Waiting { .. }))
            .count();
        Self {
            waiting,
            slots,
            lent: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            closed_bytes: 0,
            config,
        }
    }

    /// Opens every path; those that cannot be opened become errors, the rest are read. With more
    /// than one path, a regular file is only looked into for its first packet time here, and
    /// opened for good when the merge reaches it (standard input and pipes cannot be read twice:
    /// they are opened at once).
    pub fn open(paths: &[PathBuf], config: &SourceConfig) -> (Self, Vec<SourceError>) {
        let mut slots = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for p in paths {
            let again = paths.len() > 1
                && p.as_os_str() != "-"
                && std::fs::metadata(p).is_ok_and(|m| m.is_file());
            let first = if again {
                match CaptureFile::first_packet_time(p, config) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
            } else {
                None
            };
            match first {
                Some(first) => slots.push(Slot::Waiting {
                    path: p.clone(),
                    first,
                }),
                // No packet seen in the part that was read: read the file the ordinary way.
                None => match CaptureFile::open_with(p, config) {
                    Ok(file) => slots.push(Slot::Open { file, ready: false }),
                    Err(e) => errors.push(e),
                },
            }
        }
        (Self::with_slots(slots, *config), errors)
    }

    /// The next packet of all inputs in timestamp order, or `None` when every input is done.
    /// Errors met on the way are kept (see [`Merged::take_errors`]); the file that failed stops.
    pub fn next_packet(&mut self, stats: &mut CaptureStats) -> Option<RawPacket<'_>> {
        // Only the file whose packet was lent needs its next one; the others still hold theirs.
        // On the first call (and after the end) every file is looked at.
        match self.lent.take() {
            Some(i) => {
                if let Some(Slot::Open { ready, .. }) = self.slots.get_mut(i) {
                    *ready = false;
                }
                self.load(i, stats);
            }
            None => {
                for i in 0..self.slots.len() {
                    self.load(i, stats);
                }
            }
        }
        let mut best = self.earliest();
        while self.waiting > 0 {
            // A file not opened yet whose first packet is not later than the earliest packet at
            // hand may hold the next packet: open it and look.
            let threshold = match best {
                Some((_, ts)) => ts,
                None => self.earliest_waiting()?,
            };
            let mut opened = false;
            for i in 0..self.slots.len() {
                if matches!(self.slots.get(i), Some(Slot::Waiting { first, .. }) if *first <= threshold)
                {
                    self.open_slot(i);
                    self.load(i, stats);
                    opened = true;
                }
            }
            if !opened {
                break;
            }
            best = self.earliest();
        }
        let (i, _) = best?;
        self.lent = Some(i);
        match self.slots.get(i) {
            Some(Slot::Open { file, .. }) => Some(file.current()),
            _ => None,
        }
    }

    /// The open file holding the earliest packet (the first named on a tie).
    fn earliest(&self) -> Option<(usize, Timestamp)> {
        let mut best: Option<(usize, Timestamp)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if let Slot::Open { file, ready: true } = s {
                let ts = file.current_ts();
                if best.is_none_or(|(_, b)| ts < b) {
                    best = Some((i, ts));
                }
            }
        }
        best
    }

    fn earliest_waiting(&self) -> Option<Timestamp> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Waiting { first, .. } => Some(*first),
                _ => None,
            })
            .min()
    }

    fn open_slot(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if let Slot::Waiting { path, .. } = std::mem::replace(slot, Slot::Closed) {
            self.waiting = self.waiting.saturating_sub(1);
            match CaptureFile::open_with(&path, &self.config) {
                Ok(file) => *slot = Slot::Open { file, ready: false },
                Err(e) => self.errors.push(e),
            }
        }
    }

    /// Reads file `i`'s next packet if it has none at hand; closes it at its end.
    fn load(&mut self, i: usize, stats: &mut CaptureStats) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let Slot::Open { file, ready } = slot else {
            return;
        };
        while !*ready && !file.is_done() {
            match file.advance(stats) {
                Ok(loaded) => *ready = loaded,
                Err(e) => {
                    self.errors.push(e);
                    file.stop();
                }
            }
            if file.has_errors() {
                self.errors.extend(file.take_errors());
            }
        }
        if !*ready
            && file.is_done()
            && let Slot::Open { mut file, .. } = std::mem::replace(slot, Slot::Closed)
        {
            // Closing frees the file's buffers and its decompressor's window.
            self.closed_bytes += file.bytes_consumed();
            self.warnings
                .extend(file.take_warnings().into_iter().map(|w| (i, w)));
        }
    }

    /// Errors met since the last call.
    pub fn take_errors(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.errors)
    }

    /// Warnings of every file, once each, in the order the files were named.
    pub fn take_warnings(&mut self) -> Vec<SourceWarning> {
        let mut all = std::mem::take(&mut self.warnings);
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Slot::Open { file, .. } = s {
                all.extend(file.take_warnings().into_iter().map(|w| (i, w)));
            }
        }
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, w)| w).collect()
    }

    /// How many files are open now.
    pub fn files_open(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Open { .. }))
            .count()
    }

    /// Bytes consumed so far over all inputs (for progress reporting).
    pub fn bytes_consumed(&self) -> u64 {
        self.closed_bytes
            + self
                .slots
                .iter()
                .map(|s| match s {
                    Slot::Open { file, .. } => file.bytes_consumed(),
                    _ => 0,
                })
                .sum::<u64>()
    }
}
