//! Conversations built byte by byte: every fact and field the TLS inspector sets, a near miss for
//! each, every truncation of a good conversation, and arbitrary bytes.

use base64::Engine;
use proptest::prelude::*;

use super::hello::HELLO_RETRY_RANDOM;
use super::ja4::{Ja4Input, ja4};
use super::*;
use crate::inspect::{Input, MAX_AUTH, Service, Upgrade, inspect};
use crate::time::Timestamp;

// ---------------------------------------------------------------------------------------------
// Test certificates, made for these tests with OpenSSL 3.0 on 2026-11-24 (DER, base64):
//
//   SELF_SIGNED  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 3650
//                -subj "/C=NL/O=exaudit test/CN=selfsigned.example.test"
//                -addext "subjectAltName=DNS:selfsigned.example.test"
//   CA           openssl req -x509 -newkey rsa:2048 -days 3650 -subj "/C=NL/O=exaudit test/CN=exaudit test CA"
//   LEAF         P-384 key, "/C=NL/O=exaudit test/CN=mail.example.test", signed by CA with
//                -set_serial 0x1234 -days 825, SAN DNS:mail.example.test,DNS:autodiscover.example.test,
//                subject and authority key identifiers
//   SAME_NAME    P-256 key whose subject is the CA's own name, signed by CA (-set_serial 7): the
//                names match, the key identifiers do not, so it is not self-signed
// ---------------------------------------------------------------------------------------------

const SELF_SIGNED: &str = "MIICBTCCAaugAwIBAgIUJXak0CdQga39m4md/sVeKxAwZkYwCgYIKoZIzj0EAwIwRjELMAkGA1UEBhMCTkwxFTATBgNVBAoM\
DGV4YXVkaXQgdGVzdDEgMB4GA1UEAwwXc2VsZnNpZ25lZC5leGFtcGxlLnRlc3QwHhcNMjYxMTI0MDYxODA4WhcNMzYxMTIx\
MDYxODA4WjBGMQswCQYDVQQGEwJOTDEVMBMGA1UECgwMZXhhdWRpdCB0ZXN0MSAwHgYDVQQDDBdzZWxmc2lnbmVkLmV4YW1w\
bGUudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFz3X8Nc5Me/ah5R6ukr16PSC4FgnyOn2WwvYdhK8YLHs2MtPHLz\
fhd6xNpu9bov9cubEaTGVOlZRQxtPOm2c6+jdzB1MB0GA1UdDgQWBBRx2QGlOla0UPWDrJvttiZhceBfiDAfBgNVHSMEGDAW\
gBRx2QGlOla0UPWDrJvttiZhceBfiDAPBgNVHRMBAf8EBTADAQH/MCIGA1UdEQQbMBmCF3NlbGZzaWduZWQuZXhhbXBsZS50\
ZXN0MAoGCCqGSM49BAMCA0gAMEUCIEmqoynuOQn1N3JZWEbO4vD3eipycAFYHcz153QjhZDWAiEAlrjJm05w8ae+qFvrPPVI\
JOnHjx3T9DQLwBrA3cPH8nY=";

const CA: &str = "MIIDXTCCAkWgAwIBAgIUaNjslXWZCZAq/KgG/cO6ylu6kdUwDQYJKoZIhvcNAQELBQAwPjELMAkGA1UEBhMCTkwxFTATBgNV\
BAoMDGV4YXVkaXQgdGVzdDEYMBYGA1UEAwwPZXhhdWRpdCB0ZXN0IENBMB4XDTI2MTEyNDA2MTgwOFoXDTM2MTEyMTA2MTgw\
OFowPjELMAkGA1UEBhMCTkwxFTATBgNVBAoMDGV4YXVkaXQgdGVzdDEYMBYGA1UEAwwPZXhhdWRpdCB0ZXN0IENBMIIBIjAN\
BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs2ygWv0E1EK3O5t6eqstplPZHk+Tp2iGHhloByuURbon7zThGQIPz2fgPDRc\
NjYodJ39eK1Xc6lqhjc1QIQH6/t18S0y03NYpXWnBuHUeH6V1KOmH5j7XFy1sweC3Sgew00S6MLORiTT0nTqADkulc5JZ6ZL\
dYgo/WxZ7jTaRL0x7bojij/IJdBx04W+9p3cqtOZTpPkZGXsk9mBBtFioBn5kUtQBisTquQPPb1EIxZBCQsO6CiKE0CA06uD\
IjsmBVvCTkucWKdoPFoym13ywlFn2U+sJI1U5F1+Muwv46xQX1Zpq2uVk40yVoTOinw70I/zuWfdbk3PhanRTCHHywIDAQAB\
o1MwUTAdBgNVHQ4EFgQUqdgZTkp6925kkFKjXZ8HglGN8AAwHwYDVR0jBBgwFoAUqdgZTkp6925kkFKjXZ8HglGN8AAwDwYD\
VR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEANApsWCV2mRLmKOXBDOSBuyZAp33935aFn6SDPYf1GrWUCVf82H6S\
DB3jd139jh8806ViqETQpVY8rPd4bOmT2HyVyJ/ZDVhP3OgHfkszZ5p+t6ryxVkZo2zQf0YUTPybjnxh7XcwVsK+tUEkBLpF\
XbThHA5Zh2II7TCbSSmX1ZgyJ1DHu+qOR5VFtlUGTWJwrK20I6EABBXRFsPl+lhdEQF8RyPgOdox729MncawdWSjygzKztYP\
h8hjSUIF8LQlbT9Ex2ViV7PTnH10flPsiWCTlsrVMP16Z3UCSD6XWcofSFusxrpK5RE3DzWVvN90MxUtSeCUeI/ECSNWPGxK\
HA==";

const LEAF: &str = "MIICxzCCAa+gAwIBAgICEjQwDQYJKoZIhvcNAQELBQAwPjELMAkGA1UEBhMCTkwxFTATBgNVBAoMDGV4YXVkaXQgdGVzdDEY\
MBYGA1UEAwwPZXhhdWRpdCB0ZXN0IENBMB4XDTI2MTEyNDA2MTgwOFoXDTI5MDIyNjA2MTgwOFowQDELMAkGA1UEBhMCTkwx\
FTATBgNVBAoMDGV4YXVkaXQgdGVzdDEaMBgGA1UEAwwRbWFpbC5leGFtcGxlLnRlc3QwdjAQBgcqhkjOPQIBBgUrgQQAIgNi\
AATmKoZDjOVFp/LaEELdNa8qQJRNMHZcXIIUt56hdEPHnyd/Jcbpw1NZGqNYYgkHHCMpKoK5HbbPYRbknOI/+UuFP8XqyYIA\
Hg5Bjz2HpR2RKMG6+b6ciT1WqNO7AdPbVamjezB5MDcGA1UdEQQwMC6CEW1haWwuZXhhbXBsZS50ZXN0ghlhdXRvZGlzY292\
ZXIuZXhhbXBsZS50ZXN0MB0GA1UdDgQWBBQu4hp2ELOtwc8MXpK4gMEJ666DxTAfBgNVHSMEGDAWgBSp2BlOSnr3bmSQUqNd\
nweCUY3wADANBgkqhkiG9w0BAQsFAAOCAQEAb0IR9IAVlHV5HrIOCCu+/CsxWyXRGhEc1oKvHZ0c59oSsOWcIv3rBn9JNIr7\
xt7qiAvdwlsZHkLCeoYuL/a/1KSpREgox44ylxLHEOPutZtewTwfYQABmi4YSOF99LiGX7pNRc0PfVG6TySK2cTCHpmxXLcE\
BHi6pzTpqtuq+hpMDY7Mi8eaiyVPutwP0yp61TvPNQP+jGposWbpqXsdYNq6YDKZHLJZFuXnB4d5+JsCnefE8kzFcVPfhdjm\
k9wq+M4HR8896ZQzSWFhWcyqcINcA99JaFa4pYqnyxWJW8d9pNgcmi99ijyXP6Kvd9a+DkCkp+XoQiUknkVBigvZwQ==";

