//! The built-in catalog against `../shared/exchange-paths.md`: every row id of the digest is a
//! path, no path is invented, and the port numbers agree (where they differ on purpose, the
//! reason is written below and in the path's notes).

use std::collections::{BTreeMap, BTreeSet};

use exaudit::catalog::{Catalog, PortSpec};

use super::common::shared;

/// Rows whose port numbers differ from the digest's port cell on purpose.
const EXPECTED_DIFFERENCES: &[(&str, &str)] = &[
    (
        "e2010.note.smtp-inbound-remote",
        "the note states no port; the digest's 25 is quoted from another row",
    ),
    (
        "e2010.static.rpc-client-access",
        "59531-60554 is the recommended static range and 59532 an example, not a default port",
    ),
    (
        "e2010.static.address-book",
        "59531-60554 and 59533 are the recommended static range and an example",
    ),
    (
        "e2010.static.public-folders",
        "the seed reuses the RPC Client Access setting (59532 is its example)",
    ),
    (
        "e2000.rvp-80",
        "1024 bounds the client's ephemeral callback port, which nobody listens on in advance",
    ),
    (
        "e5x.intersite-x400",
        "the cell says TCP 135 is not needed for the X.400 connector",
    ),
];

/// The rows of the digest's path tables (sections 1 to 8): id → port cell.
fn digest_rows(doc: &str) -> BTreeMap<String, String> {
    let tables = doc.split("\n## 9.").next().unwrap();
    let mut rows = BTreeMap::new();
    for line in tables.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let id = cells[1].trim_matches('`');
        if id.contains('.') && cells.len() > 5 {
            assert!(
                rows.insert(id.to_owned(), cells[4].to_owned()).is_none(),
                "{id} twice in the digest"
            );
        }
    }
    rows
}

/// Port numbers in a digest cell: outside `[own knowledge: …]`, not RFC or KB numbers, not
/// parts of versions; "AD ports" stands for its list.
fn numbers(cell: &str) -> BTreeSet<u16> {
    let mut text = String::new();
    let mut rest = cell;
    while let Some(i) = rest.find("[own knowledge") {
        text.push_str(&rest[..i]);
        rest = rest[i..].find(']').map_or("", |j| &rest[i + j + 1..]);
    }
    text.push_str(rest);
    let text = text.replace("AD ports", "389 3268 88 53 135");
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let before = start.checked_sub(1).map(|k| b[k]);
        let after = b.get(i).copied();
        let range_end = before == Some(b'-') && start >= 2 && b[start - 2].is_ascii_digit();
        let glued_before =
            before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
        let glued_after = after.is_some_and(|c| c.is_ascii_alphanumeric())
            || (after == Some(b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let prefix = &b[start.saturating_sub(4)..start];
        let cites = prefix.windows(3).any(|w| w == b"RFC") || prefix.windows(2).any(|w| w == b"KB");
        if (glued_before && !range_end) || glued_after || cites {
            continue;
        }
        if let Ok(n) = text[start..i].parse::<u16>()
            && n > 0
        {
            out.insert(n);
        }
    }
    out
}

fn catalog_numbers(c: &Catalog, id: &str) -> BTreeSet<u16> {
    let p = c.path(c.find(id).unwrap());
    let mut out = BTreeSet::new();
    for e in &p.ports {
        match e.spec {
            PortSpec::One(n) => {
                out.insert(n);
            }
            PortSpec::Range(a, b) => {
                out.insert(a);
                out.insert(b);
            }
            // The seeds' "dynamic UDP ports in the range 1024-65535" (RTP).
            PortSpec::RtpMedia => {
                out.extend([1024, 65535]);
            }
            PortSpec::RpcDynamic | PortSpec::Any => {}
        }
    }
    out
}

#[test]
fn every_digest_row_is_a_path_and_the_ports_agree() {
    let Some(shared) = shared() else {
        eprintln!("skipped: catalog against exchange-paths.md (../shared is not present)");
        return;
    };
    let doc = std::fs::read_to_string(shared.join("exchange-paths.md")).unwrap();
    let rows = digest_rows(&doc);
    assert_eq!(rows.len(), 204, "the digest's row count changed");
    let c = Catalog::builtin().unwrap();
    let ids: BTreeSet<&str> = c.paths.iter().map(|p| p.id.as_str()).collect();
    let digest: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        digest.difference(&ids).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "digest rows missing from the catalog"
    );
    assert_eq!(
        ids.difference(&digest).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "catalog paths that are not digest rows"
    );
    let mut differ = Vec::new();
    for (id, cell) in &rows {
        let d = numbers(cell);
        let k = catalog_numbers(&c, id);
        if d != k {
            differ.push(format!("{id}: digest {d:?}, catalog {k:?}"));
        }
    }
    let expected: Vec<&str> = EXPECTED_DIFFERENCES.iter().map(|(id, _)| *id).collect();
    let unexpected: Vec<&String> = differ
        .iter()
        .filter(|d| !expected.iter().any(|e| d.starts_with(&format!("{e}:"))))
        .collect();
    assert!(unexpected.is_empty(), "ports disagree: {unexpected:#?}");
    for e in &expected {
        assert!(
            differ.iter().any(|d| d.starts_with(&format!("{e}:"))),
            "{e} is listed as differing but now agrees: take it off the list"
        );
        let p = c.path(c.find(e).unwrap());
        assert!(
            p.notes.is_some(),
            "{e}: the difference is explained in its notes"
        );
    }
}

#[test]
fn the_builtin_catalog_has_every_list_and_row() {
    let c = Catalog::builtin().unwrap();
    assert_eq!(c.paths.len(), 204);
    assert_eq!(c.lists.len(), 9);
    assert_eq!(c.alternatives.len(), 10);
    for p in &c.paths {
        let ok = p.source.split(';').all(|part| {
            let part = part.trim();
            let Some((seed, lines)) = part.split_once(':') else {
                return false;
            };
            matches!(seed, "000" | "001" | "002" | "003" | "004")
                && lines.split(',').all(|r| {
                    r.trim()
                        .split('-')
                        .all(|n| n.trim().parse::<u32>().is_ok_and(|n| n > 0))
                })
        });
        assert!(ok, "{}: source {:?} is not SEED:LINES", p.id, p.source);
    }
}
