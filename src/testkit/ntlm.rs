//! NTLM messages (MS-NLMP 2.2.1) for scenes and tests: one builder for every protocol that
//! carries them. Names are UTF-16LE (the Unicode flag is set); responses are whatever bytes the
//! caller passes, never anything a real password would give.

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn length(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("field under 64 KiB").to_le_bytes()
}

/// A NEGOTIATE message, no domain or workstation supplied.
pub fn negotiate() -> Vec<u8> {
    [
        &b"NTLMSSP\0"[..],
        &1u32.to_le_bytes(),
        &0xe208_8297u32.to_le_bytes(),
        &[0u8; 16],
    ]
    .concat()
}

/// A CHALLENGE naming `domain` as the target, with `server_challenge`.
pub fn challenge(domain: &str, server_challenge: &[u8; 8]) -> Vec<u8> {
    let name = utf16(domain);
    let len = length(name.len());
    [
        &b"NTLMSSP\0"[..],
        &2u32.to_le_bytes(),
        &len,
        &len,
        &48u32.to_le_bytes(),
        &0xe289_8215u32.to_le_bytes(),
        server_challenge,
        &[0u8; 8],
        &[0u8; 8],
        &name,
    ]
    .concat()
}

/// An AUTHENTICATE for `domain\user` from `host` with `nt_response` as the NT response: 24
/// bytes read as NTLMv1, more as NTLMv2; empty (with no user) is an anonymous one, which also
/// carries no LM response.
pub fn authenticate(nt_response: &[u8], domain: &str, user: &str, host: &str) -> Vec<u8> {
    let lm = if nt_response.is_empty() {
        Vec::new()
    } else {
        vec![0u8; 24]
    };
    let parts = [
        lm,
        nt_response.to_vec(),
        utf16(domain),
        utf16(user),
        utf16(host),
        Vec::new(),
    ];
    let mut header = [&b"NTLMSSP\0"[..], &3u32.to_le_bytes()].concat();
    let mut offset = 64u32;
    for p in &parts {
        header.extend_from_slice(&length(p.len()));
        header.extend_from_slice(&length(p.len()));
        header.extend_from_slice(&offset.to_le_bytes());
        offset += u32::try_from(p.len()).expect("field");
    }
    header.extend_from_slice(&0xe288_8215u32.to_le_bytes());
    [header, parts.concat()].concat()
}