const SAME_NAME: &str = "MIICbjCCAVagAwIBAgIBBzANBgkqhkiG9w0BAQsFADA+MQswCQYDVQQGEwJOTDEVMBMGA1UECgwMZXhhdWRpdCB0ZXN0MRgw\
FgYDVQQDDA9leGF1ZGl0IHRlc3QgQ0EwHhcNMjYxMTI0MDYxODA4WhcNMjkwMjI2MDYxODA4WjA+MQswCQYDVQQGEwJOTDEV\
MBMGA1UECgwMZXhhdWRpdCB0ZXN0MRgwFgYDVQQDDA9leGF1ZGl0IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\
AARxseb0A1IOgPXP6WQYENa7U2+U2rrRinJZgGtP7gAh5DzTlE9wTPDWtsZVXZ+VTEjRU2qy/SVzcT2tDx5j78gmo0IwQDAd\
BgNVHQ4EFgQUMfCRZmUQGx3owGNGfdM2gh8i2yQwHwYDVR0jBBgwFoAUqdgZTkp6925kkFKjXZ8HglGN8AAwDQYJKoZIhvcN\
AQELBQADggEBAC6DL8zT/HCTnM00EDrz0dWmw3RKDcagPzS7bAd1DAAw+guiywfWBx1b+gfo80VGlcZXTOUBAH9fdvUlAnBd\
En18Uyt9vb1Tqyujz3sFcGc+7NmJneEaAObzG42k7zNv64qvshH6/ijnWKhh1r6UGxsVQhBDEmnCVKVXptKGtF0JhHUoc4O5\
wGfGHI5VPxK6qUNLne6XQ4jf1AWkaYRD78SKFW0bLhxev6V4tCjo/eHjXzeWF3Eei6TRWO/k69T5Fc1V9rZeUNFbrl9p5fjc\
KXzvd7TOsSFdoQLvfuJE54rBbx1WxAA8m28HzAidqVJ+mVnAj6zRuSIJeXvFE2Am4+I=";

fn der(b64: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// 2027-06-01T00:00:00Z: inside every test certificate's validity.
const AT: Timestamp = Timestamp::from_nanos(1_811_808_000 * 1_000_000_000);

fn at_secs(secs: u64) -> Timestamp {
    Timestamp::from_parts(secs, 0, 1)
}

// ---------------------------------------------------------------------------------------------
// A small builder for TLS records and handshake messages.
// ---------------------------------------------------------------------------------------------

fn be16(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap().to_be_bytes()
}

fn be24(v: usize) -> [u8; 3] {
    let b = u32::try_from(v).unwrap().to_be_bytes();
    [b[1], b[2], b[3]]
}

fn vec8(data: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::try_from(data.len()).unwrap()];
    v.extend_from_slice(data);
    v
}

fn vec16(data: &[u8]) -> Vec<u8> {
    let mut v = be16(data.len()).to_vec();
    v.extend_from_slice(data);
    v
}

fn record(ty: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0x03, 0x03];
    v.extend_from_slice(&be16(data.len()));
    v.extend_from_slice(data);
    v
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(&be24(body.len()));
    v.extend_from_slice(body);
    v
}

fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut v = kind.to_be_bytes().to_vec();
    v.extend_from_slice(&vec16(data));
    v
}

