use super::*;

const GOOD: &str = r#"[list]
id = "local"
title = "Our own paths"
generations = ["2010"]

[[path]]
id = "local.relay"
name = "Hub to the mail relay"
from = ["hub"]
to = ["internet"]
ports = ["25/tcp", "2525/tcp"]
encryption = ["starttls"]
encryption_text = "STARTTLS"
encrypted_by_default = "conditional"
condition = "the relay offers STARTTLS"
auth_default = ["anonymous"]
auth_supported = ["anonymous"]
source = "our change CHG-1234"

[[path]]
id = "local.backup"
name = "Backup agent"
from = ["any"]
to = ["mailbox"]
ports = ["10000-10010/tcp", "rpc-dynamic/tcp"]
encrypted_by_default = "unknown"
source = "vendor manual"
"#;

fn load(text: &str) -> Result<Catalog, RulesError> {
    Catalog::from_sources([("rules/local.toml".to_owned(), text.to_owned())])
}

fn error(needle: &str, with: &str) -> String {
    let text = GOOD.replacen(needle, with, 1);
    load(&text).unwrap_err().to_string()
}

#[test]
fn a_good_file_loads_into_typed_paths() {
    let c = load(GOOD).unwrap();
    assert_eq!(c.paths.len(), 2);
    let relay = c.path(c.find("local.relay").unwrap());
    assert!(relay.from.contains(Role::Hub));
    assert_eq!(relay.ports_text(), "25/tcp, 2525/tcp");
    assert_eq!(relay.encrypted_by_default, ByDefault::Conditional);
    assert_eq!(relay.line, 6);
    let seen: Vec<_> = c
        .candidates(Transport::Tcp, 10005, false, false)
        .iter()
        .copied()
        .collect();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].how, PortMatch::Range);
    assert_eq!(seen[0].width, 11);
    let seen: Vec<_> = c
        .candidates(Transport::Tcp, 50000, true, false)
        .iter()
        .copied()
        .collect();
    assert_eq!(seen[0].how, PortMatch::Inferred);
    let seen: Vec<_> = c
        .candidates(Transport::Udp, 25, true, true)
        .iter()
        .copied()
        .collect();
    assert!(seen.is_empty(), "a TCP port is not a UDP port");
}

#[test]
fn an_unknown_role_names_the_file_line_and_the_known_roles() {
    assert_eq!(
        error("from = [\"hub\"]", "from = [\"hubtransport\"]"),
        "rules/local.toml:9: path \"local.relay\": unknown role \"hubtransport\" (known: hub, edge, mailbox, cas, um, dc, dns, adrms, ippbx, ocs, client, internet, exchange, any, loopback)"
    );
}

#[test]
fn a_port_out_of_range_is_an_error() {
    assert_eq!(
        error("\"2525/tcp\"", "\"70000/tcp\""),
        "rules/local.toml:11: path \"local.relay\": port \"70000/tcp\": 70000 is out of range (1-65535)"
    );
    assert_eq!(
        error("\"2525/tcp\"", "\"0/tcp\""),
        "rules/local.toml:11: path \"local.relay\": port \"0/tcp\": 0 is out of range (1-65535)"
    );
}

#[test]
fn a_malformed_range_is_an_error() {
    assert_eq!(
        error("10000-10010", "10010-10000"),
        "rules/local.toml:25: path \"local.backup\": port range \"10010-10000/tcp\" is malformed (the low end must be below the high end)"
    );
    assert_eq!(
        error("10000-10010", "10000-x"),
        "rules/local.toml:25: path \"local.backup\": port \"10000-x/tcp\": \"x\" is not a port number"
    );
    assert_eq!(
        error("\"2525/tcp\"", "2525"),
        "rules/local.toml:11: path \"local.relay\": port 2525 needs its transport, like \"2525/tcp\""
    );
    assert_eq!(
        error("\"2525/tcp\"", "\"2525/sctp\""),
        "rules/local.toml:11: path \"local.relay\": port \"2525/sctp\": unknown transport \"sctp\" (known: tcp, udp)"
    );
}

#[test]
fn a_duplicate_id_names_the_first_definition() {
    assert_eq!(
        error("id = \"local.backup\"", "id = \"local.relay\""),
        "rules/local.toml:20: path \"local.relay\": duplicate id (first defined at rules/local.toml:6)"
    );
}

#[test]
fn an_unknown_key_is_an_error() {
    let e = error(
        "source = \"vendor manual\"",
        "source = \"vendor manual\"\nprot = 1",
    );
    assert!(
        e.starts_with("rules/local.toml:28: unknown field `prot`, expected one of"),
        "{e}"
    );
}

#[test]
fn other_rules_are_checked_where_they_are_written() {
    assert_eq!(
        error("condition = \"the relay offers STARTTLS\"\n", ""),
        "rules/local.toml:14: path \"local.relay\": encrypted_by_default is \"conditional\" but no condition is given"
    );
    assert_eq!(
        error("[\"starttls\"]", "[\"ssl\"]"),
        "rules/local.toml:12: path \"local.relay\": unknown encryption \"ssl\" (known: tls, starttls, mtls, rpc, kerberos, ipsec, srtp)"
    );
    assert_eq!(
        error("generations = [\"2010\"]", "generations = [\"2012\"]"),
        "rules/local.toml:4: list \"local\": unknown generation \"2012\" (known: 5.x, 2000, 2003, 2010, 2013, 2016, 2019, any)"
    );
    assert_eq!(
        error("from = [\"any\"]", "from = []"),
        "rules/local.toml:23: path \"local.backup\": from names no role"
    );
    assert_eq!(
        error("\"rpc-dynamic/tcp\"", "\"rpc-dynamic/udp\""),
        "rules/local.toml:25: path \"local.backup\": port \"rpc-dynamic/udp\": rpc-dynamic is only defined over tcp"
    );
    assert!(error("[list]", "[lst]").starts_with("rules/local.toml:1: unknown field `lst`"));
}

