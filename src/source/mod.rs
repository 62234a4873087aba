//! Where packets come from: saved pcap and pcapng files (plain, gzip or zstd), and standard input.
//!
//! A source hands out `(timestamp, link type, bytes, original length)` and nothing else. It lends
//! each packet from a buffer it reuses, so reading allocates nothing per packet once the buffer has
//! grown to the largest packet. Several inputs are merged in timestamp order. A bad input is
//! reported and dropped; the others go on.
//!
//! It does not look inside packets (that is `decode`).

#![deny(clippy::indexing_slicing)]

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
    pub fn open(paths: &[PathBuf]) -> (Self, Vec<SourceError>) {
        let mut files = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for p in paths {
            match CaptureFile::open(p) {
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