fn u16s(list: &[u16]) -> Vec<u8> {
    list.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn sni(name: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend_from_slice(&vec16(name.as_bytes()));
    ext(0x0000, &vec16(&entry))
}

fn alpn(protocols: &[&[u8]]) -> Vec<u8> {
    let list: Vec<u8> = protocols.iter().flat_map(|p| vec8(p)).collect();
    ext(0x0010, &vec16(&list))
}

fn client_versions(list: &[u16]) -> Vec<u8> {
    ext(0x002b, &vec8(&u16s(list)))
}

fn sig_algs(list: &[u16]) -> Vec<u8> {
    ext(0x000d, &vec16(&u16s(list)))
}

/// A marker that stands for secret or random material: it must never reach any output.
const MARK: u8 = 0xa7;

struct ClientHelloSpec {
    version: u16,
    session_id: Vec<u8>,
    ciphers: Vec<u16>,
    extensions: Vec<Vec<u8>>,
}

impl Default for ClientHelloSpec {
    fn default() -> Self {
        Self {
            version: 0x0303,
            session_id: Vec::new(),
            ciphers: vec![0xc02f, 0xc030, 0x009c],
            extensions: vec![
                sni("mail.example.test"),
                alpn(&[b"h2", b"http/1.1"]),
                sig_algs(&[0x0403, 0x0804]),
            ],
        }
    }
}

fn client_hello_body(s: &ClientHelloSpec) -> Vec<u8> {
    let mut v = s.version.to_be_bytes().to_vec();
    v.extend_from_slice(&[MARK; 32]);
    v.extend_from_slice(&vec8(&s.session_id));
    v.extend_from_slice(&vec16(&u16s(&s.ciphers)));
    v.extend_from_slice(&vec8(&[0]));
    let exts: Vec<u8> = s.extensions.concat();
    v.extend_from_slice(&vec16(&exts));
    v
}

fn client_hello(s: &ClientHelloSpec) -> Vec<u8> {
    handshake(1, &client_hello_body(s))
}

fn server_hello_with_random(
    version: u16,
    random: &[u8; 32],
    session_id: &[u8],
    cipher: u16,
    extensions: &[Vec<u8>],
) -> Vec<u8> {
    let mut v = version.to_be_bytes().to_vec();
    v.extend_from_slice(random);
    v.extend_from_slice(&vec8(session_id));
    v.extend_from_slice(&cipher.to_be_bytes());
    v.push(0);
    if !extensions.is_empty() {
        v.extend_from_slice(&vec16(&extensions.concat()));
    }
    handshake(2, &v)
}

fn server_hello(version: u16, cipher: u16, extensions: &[Vec<u8>]) -> Vec<u8> {
    server_hello_with_random(version, &[MARK; 32], &[], cipher, extensions)
}

fn certificate(chain: &[&[u8]]) -> Vec<u8> {
    let list: Vec<u8> = chain
        .iter()
        .flat_map(|c| {
            let mut v = be24(c.len()).to_vec();
            v.extend_from_slice(c);
            v
        })
        .collect();
    let mut body = be24(list.len()).to_vec();
    body.extend_from_slice(&list);
    handshake(11, &body)
}

fn alert_record(level: u8, description: u8) -> Vec<u8> {
    record(21, &[level, description])
}

fn ccs() -> Vec<u8> {
    record(20, &[1])
}

/// An encrypted record (Finished after ChangeCipherSpec, or application data) of marker bytes.
fn encrypted(ty: u8) -> Vec<u8> {
    record(ty, &[MARK; 40])
}

/// A TLS 1.2 conversation: ClientHello (SNI, ALPN), ServerHello (ECDHE-RSA-AES128-GCM, ALPN h2),
/// Certificate (leaf, CA), ServerKeyExchange, ServerHelloDone; the client's key exchange,
/// ChangeCipherSpec and Finished; the server's ChangeCipherSpec and Finished; application data.
fn tls12_conversation(chain: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let mut client = record(22, &client_hello(&ClientHelloSpec::default()));
    client.extend(record(22, &handshake(16, &vec8(&[MARK; 65]))));
    client.extend(ccs());
    client.extend(encrypted(22));
    client.extend(encrypted(23));
    let mut flight = server_hello(0x0303, 0xc02f, &[alpn(&[b"h2"])]);
    flight.extend(certificate(chain));
    flight.extend(handshake(12, &[MARK; 72]));
    flight.extend(handshake(14, &[]));
    let mut server = record(22, &flight);
    server.extend(ccs());
    server.extend(encrypted(22));
    server.extend(encrypted(23));
    (client, server)
}

/// A TLS 1.3 conversation: the version in supported_versions, then only encrypted records.
fn tls13_conversation() -> (Vec<u8>, Vec<u8>) {
    let spec = ClientHelloSpec {
        ciphers: vec![0x1301, 0x1302],
        extensions: vec![
            sni("mail.example.test"),
            client_versions(&[0x0304, 0x0303]),
            sig_algs(&[0x0403]),
        ],
        ..ClientHelloSpec::default()
    };
    let mut client = record(22, &client_hello(&spec));
    client.extend(ccs());
    client.extend(encrypted(23));
    let mut server = record(
        22,
        &server_hello(0x0303, 0x1301, &[ext(0x002b, &[0x03, 0x04])]),
    );
    server.extend(ccs());
    server.extend(encrypted(23));
    server.extend(encrypted(23));
    (client, server)
}

fn run(client: &[u8], server: &[u8]) -> Tls {
    parse(client, server, AT).expect("TLS")
}

fn evidence(client: &[u8], server: &[u8]) -> Evidence {
    let input = Input {
        client,
        server,
        client_port: 50_000,
        server_port: 443,
        ..Input::default()
    };
    inspect(&input, AT)
}

fn facts(ev: &Evidence) -> Vec<Fact> {
    ev.facts.iter().collect()
}

// ---------------------------------------------------------------------------------------------
// JA4
// ---------------------------------------------------------------------------------------------

/// The worked example of FoxIO's JA4 specification (technical_details/JA4.md): 15 ciphers and
/// 16 extensions in the original order given there, with GREASE values added, which JA4 skips.
#[test]
fn ja4_matches_the_specifications_worked_example() {
    let ciphers = [
        0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
        0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let mut exts = vec![ext(0x2a2a, &[])];
    for kind in [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ] {
        exts.push(match kind {
            0x0000 => sni("example.com"),
            0x0010 => alpn(&[b"h2", b"http/1.1"]),
            0x000d => sig_algs(&sigs),
            0x002b => client_versions(&[0x7a7a, 0x0304, 0x0303]),
            k => ext(k, &[]),
        });
    }
    exts.push(ext(0xfafa, &[0]));
    let spec = ClientHelloSpec {
        ciphers: ciphers.to_vec(),
        extensions: exts,
        ..ClientHelloSpec::default()
    };
    let t = run(&record(22, &client_hello(&spec)), &[]);
    assert_eq!(
        t.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
    );
    assert_eq!(t.client_version, Some(Version::Tls13));
}

/// A second published value: the JA4 that browserleaks.com shows for Chrome 143 on Android,
/// `t13d1516h2_8daaf6152771_d8a2da3f94cd`, built from its `ja4_ro` (original order) string.
#[test]
fn ja4_matches_a_published_browser_value() {
    let ciphers = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let exts = [
        0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01,
        0x0023, 0x0012, 0x0005, 0x000d, 0x001b,
    ]
    .iter()
    .map(|&k| match k {
        0x0000 => sni("tls.browserleaks.com"),
        0x0010 => alpn(&[b"h2", b"http/1.1"]),
        0x000d => sig_algs(&sigs),
        0x002b => client_versions(&[0x0304, 0x0303]),
        k => ext(k, &[1, 2]),
    })
    .collect();
    let spec = ClientHelloSpec {
        ciphers: ciphers.to_vec(),
        extensions: exts,
        ..ClientHelloSpec::default()
    };
    let t = run(&record(22, &client_hello(&spec)), &[]);
    assert_eq!(
        t.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_d8a2da3f94cd")
    );
}

fn ja4_of(
    versions: &[u16],
    legacy: u16,
    ciphers: &[u16],
    exts: &[u16],
    alpn: Option<&[u8]>,
    sigs: &[u16],
) -> String {
    ja4(&Ja4Input {
        versions,
        legacy_version: legacy,
        sni: exts.contains(&0),
        ciphers,
        extensions: exts,
        alpn_first: alpn,
        sig_algs: sigs,
    })
}

/// The spec's own hashes for a list without signature algorithms, and its rules for empty lists,
/// ALPN values that are not alphanumeric, counts above 99 and versions.
#[test]
fn ja4_follows_the_specifications_edge_rules() {
    let exts = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ];
    let s = ja4_of(&[], 0x0303, &[0x1301], &exts, Some(b"h2"), &[]);
    assert!(s.ends_with("_6d807ffa2a79"), "{s}");
    assert!(s.starts_with("t12d0116h2_"), "{s}");
    // No ciphers and no extensions: zeros rather than the hash of nothing.
    assert_eq!(
        ja4_of(&[], 0x0301, &[], &[], None, &[]),
        "t10i000000_000000000000_000000000000"
    );
    // Only SNI and ALPN: the sorted list is empty.
    assert!(
        ja4_of(&[], 0x0303, &[0x002f], &[0, 0x10], Some(b"h2"), &[0x0403])
            .ends_with("_000000000000")
    );
    // ALPN: alphanumeric ends are used as they are, else the hex form's first and last digit.
    for (value, chars) in [
        (&b"h2"[..], "h2"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),
        (&[0xab], "ab"),
        (&[0xab, 0xcd], "ad"),
        (&[0x30, 0xab], "3b"),
        (&[0x30, 0x31, 0xab, 0xcd], "3d"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
    ] {
        let s = ja4_of(&[], 0x0303, &[0x002f], &[0x0010], Some(value), &[]);
        assert_eq!(s.get(8..10), Some(chars), "{value:?}: {s}");
    }
    // Counts stop at 99.
    let many: Vec<u16> = (1..=150).collect();
    assert!(ja4_of(&[], 0x0303, &many, &many, None, &[]).starts_with("t12i9999"));
    // Versions: the highest non-GREASE supported version, else the hello's; unknown is 00.
    assert!(ja4_of(&[0x0a0a, 0x0303, 0x0304], 0x0303, &[], &[], None, &[]).starts_with("t13"));
    assert!(ja4_of(&[], 0x0300, &[], &[], None, &[]).starts_with("ts3"));
    assert!(ja4_of(&[], 0x0305, &[], &[], None, &[]).starts_with("t00"));
}

#[test]
fn hello_retry_random_is_the_sha256_of_its_name() {
    use sha2::{Digest, Sha256};
    assert_eq!(
        Sha256::digest(b"HelloRetryRequest").as_slice(),
        HELLO_RETRY_RANDOM.as_slice()
    );
}

// ---------------------------------------------------------------------------------------------
// Handshakes
// ---------------------------------------------------------------------------------------------

#[test]
fn tls12_handshake_gives_version_cipher_names_and_certificate() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let ev = evidence(&client, &server);
    assert_eq!(ev.service, Some(Service::Tls));
    assert_eq!(ev.protection, Protection::Tls);
    assert!(ev.facts.is_empty(), "{:?}", facts(&ev));
    assert!(ev.auth.is_empty());
    let t = ev.tls.as_deref().unwrap();
    assert_eq!(t.version, Some(Version::Tls12));
    assert_eq!(t.cipher, Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
    assert_eq!(t.cipher_id, Some(0xc02f));
    assert_eq!(t.client_version, Some(Version::Tls12));
    assert_eq!(t.server_name.as_deref(), Some("mail.example.test"));
    assert_eq!(t.client_alpns, ["h2", "http/1.1"]);
    assert_eq!(t.next_protocol.as_deref(), Some("h2"));
    assert_eq!(t.established, Some(true));
    assert!(!t.resumed && !t.cert_encrypted && !t.client_cut && !t.server_cut);
    assert_eq!(t.malformed, None);
    assert_eq!(t.cert_chain_len, 2);
    assert_eq!(
        t.cert_chain,
        ["CN=exaudit test CA,O=exaudit test,C=NL".to_owned()]
    );
    let c = t.cert.as_ref().unwrap();
    assert_eq!(
        c.subject.as_deref(),
        Some("CN=mail.example.test,O=exaudit test,C=NL")
    );
    assert_eq!(
        c.issuer.as_deref(),
        Some("CN=exaudit test CA,O=exaudit test,C=NL")
    );
    assert_eq!(c.not_valid_before.as_deref(), Some("2026-11-24T06:18:08Z"));
    assert_eq!(c.not_valid_after.as_deref(), Some("2029-02-26T06:18:08Z"));
    assert_eq!(c.validity, Some(Validity::Valid));
    assert_eq!(
        (c.key_type, c.key_length, c.curve),
        (Some("ecdsa"), Some(384), Some("secp384r1"))
    );
    assert_eq!(c.serial.as_deref(), Some("1234"));
    assert_eq!(
        c.san_dns,
        ["mail.example.test", "autodiscover.example.test"]
    );
    assert!(!c.self_signed && !c.unreadable);
    // `openssl x509 -fingerprint -sha256` printed 7F:A9:54:83:…:14:3F.
    assert_eq!(
        c.fingerprint,
        "7fa95483e14f32c3ce71776a467569bbc048dfb7e42c9b1edc8c1138e6a4143f"
    );
}

#[test]
fn rsa_key_size_is_the_modulus_bits() {
    let c = cert::summarize(&der(CA), AT);
    assert_eq!(
        (c.key_type, c.key_length, c.curve),
        (Some("rsa"), Some(2048), None)
    );
    let c = cert::summarize(&der(SELF_SIGNED), AT);
    assert_eq!(
        (c.key_type, c.key_length, c.curve),
        (Some("ecdsa"), Some(256), Some("prime256v1"))
    );
}

#[test]
fn tls13_version_comes_from_supported_versions_and_certificates_are_encrypted() {
    let (client, server) = tls13_conversation();
    let ev = evidence(&client, &server);
    let t = ev.tls.as_deref().unwrap();
    assert_eq!(t.version, Some(Version::Tls13));
    assert_eq!(t.cipher, Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(t.established, Some(true));
    assert!(t.cert_encrypted);
    assert!(t.cert.is_none() && t.cert_chain_len == 0);
    assert!(ev.facts.is_empty(), "{:?}", facts(&ev));
    assert_eq!(ev.protection, Protection::Tls);

    // Near miss: the same ServerHello without supported_versions is TLS 1.2.
    let server = record(22, &server_hello(0x0303, 0xc02f, &[]));
    let t = run(&client, &server);
    assert_eq!(t.version, Some(Version::Tls12));
    assert!(!t.cert_encrypted);
}

#[test]
fn tls13_without_the_clients_encrypted_records_is_not_called_established() {
    let (client, server) = tls13_conversation();
    let hello_only = &client[..client.len() - encrypted(23).len() - ccs().len()];
    assert_eq!(run(hello_only, &server).established, None);
}

#[test]
fn hello_retry_request_is_followed_to_the_real_server_hello() {
    let (client, _) = tls13_conversation();
    let hrr = server_hello_with_random(
        0x0303,
        &HELLO_RETRY_RANDOM,
        &[],
        0x1302,
        &[ext(0x002b, &[0x03, 0x04])],
    );
    let mut server = record(22, &hrr);
    server.extend(ccs());
    server.extend(record(
        22,
        &server_hello(0x0303, 0x1301, &[ext(0x002b, &[0x03, 0x04])]),
    ));
    let t = run(&client, &server);
    assert!(t.hello_retry);
    assert_eq!(t.version, Some(Version::Tls13));
    assert_eq!(t.cipher_id, Some(0x1301));
    assert_eq!(t.malformed, None);
}

#[test]
fn old_versions_are_a_fact_and_tls12_is_not() {
    for (v, name) in [
        (0x0300, Version::Ssl3),
        (0x0301, Version::Tls10),
        (0x0302, Version::Tls11),
    ] {
        let spec = ClientHelloSpec {
            version: v,
            ..ClientHelloSpec::default()
        };
        let ev = evidence(
            &record(22, &client_hello(&spec)),
            &record(22, &server_hello(v, 0x002f, &[])),
        );
        assert_eq!(ev.tls.as_deref().unwrap().version, Some(name));
        assert!(ev.facts.has(Fact::TlsOldVersion), "{v:04x}");
    }
    let ev = evidence(
        &record(22, &client_hello(&ClientHelloSpec::default())),
        &record(22, &server_hello(0x0303, 0x002f, &[])),
    );
    assert!(!ev.facts.has(Fact::TlsOldVersion));
    // A client that offers TLS 1.0 but is answered with TLS 1.2 is judged by the answer.
    assert_eq!(
        ev.tls.as_deref().unwrap().client_version,
        Some(Version::Tls12)
    );
}

#[test]
fn weak_cipher_suites_are_a_fact_and_strong_ones_are_not() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let weak = [
        (0x0004, "RC4"),
        (0x0005, "RC4 SHA"),
        (0x000a, "3DES"),
        (0x0009, "DES"),
        (0x0002, "NULL"),
        (0x0003, "EXPORT"),
        (0x0034, "anonymous DH"),
        (0xc018, "anonymous ECDH"),
    ];
    for (id, what) in weak {
        let ev = evidence(&hello, &record(22, &server_hello(0x0303, id, &[])));
        assert!(ev.facts.has(Fact::TlsWeakCipher), "{what} {id:04x}");
    }
    for id in [0xc02f, 0xc030, 0x009f, 0x002f, 0xcca8, 0x1301, 0xeeee] {
        let ev = evidence(&hello, &record(22, &server_hello(0x0303, id, &[])));
        assert!(!ev.facts.has(Fact::TlsWeakCipher), "{id:04x}");
    }
    let t = run(&hello, &record(22, &server_hello(0x0303, 0xeeee, &[])));
    assert_eq!((t.cipher, t.cipher_id), (None, Some(0xeeee)));
}

#[test]
fn self_signed_certificate_is_a_fact() {
    let ss = der(SELF_SIGNED);
    let (client, server) = tls12_conversation(&[&ss]);
    let ev = evidence(&client, &server);
    assert_eq!(facts(&ev), [Fact::CertSelfSigned]);
    let c = ev.tls.as_deref().unwrap().cert.clone().unwrap();
    assert!(c.self_signed);
    assert_eq!(c.subject, c.issuer);
}

#[test]
fn certificates_from_a_ca_are_not_self_signed_even_under_the_cas_name() {
    let (leaf, same) = (der(LEAF), der(SAME_NAME));
    for chain in [&leaf, &same] {
        let (client, server) = tls12_conversation(&[chain]);
        let ev = evidence(&client, &server);
        assert!(!ev.facts.has(Fact::CertSelfSigned));
    }
    let c = cert::summarize(&same, AT);
    assert_eq!(c.subject, c.issuer, "the names match");
    assert!(!c.self_signed, "the key identifiers do not");
}

#[test]
fn certificate_validity_is_judged_at_capture_time() {
    let leaf = der(LEAF);
    let (client, server) = tls12_conversation(&[&leaf]);
    let judge = |at: Timestamp| {
        let t = parse(&client, &server, at).unwrap();
        let mut ev = Evidence::default();
        apply(&t, &mut ev);
        (t.cert.unwrap().validity, ev.facts.has(Fact::CertExpired))
    };
    // not before 2026-11-24T06:18:08Z, not after 2029-02-26T06:18:08Z.
    assert_eq!(
        judge(at_secs(1_795_501_087)),
        (Some(Validity::NotYetValid), true)
    );
    assert_eq!(
        judge(at_secs(1_795_501_088)),
        (Some(Validity::Valid), false)
    );
    assert_eq!(
        judge(at_secs(1_866_781_088)),
        (Some(Validity::Valid), false)
    );
    assert_eq!(
        judge(at_secs(1_866_781_089)),
        (Some(Validity::Expired), true)
    );
}

#[test]
fn fatal_alert_before_the_server_hello_fails_the_handshake() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let ev = evidence(&hello, &alert_record(2, 40));
    assert_eq!(facts(&ev), [Fact::TlsHandshakeFailed]);
    let t = ev.tls.as_deref().unwrap();
    assert_eq!(t.established, Some(false));
    assert_eq!(t.version, None);
    assert_eq!(
        t.alerts,
        [Alert {
            from: Sender::Server,
            level: Some("fatal"),
            description: Some("handshake_failure"),
            code: Some(40),
            encrypted: false,
            ended_handshake: true,
        }]
    );
    // The client can end it too (e.g. an unknown CA after the server's certificate).
    let (leaf, ca) = (der(LEAF), der(CA));
    let (_, server) = tls12_conversation(&[&leaf, &ca]);
    let mut client = hello.clone();
    client.extend(alert_record(2, 48));
    let ev = evidence(&client, &server);
    assert!(ev.facts.has(Fact::TlsHandshakeFailed));
    assert_eq!(
        ev.tls.as_deref().unwrap().alerts[0].description,
        Some("unknown_ca")
    );
}

#[test]
fn warning_and_encrypted_alerts_do_not_fail_the_handshake() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let mut server = alert_record(1, 112);
    server.extend(record(22, &server_hello(0x0303, 0xc02f, &[])));
    let ev = evidence(&hello, &server);
    assert!(!ev.facts.has(Fact::TlsHandshakeFailed));
    let a = &ev.tls.as_deref().unwrap().alerts[0];
    assert_eq!(
        (a.level, a.description, a.ended_handshake),
        (Some("warning"), Some("unrecognized_name"), false)
    );
    // After ChangeCipherSpec (TLS 1.2) an alert is encrypted: close_notify at the end.
    let leaf = der(LEAF);
    let (mut client, server) = tls12_conversation(&[&leaf]);
    client.extend(record(21, &[MARK; 26]));
    let ev = evidence(&client, &server);
    assert!(ev.facts.is_empty(), "{:?}", facts(&ev));
    let t = ev.tls.as_deref().unwrap();
    assert!(t.alerts[0].encrypted && t.alerts[0].level.is_none());
    assert_eq!(t.established, Some(true));
}

