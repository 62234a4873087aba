//! The output contract: every JSON object exaudit writes is checked against the field tables of
//! `docs/output.md`, and the formats are held by snapshots of the bundled capture.

use std::collections::BTreeMap;
use std::path::PathBuf;

use exaudit::{Config, Format, run};
use serde_json::Value;

use super::common::shared;

/// One documented field: its type (as written in the docs) and whether it must be present.
type Schema = BTreeMap<String, (String, bool)>;

/// Reads the first table after the line that starts with `marker`.
fn table_after(doc: &str, marker: &str) -> Schema {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(marker));
    assert!(lines.next().is_some(), "docs/output.md has no {marker:?}");
    let mut schema = Schema::new();
    for l in lines
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
    {
        // `\|` inside a cell is an escaped bar ("array\|null").
        let unescaped = l.replace("\\|", "/");
        let cells: Vec<&str> = unescaped.split('|').map(str::trim).collect();
        let (Some(name), Some(ty), Some(req)) = (cells.get(1), cells.get(2), cells.get(3)) else {
            continue;
        };
        if !name.starts_with('`') {
            continue;
        }
        schema.insert(
            name.trim_matches('`').to_owned(),
            (ty.replace('/', "|"), *req == "yes"),
        );
    }
    assert!(!schema.is_empty(), "no table after {marker:?}");
    schema
}

fn schemas() -> BTreeMap<&'static str, Schema> {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/output.md"))
            .unwrap();
    BTreeMap::from([
        ("flow", table_after(&doc, "## `flow`")),
        ("icmp", table_after(&doc, "Each element of `icmp`")),
        ("summary", table_after(&doc, "## `summary`")),
        ("finding", table_after(&doc, "## `finding`")),
        ("coverage", table_after(&doc, "## `coverage`")),
        ("learned", table_after(&doc, "## `learned`")),
        ("report", table_after(&doc, "## `report`")),
    ])
}

fn type_ok(v: &Value, ty: &str) -> bool {
    ty.split('|').any(|t| match t {
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => panic!("docs/output.md names an unknown type {t:?}"),
    })
}

fn check(v: &Value, schema: &Schema, what: &str, all: &BTreeMap<&'static str, Schema>) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
    for (k, val) in obj {
        let (ty, _) = schema
            .get(k)
            .unwrap_or_else(|| panic!("{what}: field {k:?} is not documented in docs/output.md"));
        assert!(type_ok(val, ty), "{what}: field {k:?} = {val} is not {ty}");
    }
    for (k, (_, required)) in schema {
        assert!(
            !required || obj.contains_key(k),
            "{what}: required field {k:?} missing in {v}"
        );
    }
    if let Some(items) = obj.get("icmp").and_then(Value::as_array) {
        for i in items {
            check(i, &all["icmp"], "icmp element", all);
        }
    }
}

fn render(inputs: Vec<PathBuf>, format: Format) -> (String, u8) {
    render_site(inputs, format, None)
}

fn render_site(inputs: Vec<PathBuf>, format: Format, site: Option<&str>) -> (String, u8) {
    let config = Config {
        inputs,
        format,
        site: site.map(PathBuf::from),
        ..Config::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = run(&config, &mut out, &mut err).unwrap();
    (String::from_utf8(out).unwrap(), outcome.exit_code())
}

fn check_jsonl(text: &str, all: &BTreeMap<&'static str, Schema>) -> usize {
    let mut n = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i}: {e}: {line}"));
        let ty = v["type"].as_str().unwrap();
        assert!(
            matches!(ty, "flow" | "finding" | "coverage" | "learned")
                || (ty == "summary" && i == lines.len() - 1),
            "line {i}: type {ty}"
        );
        check(&v, &all[ty], &format!("line {i}"), all);
        n += 1;
    }
    n
}

fn inputs() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("fixtures/mixed.pcapng")];
    if let Some(s) = shared() {
        for e in std::fs::read_dir(s.join("pcaps")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                v.push(p);
            }
        }
        v.sort();
    }
    v
}

