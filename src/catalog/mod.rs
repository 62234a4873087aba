//! The catalog: the data paths Microsoft documents for Exchange, loaded from `rules/` (built into
//! the binary) and from the user's own files (`--rules FILE`), validated once at start-up into
//! typed paths, with an index by transport and port so that classifying a flow never scans it.
//! The file format is described in `docs/catalog.md`.

pub(crate) mod load;
mod types;

pub use load::Candidates;

use std::path::Path as FsPath;

pub use types::{
    Alternative, Auth, AuthSet, ByDefault, Encryption, EncryptionSet, Generation, GenerationSet,
    List, Path, PortEntry, PortSpec, Role, RoleSet, Transport,
};

/// A problem in a catalog or site file, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file (it cannot be read).
    pub line: usize,
    pub problem: String,
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.problem)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.problem)
        }
    }
}

/// The catalog files compiled into the binary, in the order they are listed.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/e2010-roles.toml",
        include_str!("../../rules/e2010-roles.toml"),
    ),
    (
        "rules/e2010-firewall.toml",
        include_str!("../../rules/e2010-firewall.toml"),
    ),
    (
        "rules/e2010-static-rpc.toml",
        include_str!("../../rules/e2010-static-rpc.toml"),
    ),
    (
        "rules/e2013-fet.toml",
        include_str!("../../rules/e2013-fet.toml"),
    ),
    ("rules/e2016.toml", include_str!("../../rules/e2016.toml")),
    ("rules/e2000.toml", include_str!("../../rules/e2000.toml")),
    (
        "rules/e2000-firewall-article.toml",
        include_str!("../../rules/e2000-firewall-article.toml"),
    ),
    ("rules/e5x.toml", include_str!("../../rules/e5x.toml")),
    (
        "rules/clients.toml",
        include_str!("../../rules/clients.toml"),
    ),
    (
        "rules/alternatives.toml",
        include_str!("../../rules/alternatives.toml"),
    ),
];

/// How a flow's port met a path's port entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortMatch {
    /// A port the path lists by number.
    Exact,
    /// A port inside a range the path lists.
    Range,
    /// A port in the dynamic RPC range or a static RPC port of the site, on a path documented
    /// as "Dynamic RPC"; or a UDP port on a path documented as RTP media. Weaker: the port alone
    /// does not prove the service.
    Inferred,
    /// A port the capture itself taught: an endpoint-mapper or DCOM answer handed it out for
    /// an interface, or an SDP offer or answer named it for a call's media.
    Learned,
}

impl PortMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            PortMatch::Exact => "port",
            PortMatch::Range => "range",
            PortMatch::Inferred => "inferred",
            PortMatch::Learned => "learned",
        }
    }
}

/// A path that a flow's transport and server port meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub path: u32,
    pub how: PortMatch,
    /// How many ports the matching entry covers: 1 for a listed port. Smaller is more specific.
    pub width: u32,
}

/// The loaded catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub lists: Vec<List>,
    pub paths: Vec<Path>,
    pub alternatives: Vec<Alternative>,
    index: load::Index,
}

impl Catalog {
    /// The catalog built into the binary.
    pub fn builtin() -> Result<Catalog, RulesError> {
        Self::from_sources(
            BUILTIN
                .iter()
                .map(|(f, t)| ((*f).to_owned(), (*t).to_owned())),
        )
    }

    /// The built-in catalog plus the user's files (`--rules`), which may add paths but not
    /// reuse an id.
    pub fn with_files(files: &[std::path::PathBuf]) -> Result<Catalog, RulesError> {
        let mut sources: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect();
        for f in files {
            sources.push((crate::text::path(f), read_text(f, "rules file")?));
        }
        Self::from_sources(sources)
    }

    /// Parses and validates catalog files given as (name, text).
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Catalog, RulesError> {
        let mut b = load::Builder::default();
        for (name, text) in sources {
            b.add_file(&name, &text)?;
        }
        b.finish()
    }

    pub fn path(&self, i: u32) -> &Path {
        &self.paths[i as usize]
    }

    pub fn list_of(&self, p: &Path) -> &List {
        &self.lists[p.list as usize]
    }

    /// The index of the path with this id.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.paths
            .iter()
            .position(|p| p.id == id)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Every path whose port entries meet `port` on `transport`, most specific
    /// first (a listed port, then ranges from the narrowest, then inferences; within each, paths
    /// with fewer roles at their ends, then catalog order — ranked once, at load): listed ports
    /// and ranges always; `rpc-dynamic` when `rpc` says the port is in the site's dynamic RPC range
    /// or one of its static RPC ports; `rtp-media` for UDP ports 1024-65535 when `media` is set.
    pub fn candidates(
        &self,
        transport: Transport,
        port: u16,
        rpc: bool,
        media: bool,
    ) -> Candidates<'_> {
        self.index.candidates(transport, port, rpc, media)
    }

    /// Index of the encrypted alternative documented for a clear-text port, if any.
    pub fn alternative(&self, transport: Transport, port: u16) -> Option<u32> {
        self.alternatives
            .iter()
            .position(|a| a.transport == transport && a.clear == port)
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// Largest rules or site file read: the built-in catalog of some 200 paths is well under 1 MiB,
/// so 16 MiB leaves room for any organisation's own paths without letting a wrong file (a
/// capture, a disk image) be read whole into memory.
const MAX_TEXT_FILE_BYTES: u64 = 16 << 20;

/// Reads a rules or site file (`kind` says which, for the message) as UTF-8 text, with the error
/// in the form STYLE §5 asks.
pub(crate) fn read_text(f: &FsPath, kind: &str) -> Result<String, RulesError> {
    let err = |problem: String| RulesError {
        file: crate::text::path(f),
        line: 0,
        problem,
    };
    let meta = std::fs::metadata(f).map_err(|e| err(crate::error_line(&e)))?;
    if meta.is_dir() {
        return Err(err("is a directory".to_owned()));
    }
    if meta.len() > MAX_TEXT_FILE_BYTES {
        return Err(err(format!(
            "{} bytes is too large for a {kind} (at most 16 MiB)",
            meta.len()
        )));
    }
    // Read through a limit as well: a file that grows after the check (or a device that
    // reports no size) cannot make the read unbounded.
    let mut bytes = Vec::new();
    std::fs::File::open(f)
        .and_then(|file| {
            use std::io::Read as _;
            file.take(MAX_TEXT_FILE_BYTES + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| err(crate::error_line(&e)))?;
    if bytes.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(err(format!("too large for a {kind} (at most 16 MiB)")));
    }
    String::from_utf8(bytes).map_err(|e| {
        err(format!(
            "not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests;