#[test]
fn clear_text_answer_to_a_client_hello_is_a_fact() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let ev = evidence(&hello, b"220 mail.example.test ESMTP ready\r\n");
    assert_eq!(facts(&ev), [Fact::ClearAnswerToClientHello]);
    assert_eq!(ev.protection, Protection::Unknown);
    assert_eq!(ev.service, Some(Service::Tls));
    let t = ev.tls.as_deref().unwrap();
    assert_eq!(
        t.clear_answer.as_deref(),
        Some("220 mail.example.test ESMTP ready")
    );
    assert_eq!(t.established, Some(false));
    // Near misses: a server that says nothing, and one that sends binary that is not TLS.
    let ev = evidence(&hello, &[]);
    assert!(ev.facts.is_empty());
    assert_eq!(ev.protection, Protection::Tls);
    let ev = evidence(&hello, &[0x00, 0x01, 0xff, 0x80, 0x00]);
    assert_eq!(facts(&ev), [Fact::Malformed]);
    assert_eq!(ev.protection, Protection::Unknown);
    assert_eq!(ev.tls.as_deref().unwrap().clear_answer, None);
}

#[test]
fn garbage_after_valid_records_is_malformed_but_a_cut_is_not() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let mut bad = client.clone();
    bad.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let ev = evidence(&bad, &server);
    assert_eq!(facts(&ev), [Fact::Malformed]);
    assert_eq!(
        ev.tls.as_deref().unwrap().malformed,
        Some("bytes that are not a TLS record")
    );
    // A record header whose length is above RFC 5246's bound.
    let mut bad = record(22, &client_hello(&ClientHelloSpec::default()));
    bad.extend_from_slice(&[23, 3, 3, 0x48, 0x01]);
    assert!(run(&bad, &[]).malformed.is_some());
    // A ClientHello whose extension block claims more than it holds.
    let mut body = client_hello_body(&ClientHelloSpec::default());
    let exts_at = body.len() - ClientHelloSpec::default().extensions.concat().len() - 2;
    body[exts_at] = 0xff;
    let ev = evidence(&record(22, &handshake(1, &body)), &[]);
    assert!(ev.facts.has(Fact::Malformed), "{:?}", ev.tls);
    // Near miss: the same conversation cut in the middle of a record is only cut.
    let t = run(&client[..client.len() - 10], &server[..server.len() - 3]);
    assert_eq!(t.malformed, None);
    assert!(t.client_cut && t.server_cut);
}

