//! `exaudit catalog` (the documented paths, as a table or JSON) and `exaudit site check` (what a
//! site file assigns).

use std::io::{self, Write};

use serde::Serialize;

use crate::catalog::{Catalog, Generation, Path, PortSpec, Role, RoleSet, Transport};
use crate::site::Site;

/// Which paths `exaudit catalog` lists.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    pub generation: Option<Generation>,
    pub role: Option<Role>,
    pub port: Option<u16>,
}

impl CatalogFilter {
    /// The filter from the command line's words; an error names the bad word.
    pub fn parse(
        generation: Option<&str>,
        role: Option<&str>,
        port: Option<u16>,
    ) -> Result<CatalogFilter, String> {
        let generation = match generation {
            None => None,
            Some(g) => Some(Generation::parse(g).ok_or_else(|| {
                format!(
                    "unknown generation {} (known: {})",
                    crate::text::echo(g),
                    Generation::known()
                )
            })?),
        };
        let role = match role {
            None => None,
            Some(r) => Some(Role::parse(r).ok_or_else(|| {
                format!(
                    "unknown role {} (known: {})",
                    crate::text::echo(r),
                    Role::known()
                )
            })?),
        };
        Ok(CatalogFilter {
            generation,
            role,
            port,
        })
    }

    fn admits(&self, catalog: &Catalog, p: &Path) -> bool {
        if let Some(g) = self.generation {
            let gens = catalog.list_of(p).generations;
            if !gens.contains(g) && !gens.contains(Generation::Any) {
                return false;
            }
        }
        if let Some(r) = self.role {
            let ends = p.from.union(p.to);
            let implied = RoleSet::EMPTY.with(r).with_implied();
            if !ends.intersects(implied) && !ends.contains(Role::Any) {
                return false;
            }
        }
        if let Some(port) = self.port
            && !p.ports.iter().any(|e| {
                e.covers(Transport::Tcp, port)
                    || e.covers(Transport::Udp, port)
                    || (e.spec == PortSpec::RpcDynamic && port >= 1024)
                    || (e.spec == PortSpec::RtpMedia && port >= 1024)
            })
        {
            return false;
        }
        true
    }
}

fn roles(r: RoleSet) -> String {
    r.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
}

/// One line per path, grouped by source list, at most 100 columns.
pub fn write_catalog_table(
    out: &mut dyn Write,
    catalog: &Catalog,
    filter: &CatalogFilter,
) -> io::Result<()> {
    let mut total = 0;
    for (li, list) in catalog.lists.iter().enumerate() {
        let paths: Vec<&Path> = catalog
            .paths
            .iter()
            .filter(|p| p.list as usize == li && filter.admits(catalog, p))
            .collect();
        if paths.is_empty() {
            continue;
        }
        total += paths.len();
        let gens: Vec<&str> = list.generations.iter().map(Generation::as_str).collect();
        let head = format!(
            "{} (Exchange {}; {} paths): {}",
            list.file,
            gens.join(", "),
            paths.len(),
            list.title,
        );
        let head: String = crate::text::escape(&head).chars().take(100).collect();
        writeln!(out, "{head}")?;
        for p in paths {
            let enc: Vec<&str> = p.encryption.iter().map(|e| e.as_str()).collect();
            let enc = if enc.is_empty() {
                "-".to_owned()
            } else {
                enc.join(",")
            };
            let line = format!(
                "  {:<44} {} -> {}  enc {} ({})  {}",
                p.id,
                roles(p.from),
                roles(p.to),
                enc,
                p.encrypted_by_default,
                p.ports_text()
            );
            let line: String = crate::text::escape(&line).chars().take(100).collect();
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "{total} of {} paths; {} encrypted alternatives",
        catalog.paths.len(),
        catalog.alternatives.len()
    )
}

#[derive(Serialize)]
struct PathJson<'a> {
    id: &'a str,
    name: &'a str,
    list: &'a str,
    generations: Vec<&'static str>,
    from: Vec<&'static str>,
    to: Vec<&'static str>,
    ports: Vec<String>,
    tls_ports: Vec<String>,
    encryption: Vec<&'static str>,
    encryption_text: &'a str,
    encrypted_by_default: &'static str,
    condition: Option<&'a str>,
    auth_default: Vec<&'static str>,
    auth_supported: Vec<&'static str>,
    auth_text: Option<&'a str>,
    notes: Option<&'a str>,
    source: &'a str,
    rule_name: Option<&'a str>,
    program: Option<&'a str>,
    related: &'a [String],
    duplicate_of: Option<&'a str>,
    file: &'a str,
    line: usize,
}

