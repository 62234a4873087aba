//! Undoes gzip (RFC 1952) and zstd (RFC 8878) compression around a capture, and says how the
//! compressed stream ended.
//!
//! The readers here never fail a read: when the stream is damaged they hand out every byte that
//! decompressed before the damage, record what was wrong in a [`Shared`] slot, and then report
//! the end of the input. The capture reader above them reads every whole record it was given
//! and only then asks the slot how the stream ended (`file.rs` turns that into a warning or an
//! error). A decompressor's error would otherwise reach pcap-parser first, which drops what it
//! holds in its buffer.
//!
//! What counts as the end of a stream, as gzip(1), zcat and zstd(1) users expect:
//! - several gzip members or zstd frames one after another are one stream (`cat a.gz b.gz`,
//!   `zstd -T`, `pzstd`);
//! - zstd skippable frames (RFC 8878 §3.1.2: `pzstd` writes one before each frame) are skipped;
//! - zero bytes after the last member or frame are padding (tape and block devices write them)
//!   and are ignored without a word;
//! - anything else after the last member or frame is trailing data: reported, not read.
//!
//! It does not parse captures (that is `file.rs`).

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::{Compression, Cut, Damage};

/// Bytes read from the file at once (64 KiB, as `std::io::BufReader` reads a large file).
const INPUT_BUFFER_BYTES: usize = 1 << 16;
/// gzip member magic, ID1 and ID2 (RFC 1952 §2.3.1).
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// gzip CM value for deflate, the only method defined (RFC 1952 §2.3.1).
const GZIP_CM_DEFLATE: u8 = 8;
/// gzip FLG bits (RFC 1952 §2.3.1); bits 5 to 7 are reserved and must be zero.
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xe0;
/// zstd frame magic number, little-endian on disk (RFC 8878 §3.1.1).
pub(crate) const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames use the 16 magic numbers 0x184D2A50 to 0x184D2A5F (RFC 8878 §3.1.2).
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
/// An empty raw block with Last_Block set (RFC 8878 §3.1.1.2: a 3-byte little-endian header,
/// bit 0 Last_Block, bits 1-2 Block_Type 0 = raw, bits 3-23 Block_Size 0), then four bytes for
/// a content checksum. Fed to ruzstd after a damaged block so that it ends the frame and hands
/// out the window it holds back (it keeps the last window of output until a frame ends).
const END_OF_FRAME: [u8; 7] = [0x01, 0, 0, 0, 0, 0, 0];
/// How much a zstd reader opened only to find the first packet decodes (4 MiB): enough for a
/// capture header, any leading pcapng blocks and a packet, without decoding a window first.
const PEEK_BYTES: usize = 4 << 20;

/// Whether `magic` (the first four bytes of a file) starts a zstd stream: a frame, or a
/// skippable frame as `pzstd` writes first.
pub(crate) fn is_zstd(magic: [u8; 4]) -> bool {
    let m = u32::from_le_bytes(magic);
    m == ZSTD_MAGIC || m & SKIPPABLE_MASK == SKIPPABLE_MAGIC
}

/// Whether `got`, fewer than four bytes, could be the start of a frame's or a skippable frame's
/// magic number.
fn starts_a_frame(got: &[u8]) -> bool {
    let skippable = SKIPPABLE_MAGIC.to_le_bytes();
    ZSTD_MAGIC.to_le_bytes().starts_with(got)
        || got
            .iter()
            .zip(skippable)
            .enumerate()
            .all(|(i, (&g, m))| if i == 0 { g & 0xf0 == m } else { g == m })
}

/// How the byte stream under a capture reader ended, when it did not simply end.
#[derive(Debug)]
pub(crate) enum End {
    /// Reading the file failed.
    Io(io::Error),
    /// The compressed stream is damaged here; nothing after it was read.
    Damaged(Damage),
    /// A reader opened only to find the first packet stopped early on purpose.
    PeekDone,
}

/// What the decompressor tells the capture reader; written once per file, never per packet.
#[derive(Debug, Default)]
pub(crate) struct StreamEnd {
    /// The first damage that did not stop the stream (a checksum or length mismatch).
    pub(crate) damage: Option<Damage>,
    /// What ended the stream, if it did not end cleanly.
    pub(crate) end: Option<End>,
}