#[test]
fn handshake_messages_split_across_records_are_joined() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let whole = run(&client, &server);
    // The same handshake bytes, re-cut into records of 7 bytes.
    let resplit = |bytes: &[u8]| {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            let (rec, tail) = rest.split_at(5 + len);
            if rec[0] == 22 {
                for chunk in rec[5..].chunks(7) {
                    out.extend(record(22, chunk));
                }
            } else {
                out.extend_from_slice(rec);
            }
            rest = tail;
            // After ChangeCipherSpec the handshake record is encrypted: keep it whole.
            if rec[0] == 20 {
                out.extend_from_slice(rest);
                break;
            }
        }
        out
    };
    let split = run(&resplit(&client), &resplit(&server));
    assert_eq!(format!("{split:?}"), format!("{whole:?}"));
    assert_eq!(split.cert_chain_len, 2);
}

#[test]
fn every_truncation_of_a_good_conversation_is_cut_never_malformed() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let full = run(&client, &server);
    for cut in 0..=client.len() {
        match parse(&client[..cut], &server, AT) {
            // Too short to say it is TLS.
            None => assert!(cut < 3, "{cut}"),
            Some(t) => {
                assert_eq!(t.malformed, None, "client cut at {cut}");
                assert_eq!(t.version, full.version, "the server's bytes are whole");
                if t.ja4.is_some() {
                    assert_eq!(t.ja4, full.ja4, "client cut at {cut}");
                }
            }
        }
    }
    // Where the server's records end: a cut there is not inside a record.
    let mut boundaries = vec![0];
    while let Some(&b) = boundaries.last().filter(|b| **b < server.len()) {
        boundaries.push(b + 5 + usize::from(u16::from_be_bytes([server[b + 3], server[b + 4]])));
    }
    for cut in 0..=server.len() {
        let t = run(&client, &server[..cut]);
        assert_eq!(t.malformed, None, "server cut at {cut}");
        assert!(t.version.is_none() || t.version == full.version);
        assert_eq!(
            t.server_cut,
            !boundaries.contains(&cut),
            "server cut at {cut}"
        );
        // A certificate is the whole certificate or nothing.
        if let Some(c) = &t.cert {
            assert_eq!(Some(c), full.cert.as_ref(), "server cut at {cut}");
        }
        // Established only once the server's ChangeCipherSpec is there.
        if t.established == Some(true) {
            assert!(cut >= boundaries[2], "server cut at {cut}");
        }
        let mut ev = Evidence::default();
        apply(&t, &mut ev);
        assert!(!ev.facts.has(Fact::Malformed));
    }
}