#[derive(Serialize)]
struct AlternativeJson<'a> {
    service: &'a str,
    clear: String,
    secure: String,
    source: &'a str,
}

#[derive(Serialize)]
struct CatalogJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    paths: Vec<PathJson<'a>>,
    alternatives: Vec<AlternativeJson<'a>>,
}

/// The filtered paths and every alternative as one JSON document.
pub fn write_catalog_json(
    out: &mut dyn Write,
    catalog: &Catalog,
    filter: &CatalogFilter,
) -> io::Result<()> {
    let paths = catalog
        .paths
        .iter()
        .filter(|p| filter.admits(catalog, p))
        .map(|p| {
            let list = catalog.list_of(p);
            PathJson {
                id: &p.id,
                name: &p.name,
                list: &list.id,
                generations: list.generations.iter().map(Generation::as_str).collect(),
                from: p.from.iter().map(Role::as_str).collect(),
                to: p.to.iter().map(Role::as_str).collect(),
                ports: p.ports.iter().map(ToString::to_string).collect(),
                tls_ports: p.tls_ports.iter().map(ToString::to_string).collect(),
                encryption: p.encryption.iter().map(|e| e.as_str()).collect(),
                encryption_text: &p.encryption_text,
                encrypted_by_default: p.encrypted_by_default.as_str(),
                condition: p.condition.as_deref(),
                auth_default: p.auth_default.iter().map(|a| a.as_str()).collect(),
                auth_supported: p.auth_supported.iter().map(|a| a.as_str()).collect(),
                auth_text: p.auth_text.as_deref(),
                notes: p.notes.as_deref(),
                source: &p.source,
                rule_name: p.rule_name.as_deref(),
                program: p.program.as_deref(),
                related: &p.related,
                duplicate_of: p.duplicate_of.as_deref(),
                file: &list.file,
                line: p.line,
            }
        })
        .collect();
    let alternatives = catalog
        .alternatives
        .iter()
        .map(|a| AlternativeJson {
            service: &a.service,
            clear: format!("{}/{}", a.clear, a.transport),
            secure: format!("{}/{}", a.secure, a.transport),
            source: &a.source,
        })
        .collect();
    super::jsontext::write_pretty(
        out,
        &CatalogJson {
            ty: "catalog",
            paths,
            alternatives,
        },
    )?;
    writeln!(out)
}

/// What `exaudit site check` prints for a valid file.
pub fn write_site_check(out: &mut dyn Write, site: &Site) -> io::Result<()> {
    let gens: Vec<&str> = site.generations.iter().map(Generation::as_str).collect();
    let name = if site.name.is_empty() {
        String::new()
    } else {
        format!(" ({})", crate::text::escape(&site.name))
    };
    writeln!(out, "{}{name}: valid", crate::text::escape(&site.file))?;
    writeln!(out, "  generations  Exchange {}", gens.join(", "))?;
    for (role, n) in &site.per_role {
        writeln!(
            out,
            "  {:<12} {n} address{}",
            role.as_str(),
            if *n == 1 { "" } else { "es and networks" }
        )?;
    }
    writeln!(
        out,
        "  internet     {}",
        if site.internet_listed {
            "the listed prefixes; addresses not listed anywhere are unknown"
        } else {
            "every address not listed"
        }
    )?;
    let statics: Vec<String> = site.rpc_static.iter().map(u16::to_string).collect();
    writeln!(
        out,
        "  rpc          dynamic {}-{}{}",
        site.rpc_dynamic.0,
        site.rpc_dynamic.1,
        if statics.is_empty() {
            String::new()
        } else {
            format!(", static {}", statics.join(", "))
        }
    )
}
