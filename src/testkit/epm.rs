//! Endpoint-mapper stubs built in code: an NDR (and NDR64) writer, protocol towers (C706
//! appendix L), and the ept_map / ept_lookup requests and answers (C706 appendix O) that carry
//! them. The inspector's tests and the fixture scenes share them.

use crate::inspect::dcerpc::Uuid;

const NDR: Uuid = Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860);

/// An NDR (or NDR64, `wide`) writer, little-endian, aligned from its start.
pub struct Nb {
    pub v: Vec<u8>,
    wide: bool,
}

impl Nb {
    pub fn new(wide: bool) -> Self {
        Nb {
            v: Vec::new(),
            wide,
        }
    }
    pub fn align(&mut self, n: usize) -> &mut Self {
        while self.v.len() % n != 0 {
            self.v.push(0);
        }
        self
    }
    pub fn u16(&mut self, n: u16) -> &mut Self {
        self.align(2);
        self.v.extend_from_slice(&n.to_le_bytes());
        self
    }
    pub fn u32(&mut self, n: u32) -> &mut Self {
        self.align(4);
        self.v.extend_from_slice(&n.to_le_bytes());
        self
    }
    pub fn long(&mut self, n: u64) -> &mut Self {
        if self.wide {
            self.align(8);
            self.v.extend_from_slice(&n.to_le_bytes());
            self
        } else {
            self.u32(u32::try_from(n).unwrap())
        }
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.v.extend_from_slice(b);
        self
    }
    pub fn uuid(&mut self, u: Uuid) -> &mut Self {
        self.align(4);
        let w = uuid_le(u);
        self.bytes(&w)
    }
    pub fn twr(&mut self, oct: &[u8]) -> &mut Self {
        let n = oct.len() as u64;
        self.long(n).u32(u32::try_from(n).unwrap()).bytes(oct)
    }
}

pub fn uuid_le(u: Uuid) -> Vec<u8> {
    let b = u.0;
    let mut v = Vec::new();
    v.extend(b[0..4].iter().rev());
    v.extend(b[4..6].iter().rev());
    v.extend(b[6..8].iter().rev());
    v.extend_from_slice(&b[8..16]);
    v
}

/// A tower: interface floor, NDR floor, then `(protocol id, rhs)` floors.
pub fn tower(iface: Uuid, major: u16, minor: u16, floors: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&u16::try_from(floors.len() + 2).unwrap().to_le_bytes());
    for (u, maj, min) in [(iface, major, minor), (NDR, 2, 0)] {
        v.extend_from_slice(&19u16.to_le_bytes());
        v.push(0x0d);
        v.extend(uuid_le(u));
        v.extend_from_slice(&maj.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&min.to_le_bytes());
    }
    for (id, rhs) in floors {
        v.extend_from_slice(&1u16.to_le_bytes());
        v.push(*id);
        v.extend_from_slice(&u16::try_from(rhs.len()).unwrap().to_le_bytes());
        v.extend_from_slice(rhs);
    }
    v
}

pub fn tcp_tower(iface: Uuid, major: u16, port: u16, ip: [u8; 4]) -> Vec<u8> {
    tower(
        iface,
        major,
        0,
        &[(0x0b, &[0, 0]), (0x07, &port.to_be_bytes()), (0x09, &ip)],
    )
}

pub fn http_tower(iface: Uuid, port: u16, ip: [u8; 4]) -> Vec<u8> {
    tower(
        iface,
        1,
        0,
        &[(0x0b, &[0, 0]), (0x1f, &port.to_be_bytes()), (0x09, &ip)],
    )
}

pub fn np_tower(iface: Uuid, pipe: &str, host: &str) -> Vec<u8> {
    let p = [pipe.as_bytes(), b"\0"].concat();
    let h = [host.as_bytes(), b"\0"].concat();
    tower(iface, 1, 0, &[(0x0b, &[0, 0]), (0x0f, &p), (0x11, &h)])
}

pub fn map_request(iface: Uuid, major: u16, wide: bool) -> Vec<u8> {
    let mut b = Nb::new(wide);
    b.long(1).uuid(Uuid([0; 16])).long(2);
    b.twr(&tcp_tower(iface, major, 135, [0; 4]));
    b.align(4).bytes(&[0; 20]).u32(4);
    b.v
}

pub fn map_response(towers: &[Vec<u8>], wide: bool, status: u32) -> Vec<u8> {
    let n = towers.len() as u64;
    let mut b = Nb::new(wide);
    b.bytes(&[0; 20]).u32(u32::try_from(n).unwrap());
    b.long(n.max(4)).long(0).long(n);
    for i in 0..n {
        b.long(i + 3);
    }
    for t in towers {
        b.twr(t);
    }
    b.u32(status);
    b.v
}

pub fn lookup_request(iface: Uuid) -> Vec<u8> {
    let mut b = Nb::new(false);
    b.u32(1).long(0).long(1).uuid(iface).u16(1).u16(0);
    b.u32(1).bytes(&[0; 20]).u32(500);
    b.v
}

pub fn lookup_response(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let n = entries.len() as u64;
    let mut b = Nb::new(false);
    b.bytes(&[0; 20]).u32(u32::try_from(n).unwrap());
    b.long(500).long(0).long(n);
    for (i, (annotation, _)) in entries.iter().enumerate() {
        let text = [annotation.as_bytes(), b"\0"].concat();
        b.align(4).uuid(Uuid([0; 16])).long(i as u64 + 1);
        b.long(0).long(text.len() as u64).bytes(&text);
    }
    for (_, t) in entries {
        b.twr(t);
    }
    b.u32(0);
    b.v
}