#[test]
fn every_truncation_of_tls13_and_sslv2_conversations_is_never_malformed() {
    let (client, server) = tls13_conversation();
    let mut msg = vec![1, 0x03, 0x01, 0, 6, 0, 0, 0, 16];
    msg.extend_from_slice(&[0x00, 0x00, 0x2f, 0x01, 0x00, 0x80]);
    msg.extend_from_slice(&[MARK; 16]);
    let mut v2 = vec![0x80, u8::try_from(msg.len()).unwrap()];
    v2.extend_from_slice(&msg);
    let v2_server = record(22, &server_hello(0x0301, 0x002f, &[]));
    for (client, server) in [(&client, &server), (&v2, &v2_server)] {
        for cut in 0..=client.len() {
            if let Some(t) = parse(&client[..cut], server, AT) {
                assert_eq!(t.malformed, None, "client cut at {cut}");
            }
        }
        // The version is known exactly when the ServerHello's record is whole.
        let hello_end = 5 + usize::from(u16::from_be_bytes([server[3], server[4]]));
        for cut in 0..=server.len() {
            let t = run(client, &server[..cut]);
            assert_eq!(t.malformed, None, "server cut at {cut}");
            assert_eq!(t.version.is_some(), cut >= hello_end, "server cut at {cut}");
        }
    }
}

#[test]
fn a_chain_cut_by_the_prefix_still_gives_the_certificates_that_are_whole() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    // Cut inside the CA's certificate: the leaf is whole.
    let at = server.windows(8).position(|w| w == &ca[..8]).unwrap() + 100;
    let t = run(&client, &server[..at]);
    assert!(t.server_cut);
    assert_eq!(
        t.cert.as_ref().unwrap().subject.as_deref(),
        Some("CN=mail.example.test,O=exaudit test,C=NL")
    );
    assert_eq!(t.cert_chain_len, 0, "the chain's length is unknown");
    assert!(t.cert_chain.is_empty());
}

#[test]
fn client_certificate_is_an_authentication() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let (leaf, ss) = (der(LEAF), der(SELF_SIGNED));
    let mut flight = server_hello(0x0303, 0xc02f, &[]);
    flight.extend(certificate(&[&leaf]));
    flight.extend(handshake(13, &[1, 1, 0, 0]));
    flight.extend(handshake(14, &[]));
    let mut server = record(22, &flight);
    server.extend(ccs());
    server.extend(encrypted(22));
    let mut client = hello.clone();
    let mut second = certificate(&[&ss]);
    second.extend(handshake(16, &vec8(&[MARK; 65])));
    second.extend(handshake(15, &[MARK; 72]));
    client.extend(record(22, &second));
    client.extend(ccs());
    client.extend(encrypted(22));
    let ev = evidence(&client, &server);
    let t = ev.tls.as_deref().unwrap();
    assert!(t.cert_requested);
    assert_eq!(
        t.client_cert.as_ref().unwrap().subject.as_deref(),
        Some("CN=selfsigned.example.test,O=exaudit test,C=NL")
    );
    // The client's self-signed certificate is not the server's.
    assert!(!ev.facts.has(Fact::CertSelfSigned));
    assert_eq!(
        ev.auth,
        [AuthSeen {
            mechanism: Mechanism::ClientCertificate,
            clear_credentials: false,
            outcome: Outcome::Success,
            user: Some("selfsigned.example.test".into()),
            domain: None,
        }]
    );
    // The server refuses it.
    let mut refused = record(22, &flight);
    refused.extend(alert_record(2, 42));
    let ev = evidence(&client, &refused);
    assert_eq!(ev.auth[0].outcome, Outcome::Failure);
    // Near miss: a client with no certificate answers with an empty list.
    let mut none = hello.clone();
    none.extend(record(22, &certificate(&[])));
    let ev = evidence(&none, &server);
    assert!(ev.auth.is_empty());
    assert!(ev.tls.as_deref().unwrap().client_cert.is_none());
}

#[test]
fn session_resumption_is_seen() {
    let spec = ClientHelloSpec {
        session_id: vec![MARK; 32],
        ..ClientHelloSpec::default()
    };
    let hello = record(22, &client_hello(&spec));
    let resumed = server_hello_with_random(0x0303, &[MARK; 32], &[MARK; 32], 0xc02f, &[]);
    let mut server = record(22, &resumed);
    server.extend(ccs());
    server.extend(encrypted(22));
    let mut client = hello.clone();
    client.extend(ccs());
    client.extend(encrypted(22));
    let t = run(&client, &server);
    assert!(t.resumed);
    assert_eq!(t.established, Some(true));
    // A new session id is a full handshake.
    let fresh = server_hello_with_random(0x0303, &[MARK; 32], &[0x11; 32], 0xc02f, &[]);
    assert!(!run(&hello, &record(22, &fresh)).resumed);
    // TLS 1.3: the server's pre_shared_key extension.
    let (client, _) = tls13_conversation();
    let psk = server_hello(
        0x0303,
        0x1301,
        &[ext(0x002b, &[0x03, 0x04]), ext(0x0029, &[0, 0])],
    );
    let t = run(&client, &record(22, &psk));
    assert!(t.resumed && !t.cert_encrypted);
}