/// The slot a reader and the capture file above it share.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shared(Arc<Mutex<StreamEnd>>);

impl Shared {
    /// Records what ended the stream; the first cause wins (an I/O error is often what makes a
    /// decompressor see a cut stream next).
    fn end(&self, e: End) {
        if let Ok(mut s) = self.0.lock()
            && s.end.is_none()
        {
            s.end = Some(e);
        }
    }

    /// Records damage the stream went on after; the first is kept.
    fn damage(&self, d: Damage) {
        if let Ok(mut s) = self.0.lock()
            && s.damage.is_none()
        {
            s.damage = Some(d);
        }
    }

    /// Takes what was recorded.
    pub(crate) fn take(&self) -> StreamEnd {
        self.0
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

/// The file's bytes, buffered, with the count of bytes consumed (offsets in messages are in the
/// compressed file). A read error is recorded in the shared slot and then looks like the end of
/// the file, so whatever was read before it is still used.
pub(crate) struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    offset: u64,
    eof: bool,
    shared: Shared,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R, shared: Shared) -> Self {
        Self {
            inner,
            buf: vec![0; INPUT_BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            len: 0,
            offset: 0,
            eof: false,
            shared,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether every byte of the file has been consumed.
    fn exhausted(&self) -> bool {
        self.eof && self.pos >= self.len
    }

    /// One read from the file into `out`, with interrupted reads retried and errors recorded.
    fn read_inner(&mut self, out: &mut [u8]) -> usize {
        loop {
            match self.inner.read(out) {
                Ok(0) => {
                    self.eof = true;
                    return 0;
                }
                Ok(n) => return n.min(out.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.shared.end(End::Io(e));
                    self.eof = true;
                    return 0;
                }
            }
        }
    }

    fn peek_byte(&mut self) -> Option<u8> {
        self.fill_buf().ok()?.first().copied()
    }

    /// Fills `out` from the file; returns how many bytes it got (fewer only at the end).
    fn read_full(&mut self, out: &mut [u8]) -> usize {
        let mut got = 0;
        while let Some(space) = out.get_mut(got..).filter(|s| !s.is_empty()) {
            match self.read(space) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        got
    }

    /// Skips `n` bytes; false if the file ends first.
    fn skip(&mut self, mut n: u64) -> bool {
        while n > 0 {
            let avail = match self.fill_buf() {
                Ok(b) if !b.is_empty() => b.len(),
                _ => return false,
            };
            let step = usize::try_from(n).unwrap_or(usize::MAX).min(avail);
            self.consume(step);
            n -= step as u64;
        }
        true
    }

    /// Skips bytes up to and including the next zero byte; false if the file ends first.
    fn skip_past_zero(&mut self) -> bool {
        loop {
            let (step, found) = match self.fill_buf() {
                Ok(b) if !b.is_empty() => match b.iter().position(|&x| x == 0) {
                    Some(i) => (i + 1, true),
                    None => (b.len(), false),
                },
                _ => return false,
            };
            self.consume(step);
            if found {
                return true;
            }
        }
    }

    /// Skips zero bytes. `None` if only zeros were left; else the offset of the first other byte
    /// (not consumed).
    fn skip_zeros(&mut self) -> Option<u64> {
        loop {
            let (step, other) = match self.fill_buf() {
                Ok(b) if !b.is_empty() => match b.iter().position(|&x| x != 0) {
                    Some(i) => (i, true),
                    None => (b.len(), false),
                },
                _ => return None,
            };
            self.consume(step);
            if other {
                return Some(self.offset);
            }
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len && !self.eof && out.len() >= self.buf.len() {
            // A large read of an uncompressed file goes straight into the caller's buffer.
            let n = self.read_inner(out);
            self.offset += n as u64;
            return Ok(n);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.len && !self.eof {
            self.pos = 0;
            self.len = 0;
            let mut buf = std::mem::take(&mut self.buf);
            self.len = self.read_inner(&mut buf);
            self.buf = buf;
        }
        Ok(self.buf.get(self.pos..self.len).unwrap_or(&[]))
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len.saturating_sub(self.pos));
        self.pos += n;
        self.offset += n as u64;
    }
}

/// Where a gzip reader is in its stream.
enum GzState {
    /// Before a member header; `Some(offset)` once its magic has been read at that offset.
    Header(Option<u64>),
    /// In the deflate data of the member that starts at this offset.
    Body(u64),
    Trailer,
    /// After a member: another may follow.
    Between,
    Done,
}

/// A gzip stream of one or more members (RFC 1952 §2.2).
pub(crate) struct Gzip<R> {
    input: Input<R>,
    inflate: flate2::Decompress,
    crc: flate2::Crc,
    state: GzState,
    shared: Shared,
}

impl<R: Read> Gzip<R> {
    /// `input` is positioned at the first member's magic.
    pub(crate) fn new(input: Input<R>) -> Self {
        let shared = input.shared.clone();
        Self {
            input,
            inflate: flate2::Decompress::new(false),
            crc: flate2::Crc::new(),
            state: GzState::Header(None),
            shared,
        }
    }

    fn stop(&mut self, d: Damage) -> io::Result<usize> {
        self.shared.end(End::Damaged(d));
        self.state = GzState::Done;
        Ok(0)
    }

    /// Reads a member header (RFC 1952 §2.3.1):
    /// ```text
    /// ID1 ID2 CM FLG MTIME(4) XFL OS
    /// [XLEN(2) extra field]  if FEXTRA
    /// [file name, zero-terminated]  if FNAME
    /// [comment, zero-terminated]  if FCOMMENT
    /// [CRC16(2)]  if FHCRC
    /// ```
    fn header(&mut self, magic_at: Option<u64>) -> Result<u64, Damage> {
        let start = match magic_at {
            Some(at) => at,
            None => {
                let at = self.input.offset();
                let mut magic = [0u8; 2];
                if self.input.read_full(&mut magic) < 2 {
                    return Err(Damage::Cut(Cut::GzipHeader));
                }
                if magic != GZIP_MAGIC {
                    return Err(Damage::BadGzipHeader { offset: at });
                }
                at
            }
        };
        let mut fixed = [0u8; 8];
        if self.input.read_full(&mut fixed) < fixed.len() {
            return Err(Damage::Cut(Cut::GzipHeader));
        }
        let [cm, flg, ..] = fixed;
        if cm != GZIP_CM_DEFLATE || flg & FRESERVED != 0 {
            return Err(Damage::BadGzipHeader { offset: start });
        }
        let cut = Damage::Cut(Cut::GzipHeader);
        if flg & FEXTRA != 0 {
            let mut xlen = [0u8; 2];
            if self.input.read_full(&mut xlen) < 2
                || !self.input.skip(u16::from_le_bytes(xlen).into())
            {
                return Err(cut);
            }
        }
        for field in [FNAME, FCOMMENT] {
            if flg & field != 0 && !self.input.skip_past_zero() {
                return Err(cut);
            }
        }
        if flg & FHCRC != 0 && !self.input.skip(2) {
            return Err(cut);
        }
        Ok(start)
    }

    /// Inflates into `out`; `Ok(0)` only when the member's deflate data ended.
    fn body(&mut self, member: u64, out: &mut [u8]) -> Result<usize, Damage> {
        loop {
            let input = self.input.fill_buf().unwrap_or(&[]);
            if input.is_empty() {
                return Err(Damage::Cut(Cut::Deflate));
            }
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let r = self
                .inflate
                .decompress(input, out, flate2::FlushDecompress::None);
            let used = usize::try_from(self.inflate.total_in() - in0).unwrap_or(usize::MAX);
            let made = usize::try_from(self.inflate.total_out() - out0).unwrap_or(0);
            self.input.consume(used);
            let made = made.min(out.len());
            self.crc.update(out.get(..made).unwrap_or(&[]));
            match r {
                Ok(flate2::Status::StreamEnd) => {
                    self.state = GzState::Trailer;
                    return Ok(made);
                }
                Ok(_) if made > 0 => return Ok(made),
                // Input consumed, nothing out yet (a block header, a stored block's start).
                Ok(_) if used > 0 => {}
                // Neither input taken nor output made: this data will never decode.
                Ok(_) | Err(_) if made == 0 => return Err(Damage::BadDeflate { member }),
                // The bytes that decoded before the error are handed out; the error comes next.
                Ok(_) | Err(_) => {
                    self.shared.end(End::Damaged(Damage::BadDeflate { member }));
                    self.state = GzState::Done;
                    return Ok(made);
                }
            }
        }
    }

    /// The member trailer, CRC32 and ISIZE, both little-endian (RFC 1952 §2.3.1).
    fn trailer(&mut self) -> Result<(), Damage> {
        let mut t = [0u8; 8];
        if self.input.read_full(&mut t) < t.len() {
            return Err(Damage::Cut(Cut::GzipTrailer));
        }
        let [c0, c1, c2, c3, s0, s1, s2, s3] = t;
        let (crc, size) = (
            u32::from_le_bytes([c0, c1, c2, c3]),
            u32::from_le_bytes([s0, s1, s2, s3]),
        );
        if crc != self.crc.sum() {
            self.shared
                .damage(Damage::ChecksumMismatch(Compression::Gzip));
        } else if size != self.crc.amount() {
            self.shared.damage(Damage::LengthMismatch {
                stored: size,
                actual: self.crc.amount(),
            });
        }
        Ok(())
    }

    /// After a member: the end, zero padding, another member or trailing data.
    fn between(&mut self) -> Result<GzState, Damage> {
        let trailing = |offset| Damage::TrailingData {
            compression: Compression::Gzip,
            offset,
        };
        match self.input.peek_byte() {
            None => Ok(GzState::Done),
            Some(0) => match self.input.skip_zeros() {
                None => Ok(GzState::Done),
                Some(at) => Err(trailing(at)),
            },
            Some(_) => {
                let at = self.input.offset();
                let mut magic = [0u8; 2];
                let n = self.input.read_full(&mut magic);
                match (n, magic) {
                    (2, GZIP_MAGIC) => Ok(GzState::Header(Some(at))),
                    (1, [0x1f, _]) => Err(Damage::Cut(Cut::GzipHeader)),
                    _ => Err(trailing(at)),
                }
            }
        }
    }
}

impl<R: Read> Read for Gzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let step = match self.state {
                GzState::Header(at) => self.header(at).map(|start| {
                    self.inflate.reset(false);
                    self.crc.reset();
                    self.state = GzState::Body(start);
                    0
                }),
                GzState::Body(member) => self.body(member, out),
                GzState::Trailer => self.trailer().map(|()| {
                    self.state = GzState::Between;
                    0
                }),
                GzState::Between => self.between().map(|next| {
                    self.state = next;
                    0
                }),
                GzState::Done => return Ok(0),
            };
            match step {
                Ok(0) => {}
                Ok(n) => return Ok(n),
                Err(d) => return self.stop(d),
            }
        }
    }
}

/// Where a zstd reader is in its stream.
enum ZState {
    /// Before a frame (or a skippable frame, zero padding, the end).
    Between,
    /// In a frame.
    Frame,
    /// The frame was ended early (damage, or a peek); what it decoded is being handed out.
    Drain,
    Done,
}

/// A zstd stream of frames and skippable frames (RFC 8878 §3.1), decoded with ruzstd.
pub(crate) struct Zstd<R> {
    input: Input<R>,
    dec: FrameDecoder,
    state: ZState,
    max_window_bytes: u64,
    /// Opened only to find the first packet: decode a few MiB of the first frame, then stop.
    peek: bool,
    shared: Shared,
}

impl<R: Read> Zstd<R> {
    /// `input` is positioned at the first frame. A frame whose window exceeds
    /// `max_window_bytes` is refused: ruzstd holds a whole window of output in memory.
    pub(crate) fn new(input: Input<R>, max_window_bytes: u64, peek: bool) -> Self {
        let shared = input.shared.clone();
        let mut dec = FrameDecoder::new();
        dec.set_max_window_size(max_window_bytes);
        Self {
            input,
            dec,
            state: ZState::Between,
            max_window_bytes,
            peek,
            shared,
        }
    }

    fn stop(&mut self, d: Damage) {
        self.shared.end(End::Damaged(d));
        self.state = ZState::Done;
    }

    /// Ends the current frame early: ruzstd then hands out all it decoded, window included.
    fn end_frame_early(&mut self) {
        // Fails only if no frame was started, and then there is nothing to hand out.
        let _ = self
            .dec
            .decode_blocks(&mut &END_OF_FRAME[..], BlockDecodingStrategy::UptoBlocks(1));
        self.state = ZState::Drain;
    }

    /// Starts the next frame, skips a skippable one, or finds the end of the stream.
    fn between(&mut self) {
        let trailing = |offset| Damage::TrailingData {
            compression: Compression::Zstd,
            offset,
        };
        match self.input.peek_byte() {
            None => self.state = ZState::Done,
            Some(0) => match self.input.skip_zeros() {
                None => self.state = ZState::Done,
                Some(at) => self.stop(trailing(at)),
            },
            Some(_) => {
                let at = self.input.offset();
                let mut magic = [0u8; 4];
                let n = self.input.read_full(&mut magic);
                if n < magic.len() {
                    if starts_a_frame(magic.get(..n).unwrap_or(&[])) {
                        self.stop(Damage::Cut(Cut::ZstdFrameHeader));
                    } else {
                        self.stop(trailing(at));
                    }
                    return;
                }
                let m = u32::from_le_bytes(magic);
                if m & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
                    // Frame_Size (4 bytes, little-endian), then that many user bytes.
                    let mut size = [0u8; 4];
                    if self.input.read_full(&mut size) < size.len()
                        || !self.input.skip(u32::from_le_bytes(size).into())
                    {
                        self.stop(Damage::Cut(Cut::SkippableFrame));
                    }
                    return;
                }
                if m != ZSTD_MAGIC {
                    self.stop(trailing(at));
                    return;
                }
                match self.dec.init((&magic[..]).chain(&mut self.input)) {
                    Ok(()) => self.state = ZState::Frame,
                    Err(e) => {
                        let d = if self.input.exhausted() {
                            Damage::Cut(Cut::ZstdFrameHeader)
                        } else {
                            match e {
                                FrameDecoderError::WindowSizeTooBig { requested, .. } => {
                                    Damage::ZstdWindowTooLarge {
                                        offset: at,
                                        window: requested,
                                        limit: self.max_window_bytes,
                                    }
                                }
                                FrameDecoderError::DictNotProvided { dict_id } => {
                                    Damage::ZstdDictionary {
                                        offset: at,
                                        id: dict_id,
                                    }
                                }
                                _ => Damage::BadZstdFrameHeader { offset: at },
                            }
                        };
                        self.stop(d);
                    }
                }
            }
        }
    }

    /// Decodes the next block of the current frame, or finishes the frame.
    fn frame(&mut self) {
        if self.dec.is_finished() {
            // Everything was handed out, so the checksum covers the whole content.
            if let (Some(stored), Some(computed)) = (
                self.dec.get_checksum_from_data(),
                self.dec.get_calculated_checksum(),
            ) && stored != computed
            {
                self.shared
                    .damage(Damage::ChecksumMismatch(Compression::Zstd));
            }
            if self.peek {
                self.shared.end(End::PeekDone);
                self.state = ZState::Done;
            } else {
                self.state = ZState::Between;
            }
            return;
        }
        let at = self.input.offset();
        let strategy = if self.peek {
            BlockDecodingStrategy::UptoBytes(PEEK_BYTES)
        } else {
            BlockDecodingStrategy::UptoBlocks(1)
        };
        match self.dec.decode_blocks(&mut self.input, strategy) {
            Ok(_) if self.peek && !self.dec.is_finished() => {
                self.shared.end(End::PeekDone);
                self.end_frame_early();
            }
            Ok(_) => {}
            Err(e) => {
                let d = if !self.input.exhausted() {
                    Damage::BadZstdBlock { offset: at }
                } else if matches!(e, FrameDecoderError::FailedToReadChecksum(_)) {
                    Damage::Cut(Cut::ZstdChecksum)
                } else {
                    Damage::Cut(Cut::ZstdBlock)
                };
                self.shared.end(End::Damaged(d));
                self.end_frame_early();
            }
        }
    }
}

impl<R: Read> Read for Zstd<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                ZState::Between => self.between(),
                ZState::Frame => {
                    if self.dec.can_collect() > 0 {
                        let n = self.dec.read(out).unwrap_or(0);
                        if n > 0 {
                            return Ok(n);
                        }
                    }
                    self.frame();
                }
                ZState::Drain => {
                    let n = self.dec.read(out).unwrap_or(0);
                    if n > 0 {
                        return Ok(n);
                    }
                    self.state = ZState::Done;
                }
                ZState::Done => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Bytes that do not compress (a linear congruential generator), so blocks keep their size.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u32 = 12345;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                x.to_le_bytes()[2]
            })
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8], level: ruzstd::encoding::CompressionLevel) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, level)
    }

    /// Everything a reader gives, and how its stream ended.
    fn read_all(bytes: &[u8], compression: Compression) -> (Vec<u8>, StreamEnd) {
        let shared = Shared::default();
        let input = Input::new(std::io::Cursor::new(bytes.to_vec()), shared.clone());
        let mut r: Box<dyn Read> = match compression {
            Compression::Gzip => Box::new(Gzip::new(input)),
            Compression::Zstd => Box::new(Zstd::new(input, 1 << 27, false)),
        };
        let mut out = Vec::new();
        // The readers never fail: damage is told through the shared slot.
        r.read_to_end(&mut out).unwrap();
        (out, shared.take())
    }

    fn ended(e: &StreamEnd) -> Option<Damage> {
        match e.end {
            Some(End::Damaged(d)) => Some(d),
            _ => None,
        }
    }

    #[test]
    fn intact_gzip_members_read_as_one_stream() {
        let (a, b) = (noise(70_000), b"second member".to_vec());
        let mut file = gzip(&a);
        file.extend(gzip(&b));
        let (out, end) = read_all(&file, Compression::Gzip);
        assert_eq!(out, [a, b].concat());
        assert!(end.end.is_none() && end.damage.is_none(), "{end:?}");
    }

    #[test]
    fn gzip_header_fields_are_skipped() {
        let data = noise(1000);
        let mut e = flate2::GzBuilder::new()
            .filename("capture.pcap")
            .comment("a comment")
            .extra(vec![1, 2, 3, 4])
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        let file = e.finish().unwrap();
        let (out, end) = read_all(&file, Compression::Gzip);
        assert_eq!(out, data);
        assert!(end.end.is_none(), "{end:?}");
    }

    #[test]
    fn cut_gzip_gives_everything_that_inflated() {
        let data = noise(200_000);
        let file = gzip(&data);
        // Trailer cut: every byte of the data.
        for cut in [4, 8] {
            let (out, end) = read_all(&file[..file.len() - cut], Compression::Gzip);
            assert_eq!(out, data);
            assert_eq!(ended(&end), Some(Damage::Cut(Cut::GzipTrailer)));
        }
        // Deflate data cut: what inflated, which is all flate2 gives as well.
        let half = &file[..file.len() / 2];
        let (out, end) = read_all(half, Compression::Gzip);
        let mut reference = Vec::new();
        let _ = flate2::read::GzDecoder::new(half).read_to_end(&mut reference);
        assert!(!out.is_empty() && data.starts_with(&out));
        assert_eq!(out.len(), reference.len());
        assert_eq!(ended(&end), Some(Damage::Cut(Cut::Deflate)));
        // Header cut.
        let (out, end) = read_all(&file[..5], Compression::Gzip);
        assert!(out.is_empty());
        assert_eq!(ended(&end), Some(Damage::Cut(Cut::GzipHeader)));
    }

    #[test]
    fn gzip_checksum_and_length_mismatches_are_told_after_the_data() {
        let data = noise(5000);
        let good = gzip(&data);
        let n = good.len();
        let mut crc = good.clone();
        crc[n - 8] ^= 1;
        let (out, end) = read_all(&crc, Compression::Gzip);
        assert_eq!(out, data);
        assert_eq!(
            end.damage,
            Some(Damage::ChecksumMismatch(Compression::Gzip))
        );
        assert!(end.end.is_none());
        let mut size = good.clone();
        size[n - 4] ^= 1;
        let (out, end) = read_all(&size, Compression::Gzip);
        assert_eq!(out, data);
        assert_eq!(
            end.damage,
            Some(Damage::LengthMismatch {
                stored: 5000 ^ 1,
                actual: 5000
            })
        );
    }

    #[test]
    fn zero_padding_is_silent_and_other_trailing_data_is_told() {
        let data = noise(3000);
        for compression in [Compression::Gzip, Compression::Zstd] {
            let good = match compression {
                Compression::Gzip => gzip(&data),
                Compression::Zstd => zstd(&data, ruzstd::encoding::CompressionLevel::Fastest),
            };
            let padded = [good.clone(), vec![0; 100]].concat();
            let (out, end) = read_all(&padded, compression);
            assert_eq!(out, data);
            assert!(end.end.is_none() && end.damage.is_none(), "{end:?}");
            // Zeros, then something else: the something else is reported where it starts.
            let garbage = [good.clone(), vec![0; 3], b"garbage".to_vec()].concat();
            let (out, end) = read_all(&garbage, compression);
            assert_eq!(out, data);
            assert_eq!(
                ended(&end),
                Some(Damage::TrailingData {
                    compression,
                    offset: good.len() as u64 + 3
                })
            );
        }
    }

    #[test]
    fn bad_gzip_headers_and_deflate_data_are_errors() {
        let data = noise(3000);
        let good = gzip(&data);
        let mut reserved = good.clone();
        reserved[3] |= 0x80;
        let (out, end) = read_all(&reserved, Compression::Gzip);
        assert!(out.is_empty());
        assert_eq!(ended(&end), Some(Damage::BadGzipHeader { offset: 0 }));
        assert!(!Damage::BadGzipHeader { offset: 0 }.is_warning());
        // The first deflate block header (RFC 1951 §3.2.3): BTYPE 11 is reserved.
        let mut btype = good.clone();
        btype[10] |= 0b110;
        let (out, end) = read_all(&btype, Compression::Gzip);
        assert!(out.is_empty());
        assert_eq!(ended(&end), Some(Damage::BadDeflate { member: 0 }));
        // A second member that is not one: trailing data.
        let second = [good.clone(), vec![0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0]].concat();
        let (out, end) = read_all(&second, Compression::Gzip);
        assert_eq!(out, data);
        assert_eq!(
            ended(&end),
            Some(Damage::BadGzipHeader {
                offset: good.len() as u64
            })
        );
    }

    #[test]
    fn cut_zstd_gives_every_block_that_decoded() {
        let data = noise(600_000);
        let file = zstd(&data, ruzstd::encoding::CompressionLevel::Uncompressed);
        let ends = crate::testkit::zstd_block_ends(&file);
        assert!(ends.len() >= 4, "{ends:?}");
        // Cut inside the third block: the first two come out whole (128 KiB each).
        let (out, end) = read_all(&file[..ends[1] + 1000], Compression::Zstd);
        assert_eq!(out, &data[..2 * 131_072]);
        assert_eq!(ended(&end), Some(Damage::Cut(Cut::ZstdBlock)));
        // Cut in the checksum: all the data.
        let (out, end) = read_all(&file[..file.len() - 2], Compression::Zstd);
        assert_eq!(out, data);
        assert_eq!(ended(&end), Some(Damage::Cut(Cut::ZstdChecksum)));
        // Compressed blocks: a prefix of the data, growing with the cut.
        let file = zstd(&data, ruzstd::encoding::CompressionLevel::Fastest);
        let mut last = 0;
        for cut in (5..file.len()).step_by(file.len() / 7) {
            let (out, end) = read_all(&file[..cut], Compression::Zstd);
            assert!(data.starts_with(&out) && out.len() >= last, "cut at {cut}");
            assert!(matches!(ended(&end), Some(Damage::Cut(_))), "{end:?}");
            last = out.len();
        }
        assert!(last > 0);
    }

    #[test]
    fn zstd_checksum_mismatch_is_told_after_the_data() {
        let data = noise(5000);
        let mut file = zstd(&data, ruzstd::encoding::CompressionLevel::Fastest);
        let n = file.len();
        file[n - 1] ^= 1;
        let (out, end) = read_all(&file, Compression::Zstd);
        assert_eq!(out, data);
        assert_eq!(
            end.damage,
            Some(Damage::ChecksumMismatch(Compression::Zstd))
        );
        assert!(end.end.is_none());
    }

    /// A skippable frame as pzstd writes it: magic, four-byte size, then the size of the frame
    /// that follows.
    fn skippable(payload: &[u8]) -> Vec<u8> {
        let mut f = 0x184D_2A50u32.to_le_bytes().to_vec();
        f.extend(u32::try_from(payload.len()).unwrap().to_le_bytes());
        f.extend(payload);
        f
    }

    #[test]
    fn zstd_frames_and_skippable_frames_read_as_one_stream() {
        let (a, b) = (noise(9000), b"second frame".to_vec());
        let level = ruzstd::encoding::CompressionLevel::Fastest;
        let (fa, fb) = (zstd(&a, level), zstd(&b, level));
        let file = [
            skippable(&u32::try_from(fa.len()).unwrap().to_le_bytes()),
            fa,
            skippable(&[]),
            fb,
        ]
        .concat();
        assert!(is_zstd(file[..4].try_into().unwrap()));
        let (out, end) = read_all(&file, Compression::Zstd);
        assert_eq!(out, [a, b].concat());
        assert!(end.end.is_none() && end.damage.is_none(), "{end:?}");
        // A skippable frame cut short.
        let (out, end) = read_all(&skippable(&[1; 10])[..12], Compression::Zstd);
        assert!(out.is_empty());
        assert_eq!(ended(&end), Some(Damage::Cut(Cut::SkippableFrame)));
    }

    #[test]
    fn zstd_window_above_the_limit_is_refused() {
        let file = zstd(&noise(3000), ruzstd::encoding::CompressionLevel::Fastest);
        let shared = Shared::default();
        let input = Input::new(std::io::Cursor::new(file), shared.clone());
        let mut out = Vec::new();
        Zstd::new(input, 1024, false).read_to_end(&mut out).unwrap();
        assert!(out.is_empty());
        assert!(matches!(
            ended(&shared.take()),
            Some(Damage::ZstdWindowTooLarge { offset: 0, limit: 1024, window }) if window > 1024
        ));
    }

    #[test]
    fn a_read_error_ends_the_stream_after_the_data_before_it() {
        /// Gives `good` bytes, then fails.
        struct Failing(std::io::Cursor<Vec<u8>>);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.read(buf)? {
                    0 => Err(io::Error::other("device gone")),
                    n => Ok(n),
                }
            }
        }
        let data = noise(100_000);
        let file = gzip(&data);
        let shared = Shared::default();
        let input = Input::new(
            Failing(std::io::Cursor::new(file[..50_000].to_vec())),
            shared.clone(),
        );
        let mut out = Vec::new();
        Gzip::new(input).read_to_end(&mut out).unwrap();
        assert!(!out.is_empty() && data.starts_with(&out));
        assert!(matches!(shared.take().end, Some(End::Io(_))));
    }

    #[test]
    fn damage_reads_as_one_sentence() {
        assert_eq!(
            Damage::Cut(Cut::GzipTrailer).to_string(),
            "compressed stream ends early (gzip trailer missing)"
        );
        assert_eq!(
            Damage::ZstdWindowTooLarge {
                offset: 0,
                window: 256 << 20,
                limit: 128 << 20
            }
            .to_string(),
            "zstd frame at byte 0 needs a window of 256 MiB, above the limit of 128 MiB \
             (raise it with --max-zstd-window-mib)"
        );
    }
}
