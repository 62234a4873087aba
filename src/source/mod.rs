//! Where packets come from: saved pcap and pcapng files (plain, gzip or zstd), and standard input.
//!
//! A source hands out `(timestamp, link type, bytes, original length)` and nothing else. It lends
//! each packet from a buffer it reuses, so reading allocates nothing per packet once the buffer has
//! grown to the largest packet. Several inputs are merged in timestamp order. A bad input is
//! reported and dropped; the others go on.
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
    #[error("{}: cannot open", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is a directory, not a capture file", .path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: empty file (no capture header)", .path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a pcap or pcapng file (first bytes {magic})", .path.display())]
    BadMagic { path: PathBuf, magic: String },
    #[error("{}: file header cut short ({len} bytes)", .path.display())]
    TruncatedHeader { path: PathBuf, len: usize },
    #[error(
        "{}: unsupported link type {link} (supported: 0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276)",
        .path.display()
    )]
    UnsupportedLinkType { path: PathBuf, link: u32 },
    #[error("{}: byte {offset}: {what}", .path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("{}: packet {packet} (byte {offset}): captured length {caplen} exceeds the snaplen of {snaplen}", .path.display())]
    OverSnaplen {
        path: PathBuf,
        packet: u64,
        offset: u64,
        caplen: u64,
        snaplen: u32,
    },
    #[error("{}: byte {offset}: read failed", .path.display())]
    Read {
        path: PathBuf,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The compressed stream is damaged where nothing after it can be read, or before the
    /// capture header.
    #[error("{}: {damage}", .path.display())]
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
                path.display()
            ),
            SourceWarning::UnsupportedLinkType {
                path,
                link,
                packets,
            } => write!(
                f,
                "{}: {packets} packets on unsupported link type {link} were counted, not decoded",
                path.display()
            ),
            SourceWarning::Compressed {
                path,
                damage,
                packets,
            } => write!(f, "{}: {damage}; {packets} packets read", path.display()),
        }
    }
}

/// Several capture files read as one stream in timestamp order.
///
/// Each file keeps its own next packet; the earliest one is lent out. Ties go to the file named
/// first, so the same inputs always give the same order.
pub struct Merged {
    files: Vec<CaptureFile>,
    /// Whether file `i` holds a packet that has not been lent out yet.
    ready: Vec<bool>,
    /// The file whose packet was lent last: it must read its next packet before we compare.
    lent: Option<usize>,
    errors: Vec<SourceError>,
}

impl Merged {
    pub fn new(files: Vec<CaptureFile>) -> Self {
        let n = files.len();
        Self {
            files,
            ready: vec![false; n],
            lent: None,
            errors: Vec::new(),
        }
    }

    /// Opens every path; those that cannot be opened become errors, the rest are read.
    pub fn open(paths: &[PathBuf], config: &SourceConfig) -> (Self, Vec<SourceError>) {
        let mut files = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for p in paths {
            match CaptureFile::open_with(p, config) {
                Ok(f) => files.push(f),
                Err(e) => errors.push(e),
            }
        }
        (Self::new(files), errors)
    }

    /// The next packet of all inputs in timestamp order, or `None` when every input is done.
    /// Errors met on the way are kept (see [`Merged::take_errors`]); the file that failed stops.
    pub fn next_packet(&mut self, stats: &mut CaptureStats) -> Option<RawPacket<'_>> {
        if let Some(i) = self.lent.take()
            && let Some(r) = self.ready.get_mut(i)
        {
            *r = false;
        }
        for (i, f) in self.files.iter_mut().enumerate() {
            let Some(ready) = self.ready.get_mut(i) else {
                continue;
            };
            while !*ready && !f.is_done() {
                match f.advance(stats) {
                    Ok(loaded) => *ready = loaded,
                    Err(e) => {
                        self.errors.push(e);
                        f.stop();
                    }
                }
                self.errors.extend(f.take_errors());
            }
        }
        let mut best: Option<(usize, Timestamp)> = None;
        for (i, f) in self.files.iter().enumerate() {
            if self.ready.get(i).copied().unwrap_or(false) {
                let ts = f.current_ts();
                if best.is_none_or(|(_, b)| ts < b) {
                    best = Some((i, ts));
                }
            }
        }
        let (i, _) = best?;
        self.lent = Some(i);
        self.files.get(i).map(CaptureFile::current)
    }

    /// Errors met since the last call.
    pub fn take_errors(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.errors)
    }

    /// Warnings of every file, once each.
    pub fn take_warnings(&mut self) -> Vec<SourceWarning> {
        self.files
            .iter_mut()
            .flat_map(CaptureFile::take_warnings)
            .collect()
    }

    /// Bytes consumed so far over all inputs (for progress reporting).
    pub fn bytes_consumed(&self) -> u64 {
        self.files.iter().map(CaptureFile::bytes_consumed).sum()
    }
}