#[test]
fn sslv2_compatible_client_hello_is_tls() {
    // RFC 6101 E.2: a version-3.1 hello in an SSL 2.0 record, two cipher specs, a 16-byte challenge.
    let mut msg = vec![1, 0x03, 0x01, 0, 6, 0, 0, 0, 16];
    msg.extend_from_slice(&[0x00, 0x00, 0x2f, 0x01, 0x00, 0x80]);
    msg.extend_from_slice(&[MARK; 16]);
    let mut client = vec![0x80, u8::try_from(msg.len()).unwrap()];
    client.extend_from_slice(&msg);
    assert!(looks_like(&client));
    let ev = evidence(&client, &record(22, &server_hello(0x0301, 0x002f, &[])));
    let t = ev.tls.as_deref().unwrap();
    assert!(t.sslv2_hello);
    assert_eq!(
        (t.client_version, t.version),
        (Some(Version::Tls10), Some(Version::Tls10))
    );
    assert_eq!(t.ja4, None, "JA4 is defined on TLS ClientHellos");
    assert!(ev.facts.has(Fact::TlsOldVersion));
    // An SSL 2.0 server answers with SERVER-HELLO and its certificate.
    let ss = der(SELF_SIGNED);
    let mut hello = vec![4, 0, 1, 0x00, 0x02];
    hello.extend_from_slice(&be16(ss.len()));
    hello.extend_from_slice(&[0, 3, 0, 16]);
    hello.extend_from_slice(&ss);
    hello.extend_from_slice(&[0x01, 0x00, 0x80]);
    hello.extend_from_slice(&[MARK; 16]);
    let mut server = be16(hello.len()).to_vec();
    server[0] |= 0x80;
    server.extend_from_slice(&hello);
    let ev = evidence(&client, &server);
    let t = ev.tls.as_deref().unwrap();
    assert_eq!(t.version, Some(Version::Ssl2));
    assert!(t.cert.as_ref().unwrap().self_signed);
    assert!(ev.facts.has(Fact::TlsOldVersion) && ev.facts.has(Fact::CertSelfSigned));
    // Near misses: another SSL 2.0 message type, a bad challenge length, RTP-like bytes.
    let mut other = client.clone();
    other[2] = 2;
    assert!(!looks_like(&other));
    let mut short = client.clone();
    short[10] = 8;
    assert!(!looks_like(&short));
    assert!(!looks_like(&[
        0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01
    ]));
}

#[test]
fn looks_like_accepts_tls_and_rejects_other_protocols_fast() {
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    assert!(looks_like(&hello));
    assert!(looks_like(&hello[..3]), "a cut hello is still TLS");
    assert!(looks_like(&encrypted(23)), "application data: midstream");
    assert!(looks_like(&alert_record(1, 0)));
    for other in [
        &b"EHLO mail.example.test\r\n"[..],
        b"GET / HTTP/1.1\r\n",
        &[0x30, 0x0c, 0x02, 0x01, 0x01],
        &[0x05, 0x00, 0x0b, 0x03, 0x10],
        &[0x00, 0x00, 0x00, 0x85, 0xff, 0x53, 0x4d, 0x42],
        &[0x17, 0x03, 0x03, 0x00, 0x00],
        &[0x17, 0x03, 0x03, 0x48, 0x01],
        &[0x17, 0x03, 0x03],
        &[0x16, 0x02, 0x00],
        &[0x18, 0x03, 0x03, 0x00, 0x10],
        &[],
    ] {
        assert!(!looks_like(other), "{other:?}");
        assert!(parse(other, &[], AT).is_none());
    }
}

#[test]
fn midstream_application_data_is_tls_without_a_handshake() {
    let mut client = encrypted(23);
    client.extend(encrypted(23));
    let ev = evidence(&client, &encrypted(23));
    assert_eq!(ev.protection, Protection::Tls);
    assert!(ev.facts.is_empty());
    let t = ev.tls.as_deref().unwrap();
    assert!(t.midstream);
    assert_eq!(
        (t.version, t.established, t.ja4.as_deref()),
        (None, None, None)
    );
    // Near miss: a ClientHello is not midstream, nor is one cut before its first message.
    assert!(!run(&record(22, &client_hello(&ClientHelloSpec::default())), &[]).midstream);
    assert!(!run(&[22, 3, 1, 0, 200, 1, 0], &[]).midstream);
}

#[test]
fn after_an_upgrade_the_upgrade_keeps_its_name() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let t = run(&client, &server);
    for (anonymous, want) in [
        (false, Protection::Starttls),
        (true, Protection::AnonymousTls),
    ] {
        let mut ev = Evidence {
            protection: Protection::UpgradeUnconfirmed,
            upgrade: Some(Upgrade {
                client_at: 0,
                server_at: 0,
                anonymous,
            }),
            ..Evidence::default()
        };
        apply(&t, &mut ev);
        assert_eq!(ev.protection, want);
    }
    // No answer from the server: the upgrade stays unconfirmed.
    let t = run(&client, &[]);
    let mut ev = Evidence {
        protection: Protection::UpgradeUnconfirmed,
        upgrade: Some(Upgrade {
            client_at: 0,
            server_at: 0,
            anonymous: false,
        }),
        ..Evidence::default()
    };
    apply(&t, &mut ev);
    assert_eq!(ev.protection, Protection::UpgradeUnconfirmed);
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

