//! TCP conversations for fixtures: sequence and acknowledgement numbers are kept for the caller.

use std::net::SocketAddr;

use super::{Capture, ip_builder};

/// Who sends a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// TCP flag bits for [`TcpConv::raw`].
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// A TCP conversation being recorded into a [`Capture`].
pub struct TcpConv<'c> {
    cap: &'c mut Capture,
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence number each side sends.
    cseq: u32,
    sseq: u32,
    window: u16,
    last_data: Option<(Dir, u32, Vec<u8>)>,
}

impl<'c> TcpConv<'c> {
    pub(super) fn new(cap: &'c mut Capture, client: SocketAddr, server: SocketAddr) -> Self {
        // Deterministic initial sequence numbers, different per client port.
        let cseq = 0x1000_0000 ^ (u32::from(client.port()) << 8);
        let sseq = 0x6000_0000 ^ (u32::from(client.port()) << 4);
        Self {
            cap,
            client,
            server,
            cseq,
            sseq,
            window: 64_240,
            last_data: None,
        }
    }

    /// The capture being recorded (to change its clock or encapsulation mid-conversation).
    pub fn capture(&mut self) -> &mut Capture {
        self.cap
    }

    /// The window later segments advertise.
    pub fn window(&mut self, w: u16) -> &mut Self {
        self.window = w;
        self
    }

    /// Builds a segment with explicit numbers; nothing is recorded and no state changes.
    pub fn build(&mut self, dir: Dir, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        let (from, to) = match dir {
            Dir::ToServer => (self.client, self.server),
            Dir::ToClient => (self.server, self.client),
        };
        let id = self.cap.next_ip_id();
        let mut b =
            ip_builder(from.ip(), to.ip(), id).tcp(from.port(), to.port(), seq, self.window);
        if flags & flags::SYN != 0 {
            b = b.syn();
        }
        if flags & flags::ACK != 0 {
            b = b.ack(ack);
        }
        if flags & flags::FIN != 0 {
            b = b.fin();
        }
        if flags & flags::RST != 0 {
            b = b.rst();
        }
        if flags & flags::PSH != 0 {
            b = b.psh();
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("tcp segment");
        v
    }

    /// Records a segment with explicit numbers.
    pub fn raw(&mut self, dir: Dir, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> &mut Self {
        let p = self.build(dir, flags, seq, ack, payload);
        self.cap.push_ip(p);
        self
    }

    /// Builds the next in-sequence segment of `dir` and advances that side's sequence number,
    /// without recording it (for reordering). Record it later with [`TcpConv::emit`].
    pub fn next_segment(&mut self, dir: Dir, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (seq, ack) = match dir {
            Dir::ToServer => (self.cseq, self.sseq),
            Dir::ToClient => (self.sseq, self.cseq),
        };
        let p = self.build(dir, flags, seq, ack, payload);
        let mut adv = if flags & flags::RST != 0 {
            0
        } else {
            u32::try_from(payload.len()).expect("payload")
        };
        if flags & flags::SYN != 0 {
            adv += 1;
        }
        if flags & flags::FIN != 0 {
            adv += 1;
        }
        match dir {
            Dir::ToServer => self.cseq = self.cseq.wrapping_add(adv),
            Dir::ToClient => self.sseq = self.sseq.wrapping_add(adv),
        }
        if !payload.is_empty() {
            self.last_data = Some((dir, seq, payload.to_vec()));
        }
        p
    }

    /// Records a segment built earlier.
    pub fn emit(&mut self, packet: Vec<u8>) -> &mut Self {
        self.cap.push_ip(packet);
        self
    }

    fn send(&mut self, dir: Dir, flags: u8, payload: &[u8]) -> &mut Self {
        let p = self.next_segment(dir, flags, payload);
        self.cap.push_ip(p);
        self
    }

    pub fn syn(&mut self) -> &mut Self {
        self.send(Dir::ToServer, flags::SYN, &[])
    }

    pub fn syn_ack(&mut self) -> &mut Self {
        self.send(Dir::ToClient, flags::SYN | flags::ACK, &[])
    }

    pub fn ack(&mut self, dir: Dir) -> &mut Self {
        self.send(dir, flags::ACK, &[])
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> &mut Self {
        self.syn().syn_ack().ack(Dir::ToServer)
    }

    pub fn client_sends(&mut self, data: &[u8]) -> &mut Self {
        self.send(Dir::ToServer, flags::ACK | flags::PSH, data)
    }

    pub fn server_sends(&mut self, data: &[u8]) -> &mut Self {
        self.send(Dir::ToClient, flags::ACK | flags::PSH, data)
    }

    pub fn fin(&mut self, dir: Dir) -> &mut Self {
        self.send(dir, flags::FIN | flags::ACK, &[])
    }

    pub fn rst(&mut self, dir: Dir) -> &mut Self {
        self.send(dir, flags::RST | flags::ACK, &[])
    }

    /// A RST without ACK, as a host sends to refuse a SYN on a closed port.
    pub fn refuse(&mut self) -> &mut Self {
        let ack = self.cseq;
        let p = self.build(Dir::ToClient, flags::RST | flags::ACK, 0, ack, &[]);
        self.cap.push_ip(p);
        self
    }

    /// The client closes, the server closes, the client acknowledges.
    pub fn close(&mut self) -> &mut Self {
        self.fin(Dir::ToServer)
            .fin(Dir::ToClient)
            .ack(Dir::ToServer)
    }

    /// Sends the last data segment again, with the same sequence number.
    pub fn retransmit_last(&mut self) -> &mut Self {
        if let Some((dir, seq, data)) = self.last_data.clone() {
            let ack = match dir {
                Dir::ToServer => self.sseq,
                Dir::ToClient => self.cseq,
            };
            let p = self.build(dir, flags::ACK | flags::PSH, seq, ack, &data);
            self.cap.push_ip(p);
        }
        self
    }

    /// Skips `n` bytes of `dir`'s sequence space, as if a segment was lost by the capture.
    pub fn lose(&mut self, dir: Dir, n: u32) -> &mut Self {
        match dir {
            Dir::ToServer => self.cseq = self.cseq.wrapping_add(n),
            Dir::ToClient => self.sseq = self.sseq.wrapping_add(n),
        }
        self
    }
}