/// Every line of every JSONL output, and every object of the JSON output, matches the docs.
#[test]
fn every_object_matches_docs_output_md() {
    let all = schemas();
    let mut objects = 0;
    let mut runs: Vec<(PathBuf, Option<&str>)> = inputs().into_iter().map(|p| (p, None)).collect();
    runs.push((
        PathBuf::from("fixtures/demo/demo.pcapng"),
        Some("fixtures/demo/site.toml"),
    ));
    runs.push((
        PathBuf::from("fixtures/mixed.pcapng"),
        Some("fixtures/demo/site.toml"),
    ));
    for (input, site) in runs {
        let (jsonl, _) = render_site(vec![input.clone()], Format::Jsonl, site);
        objects += check_jsonl(&jsonl, &all);
        let (json, _) = render_site(vec![input], Format::Json, site);
        let v: Value = serde_json::from_str(&json).unwrap();
        check(&v, &all["report"], "report", &all);
        for (key, schema) in [
            ("flows", "flow"),
            ("findings", "finding"),
            ("coverage", "coverage"),
            ("learned", "learned"),
        ] {
            for f in v[key].as_array().unwrap() {
                check(f, &all[schema], &format!("report {schema}"), &all);
            }
        }
        check(&v["summary"], &all["summary"], "report summary", &all);
    }
    assert!(objects > 10);
}

/// The JSON document holds exactly what the JSONL lines hold.
#[test]
fn json_and_jsonl_carry_the_same_objects() {
    let input = vec![PathBuf::from("fixtures/demo/demo.pcapng")];
    let site = Some("fixtures/demo/site.toml");
    let (jsonl, _) = render_site(input.clone(), Format::Jsonl, site);
    let (json, _) = render_site(input, Format::Json, site);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, rest) = lines.split_last().unwrap();
    let of =
        |ty: &str| -> Vec<Value> { rest.iter().filter(|v| v["type"] == ty).cloned().collect() };
    assert_eq!(doc["flows"].as_array().unwrap(), &of("flow"));
    assert_eq!(doc["findings"].as_array().unwrap(), &of("finding"));
    assert_eq!(doc["coverage"].as_array().unwrap(), &of("coverage"));
    assert!(!of("finding").is_empty() && !of("coverage").is_empty());
    assert_eq!(&doc["summary"], summary);
}

fn table_ok(out: &str) {
    assert!(
        out.lines().all(|l| l.chars().count() <= 100),
        "wider than 100 columns"
    );
    assert!(!out.contains('\x1b'), "colour outside a terminal");
}

/// Without a site file: classified by port alone, and every output says so.
#[test]
fn jsonl_snapshot_of_the_bundled_capture() {
    let (out, code) = render(vec![PathBuf::from("fixtures/mixed.pcapng")], Format::Jsonl);
    assert_eq!(
        code, 1,
        "the refused EdgeSync attempt is a high finding by port"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("\"classified_by\":\"port-only\"")
    );
    insta::assert_snapshot!("mixed_jsonl", out);
}

#[test]
fn table_snapshot_of_the_bundled_capture() {
    let (out, code) = render(vec![PathBuf::from("fixtures/mixed.pcapng")], Format::Table);
    assert_eq!(code, 1);
    table_ok(&out);
    assert!(out.contains("site        none: flows are classified by port alone"));
    insta::assert_snapshot!("mixed_table", out);
}

/// The demo organisation with its site file: the golden outputs of the classification stage.
#[test]
fn demo_snapshots() {
    let input = vec![PathBuf::from("fixtures/demo/demo.pcapng")];
    let site = Some("fixtures/demo/site.toml");
    let (table, code) = render_site(input.clone(), Format::Table, site);
    assert_eq!(code, 1);
    table_ok(&table);
    insta::assert_snapshot!("demo_table", table);
    // README.md shows the beginning of this report: it must be what the command prints.
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("exaudit audit\n  inputs      fixtures/demo/demo.pcapng")
        .unwrap();
    let shown: Vec<&str> = readme[start..]
        .lines()
        .take_while(|l| *l != "  …")
        .collect();
    let printed: Vec<&str> = table.lines().take(shown.len()).collect();
    assert!(shown.len() > 20);
    assert_eq!(shown, printed, "README.md's demo report is out of date");
    let (jsonl, _) = render_site(input.clone(), Format::Jsonl, site);
    insta::assert_snapshot!("demo_jsonl", jsonl);
    let (json, _) = render_site(input, Format::Json, site);
    insta::assert_snapshot!("demo_json", json);
}

/// The committed captures are exactly what the testkit's scenarios make today.
#[test]
fn fixtures_regenerate_byte_for_byte() {
    let committed = std::fs::read("fixtures/mixed.pcapng").unwrap();
    assert!(
        committed == exaudit::testkit::scenes::mixed().to_pcapng(),
        "fixtures/mixed.pcapng differs from testkit::scenes::mixed(); run `cargo run --example fixtures`"
    );
    let committed = std::fs::read("fixtures/demo/demo.pcapng").unwrap();
    assert!(
        committed == exaudit::testkit::scenes::demo().to_pcapng(),
        "fixtures/demo/demo.pcapng differs from testkit::scenes::demo(); run `cargo run --example fixtures`"
    );
}