#[test]
fn json_shape_uses_zeek_names_and_leaves_absent_fields_out() {
    let (leaf, ca) = (der(LEAF), der(CA));
    let (client, server) = tls12_conversation(&[&leaf, &ca]);
    let v = serde_json::to_value(run(&client, &server)).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cert",
            "cert_chain",
            "cert_chain_len",
            "cipher",
            "cipher_id",
            "client_alpns",
            "client_version",
            "established",
            "ja4",
            "next_protocol",
            "server_name",
            "version",
        ]
    );
    assert_eq!(v["version"], "TLSv12");
    assert_eq!(v["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    assert_eq!(v["cipher_id"], 0xc02f);
    assert_eq!(v["client_alpns"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(v["cert"]["validity"], "valid");
    assert_eq!(v["cert"]["key_type"], "ecdsa");
    assert_eq!(v["cert"]["self_signed"], false);
    assert!(v["cert"].get("unreadable").is_none());
    // An alert as it is written.
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let v = serde_json::to_value(run(&hello, &alert_record(2, 40))).unwrap();
    assert_eq!(
        v["alerts"],
        serde_json::json!([{"from": "server", "level": "fatal",
            "description": "handshake_failure", "code": 40, "ended_handshake": true}])
    );
}

#[test]
fn no_random_session_id_key_exchange_or_encrypted_byte_reaches_the_output() {
    let spec = ClientHelloSpec {
        session_id: vec![MARK; 32],
        ..ClientHelloSpec::default()
    };
    let leaf = der(LEAF);
    let (client, server) = tls12_conversation(&[&leaf]);
    let first = record(22, &client_hello(&ClientHelloSpec::default())).len();
    let mut with_session = record(22, &client_hello(&spec));
    with_session.extend_from_slice(&client[first..]);
    let t = run(&with_session, &server);
    assert!(t.established == Some(true) && t.cert.is_some());
    let json = serde_json::to_string(&t).unwrap();
    let debug = format!("{t:?}");
    for text in [&json, &debug] {
        assert!(!text.contains("a7a7"), "{text}");
        assert!(!text.contains("167, 167"), "{text}");
        assert!(!text.contains('\u{a7}'), "{text}");
    }
}

#[test]
fn versions_print_as_zeek_does() {
    let names: Vec<String> = [
        0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7f1c, 0x1234,
    ]
    .into_iter()
    .map(|v| Version::from(v).to_string())
    .collect();
    assert_eq!(
        names,
        [
            "SSLv2",
            "SSLv3",
            "TLSv10",
            "TLSv11",
            "TLSv12",
            "TLSv13",
            "TLSv13-draft28",
            "unknown-0x1234"
        ]
    );
}

#[test]
fn certificate_times_are_rfc3339_before_and_after_1970() {
    assert_eq!(cert::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(cert::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(cert::rfc3339(-1), "1969-12-31T23:59:59Z");
    assert_eq!(cert::rfc3339(-631_152_000), "1950-01-01T00:00:00Z");
    assert_eq!(cert::rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
    assert_eq!(cert::rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
}

#[test]
fn unreadable_certificate_keeps_only_its_fingerprint() {
    let c = cert::summarize(b"not a certificate", AT);
    assert!(c.unreadable);
    assert_eq!(c.subject, None);
    assert_eq!(c.fingerprint.len(), 64);
}

// ---------------------------------------------------------------------------------------------
// Arbitrary bytes
// ---------------------------------------------------------------------------------------------

fn assert_bounded(t: &Tls) {
    assert!(t.alerts.len() <= 2 * record::MAX_ALERTS);
    assert!(t.client_alpns.len() <= hello::MAX_ALPN);
    assert!(t.cert_chain.len() <= MAX_CHAIN);
    let texts = t
        .client_alpns
        .iter()
        .chain(&t.cert_chain)
        .chain(&t.server_name)
        .chain(&t.next_protocol)
        .chain(&t.clear_answer);
    for s in texts {
        assert!(s.len() <= MAX_TEXT);
    }
    for c in t.cert.iter().chain(&t.client_cert) {
        assert!(c.san_dns.len() <= 8);
        for s in c.subject.iter().chain(&c.issuer).chain(&c.san_dns) {
            assert!(s.len() <= MAX_TEXT);
        }
    }
}

proptest! {
    #[test]
    fn any_bytes_never_panic_and_stay_bounded(
        client in proptest::collection::vec(any::<u8>(), 0..600),
        server in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        if let Some(t) = parse(&client, &server, AT) {
            assert_bounded(&t);
        }
        let ev = evidence(&client, &server);
        prop_assert!(ev.auth.len() <= MAX_AUTH);
    }

    /// Bytes behind valid record headers, so the handshake layers are reached.
    #[test]
    fn records_of_any_content_never_panic(
        bodies in proptest::collection::vec(
            (20u8..=24, proptest::collection::vec(any::<u8>(), 0..300)), 0..6),
        server_bodies in proptest::collection::vec(
            (20u8..=24, proptest::collection::vec(any::<u8>(), 0..300)), 0..6),
        hello_first in any::<bool>(),
    ) {
        let mut client = Vec::new();
        if hello_first {
            client.extend(record(22, &client_hello(&ClientHelloSpec::default())));
        }
        for (ty, b) in &bodies {
            client.extend(record(*ty, b));
        }
        let server: Vec<u8> = server_bodies.iter().flat_map(|(ty, b)| record(*ty, b)).collect();
        if let Some(t) = parse(&client, &server, AT) {
            assert_bounded(&t);
            let mut ev = Evidence::default();
            apply(&t, &mut ev);
            prop_assert!(ev.auth.len() <= MAX_AUTH);
        }
    }

    /// Any SNI and ALPN come back as they were sent (both ≤ MAX_TEXT here).
    #[test]
    fn sni_and_alpn_round_trip(name in "[a-z0-9.-]{1,60}", proto in "[a-z0-9/.]{1,20}") {
        let spec = ClientHelloSpec {
            extensions: vec![sni(&name), alpn(&[proto.as_bytes()])],
            ..ClientHelloSpec::default()
        };
        let t = parse(&record(22, &client_hello(&spec)), &[], AT).unwrap();
        prop_assert_eq!(t.server_name.as_deref(), Some(name.as_str()));
        prop_assert_eq!(t.client_alpns, vec![proto]);
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz seeds
// ---------------------------------------------------------------------------------------------

/// Writes the conversations above as seeds for the `inspect_tls` fuzz target
/// (see `testkit::fuzzing::inspect_tls`).
#[test]
#[ignore = "writes fuzz/corpus/inspect_tls: cargo test --lib -- --ignored write_fuzz_seeds"]
fn write_fuzz_seeds() {
    let (leaf, ca, ss) = (der(LEAF), der(CA), der(SELF_SIGNED));
    let hello = record(22, &client_hello(&ClientHelloSpec::default()));
    let mut seeds: Vec<(&str, u8, Vec<u8>, Vec<u8>)> = Vec::new();
    let (c, s) = tls12_conversation(&[&leaf, &ca]);
    seeds.push(("tls12-chain", 0x04, c.clone(), s.clone()));
    seeds.push(("tls12-chain-dispatcher", 0x05, c.clone(), s.clone()));
    seeds.push(("tls12-chain-upgrade", 0x06, c, s));
    let (c, s) = tls12_conversation(&[&ss]);
    seeds.push(("tls12-self-signed-epoch", 0x00, c, s));
    let (c, s) = tls13_conversation();
    seeds.push(("tls13", 0x05, c.clone(), s));
    let hrr = server_hello_with_random(
        0x0303,
        &HELLO_RETRY_RANDOM,
        &[],
        0x1302,
        &[ext(0x002b, &[0x03, 0x04])],
    );
    let mut s = record(22, &hrr);
    s.extend(ccs());
    s.extend(record(
        22,
        &server_hello(0x0303, 0x1301, &[ext(0x002b, &[0x03, 0x04])]),
    ));
    seeds.push(("tls13-hello-retry", 0x04, c, s));
    seeds.push(("alert", 0x05, hello.clone(), alert_record(2, 40)));
    seeds.push((
        "clear-answer",
        0x05,
        hello.clone(),
        b"220 mail.example.test ESMTP\r\n".to_vec(),
    ));
    let mut msg = vec![1, 0x03, 0x01, 0, 6, 0, 0, 0, 16];
    msg.extend_from_slice(&[0x00, 0x00, 0x2f, 0x01, 0x00, 0x80]);
    msg.extend_from_slice(&[MARK; 16]);
    let mut v2 = vec![0x80, u8::try_from(msg.len()).unwrap()];
    v2.extend_from_slice(&msg);
    seeds.push((
        "sslv2-hello",
        0x04,
        v2,
        record(22, &server_hello(0x0301, 0x002f, &[])),
    ));
    let mut flight = server_hello(0x0303, 0xc02f, &[]);
    flight.extend(certificate(&[&leaf]));
    flight.extend(handshake(13, &[1, 1, 0, 0]));
    flight.extend(handshake(14, &[]));
    let mut s = record(22, &flight);
    s.extend(ccs());
    let mut c = hello.clone();
    c.extend(record(22, &certificate(&[&ss])));
    c.extend(ccs());
    seeds.push(("client-certificate", 0x05, c, s));
    seeds.push(("midstream", 0x05, encrypted(23), encrypted(23)));
    crate::testkit::fuzzing::write_seeds("inspect_tls", &seeds).unwrap();
}