#[test]
fn a_user_file_cannot_reuse_a_builtin_id() {
    let builtin = Catalog::builtin().unwrap();
    let Some(first) = builtin.paths.first() else {
        return;
    };
    let text = GOOD.replacen("local.relay", &first.id, 1);
    let e = Catalog::from_sources(
        BUILTIN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .chain([("local.toml".to_owned(), text)]),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("duplicate id (first defined at rules/"),
        "{e}"
    );
}

#[test]
fn segment_lookup_agrees_with_a_scan_on_every_port() {
    let c = Catalog::builtin().unwrap();
    let slow = super::load::Index::slow(&c.paths);
    let mut segments = std::collections::HashMap::new();
    for t in [Transport::Tcp, Transport::Udp] {
        for port in 0..=u16::MAX {
            let fast = c.candidates(t, port, false, false);
            let slow = slow(t, port);
            assert_eq!(fast.by_port, &slow[..], "{t:?} port {port}");
            // What a segment promises: the same TLS ports and alternative on all its ports.
            let seen = (
                fast.by_port
                    .iter()
                    .map(|cand| c.path(cand.path).is_tls_port(t, port))
                    .collect::<Vec<_>>(),
                c.alternative(t, port),
            );
            match segments.get(&fast.segment) {
                Some(first) => assert_eq!(first, &seen, "{t:?} port {port}"),
                None => {
                    segments.insert(fast.segment, seen);
                }
            }
        }
    }
    assert!(segments.len() > 100, "{} segments", segments.len());
}

#[test]
fn rpc_interfaces_name_known_interfaces_on_dynamic_rpc_paths() {
    let with = "source = \"vendor manual\"\nrpc_interfaces = [\"emsmdb\", \"nspi\", \"emsmdb\"]";
    let c = load(&GOOD.replacen("source = \"vendor manual\"", with, 1)).unwrap();
    let backup = c.path(c.find("local.backup").unwrap());
    assert_eq!(backup.rpc_interfaces, ["emsmdb", "nspi"]);
    let e = error(
        "source = \"vendor manual\"",
        "source = \"vendor manual\"\nrpc_interfaces = [\"mapi\"]",
    );
    assert!(
        e.starts_with(
            "rules/local.toml:28: path \"local.backup\": unknown RPC interface \"mapi\" (known: emsmdb, asyncemsmdb, nspi"
        ),
        "{e}"
    );
    let e = error(
        "source = \"our change CHG-1234\"",
        "source = \"our change CHG-1234\"\nrpc_interfaces = [\"emsmdb\"]",
    );
    assert_eq!(
        e,
        "rules/local.toml:19: path \"local.relay\": rpc_interfaces is given but no port is rpc-dynamic"
    );
}

#[test]
fn the_builtin_catalog_names_the_mapi_interfaces() {
    let c = Catalog::builtin().unwrap();
    let p = c.path(c.find("e2010.static.rpc-client-access").unwrap());
    assert_eq!(p.rpc_interfaces, ["emsmdb", "asyncemsmdb"]);
    let p = c.path(c.find("e2010.static.address-book").unwrap());
    assert_eq!(p.rpc_interfaces, ["nspi", "rfr"]);
}

#[test]
fn overlapping_ranges_of_a_users_file_are_indexed_like_a_scan() {
    // Nested, touching, overlapping and open-ended ranges, a port listed twice by one path and
    // once by another, and ranges over both transports.
    let mut text = String::from("[list]\nid = \"l\"\ntitle = \"t\"\ngenerations = [\"2016\"]\n");
    let ports = [
        r#"["1000-2000/tcp", "1500/tcp", "1500/tcp"]"#,
        r#"["1500-1600/tcp", "1500/tcp"]"#,
        r#"["2000-3000/tcp", "2500-2600/udp"]"#,
        r#"["any/udp"]"#,
        r#"["any"]"#,
        r#"["1-1000/tcp", "65535/tcp"]"#,
        r#"["2999-65535/tcp"]"#,
    ];
    for (i, p) in ports.iter().enumerate() {
        text.push_str(&format!(
            "\n[[path]]\nid = \"l.p{i}\"\nname = \"p\"\nfrom = [\"client\"]\nto = [\"cas\"]\n\
             ports = {p}\nencrypted_by_default = \"no\"\nsource = \"s\"\n"
        ));
    }
    let c = load(&text).unwrap();
    let slow = super::load::Index::slow(&c.paths);
    for t in [Transport::Tcp, Transport::Udp] {
        for port in 0..=u16::MAX {
            let fast = c.candidates(t, port, false, false);
            assert_eq!(fast.by_port, &slow(t, port)[..], "{t:?} port {port}");
        }
    }
    let at_1500: Vec<u32> = c
        .candidates(Transport::Tcp, 1500, false, false)
        .iter()
        .map(|cand| cand.path)
        .collect();
    assert_eq!(at_1500, [0, 1, 1, 0, 4]);
}
