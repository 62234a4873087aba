//! The typed catalog: roles, generations, ports, encryption and authentication, each a closed
//! set parsed from the words the rules files use.

use std::fmt;

/// Declares a closed vocabulary: an enum, its words in files and outputs, and a bit set of it.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident / $set:ident { $($(#[$vm:meta])* $v:ident = $word:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $v,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $word,)+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($word => Some($name::$v),)+ _ => None }
            }

            /// The known words, for error messages.
            pub fn known() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A set of values, as bits.
        #[allow(dead_code, reason = "every vocabulary gets the same set type")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub struct $set(u32);

        #[allow(dead_code, reason = "every vocabulary gets the same set type")]
        impl $set {
            pub const EMPTY: $set = $set(0);

            pub fn with(self, v: $name) -> $set {
                $set(self.0 | (1 << v as u32))
            }

            pub fn without(self, v: $name) -> $set {
                $set(self.0 & !(1 << v as u32))
            }

            pub fn contains(self, v: $name) -> bool {
                self.0 & (1 << v as u32) != 0
            }

            pub fn is_empty(self) -> bool {
                self.0 == 0
            }

            pub fn intersects(self, o: $set) -> bool {
                self.0 & o.0 != 0
            }

            pub fn union(self, o: $set) -> $set {
                $set(self.0 | o.0)
            }

            pub fn len(self) -> u32 {
                self.0.count_ones()
            }

            /// The members in declaration order, visiting set bits only.
            pub fn iter(self) -> impl Iterator<Item = $name> {
                let mut bits = self.0;
                std::iter::from_fn(move || {
                    while bits != 0 {
                        let i = bits.trailing_zeros();
                        bits &= bits - 1;
                        if let Some(v) = $name::ALL.get(i as usize) {
                            return Some(*v);
                        }
                    }
                    None
                })
            }
        }

        impl FromIterator<$name> for $set {
            fn from_iter<I: IntoIterator<Item = $name>>(it: I) -> $set {
                it.into_iter().fold($set::EMPTY, $set::with)
            }
        }
    };
}

vocabulary! {
    /// What a host is to Exchange. The catalog uses all of them; a site file assigns all but
    /// `any` and `loopback` (loopback addresses have that role by themselves).
    Role / RoleSet {
        Hub = "hub",
        Edge = "edge",
        Mailbox = "mailbox",
        Cas = "cas",
        Um = "um",
        Dc = "dc",
        Dns = "dns",
        Adrms = "adrms",
        Ippbx = "ippbx",
        Ocs = "ocs",
        Client = "client",
        Internet = "internet",
        /// An Exchange server of any role (older generations, or a role the source leaves out).
        Exchange = "exchange",
        /// Any host at all.
        Any = "any",
        Loopback = "loopback",
    }
}

impl Role {
    /// What a person reads in a finding.
    pub fn title(self) -> &'static str {
        match self {
            Role::Hub => "Hub Transport",
            Role::Edge => "Edge Transport",
            Role::Mailbox => "Mailbox",
            Role::Cas => "Client Access",
            Role::Um => "Unified Messaging",
            Role::Dc => "domain controller",
            Role::Dns => "DNS server",
            Role::Adrms => "AD RMS",
            Role::Ippbx => "IP PBX",
            Role::Ocs => "OCS/Lync",
            Role::Client => "client",
            Role::Internet => "internet",
            Role::Exchange => "Exchange server",
            Role::Any => "any host",
            Role::Loopback => "loopback",
        }
    }
}

impl RoleSet {
    /// The Exchange server roles, which the catalog's `exchange` stands for.
    pub fn exchange_servers() -> RoleSet {
        [
            Role::Hub,
            Role::Edge,
            Role::Mailbox,
            Role::Cas,
            Role::Um,
            Role::Exchange,
        ]
        .into_iter()
        .collect()
    }

    /// A host's roles as a path's `from`/`to` sees them: an Exchange server of any role is also
    /// an `exchange`.
    pub fn with_implied(self) -> RoleSet {
        if self.intersects(Self::exchange_servers()) {
            self.with(Role::Exchange)
        } else {
            self
        }
    }

    /// Whether a path end with these roles admits a host with `host` roles (already
    /// [`with_implied`](Self::with_implied)).
    pub fn admits(self, host: RoleSet) -> bool {
        self.contains(Role::Any) || self.intersects(host)
    }

    /// The roles as outputs show them: the `exchange` role that a specific Exchange server role
    /// implies is left out.
    pub fn shown(self) -> RoleSet {
        if self.intersects(Self::exchange_servers().without(Role::Exchange)) {
            self.without(Role::Exchange)
        } else {
            self
        }
    }

    /// How broad a path end is, for ranking matches: `any` counts as every role.
    pub fn width(self) -> u32 {
        if self.contains(Role::Any) {
            16
        } else {
            self.len()
        }
    }

    /// "Hub Transport/Mailbox", for messages.
    pub fn titles(self) -> String {
        let v: Vec<&str> = self.iter().map(Role::title).collect();
        if v.is_empty() {
            "unknown".to_owned()
        } else {
            v.join("/")
        }
    }
}

vocabulary! {
    /// Exchange generations a source list documents, and a site runs.
    Generation / GenerationSet {
        V5x = "5.x",
        V2000 = "2000",
        V2003 = "2003",
        V2010 = "2010",
        V2013 = "2013",
        V2016 = "2016",
        V2019 = "2019",
        /// A list that applies whatever the generation (client settings).
        Any = "any",
    }
}

impl Generation {
    /// Generations that Microsoft no longer documents beside the current ones.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            Generation::V5x | Generation::V2000 | Generation::V2003
        )
    }
}

vocabulary! {
    /// How a path can be encrypted.
    Encryption / EncryptionSet {
        Tls = "tls",
        Starttls = "starttls",
        Mtls = "mtls",
        Rpc = "rpc",
        Kerberos = "kerberos",
        Ipsec = "ipsec",
        Srtp = "srtp",
    }
}

vocabulary! {
    /// How a path authenticates.
    Auth / AuthSet {
        Anonymous = "anonymous",
        Basic = "basic",
        Digest = "digest",
        Ntlm = "ntlm",
        Ntlmv2 = "ntlmv2",
        Kerberos = "kerberos",
        Negotiate = "negotiate",
        Forms = "forms",
        Certificate = "certificate",
        Mtls = "mtls",
        DirectTrust = "direct-trust",
        IpAddress = "ip-address",
        Password = "password",
        Authenticated = "authenticated",
    }
}

vocabulary! {
    /// Whether a path is encrypted when nobody changed the defaults.
    ByDefault / ByDefaultSet {
        Yes = "yes",
        No = "no",
        Conditional = "conditional",
        Unknown = "unknown",
    }
}

vocabulary! {
    /// The transport of a port entry.
    Transport / TransportSet {
        Tcp = "tcp",
        Udp = "udp",
    }
}

/// The port part of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortSpec {
    One(u16),
    /// Inclusive, low < high.
    Range(u16, u16),
    /// An endpoint the RPC endpoint mapper hands out ("Dynamic RPC").
    RpcDynamic,
    /// UM media ports negotiated in SIP/SDP (documented range 1024-65535/UDP).
    RtpMedia,
    /// Any port.
    Any,
}

/// One entry of a path's `ports`: a port spec on a transport (`None`: any transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortEntry {
    pub spec: PortSpec,
    pub transport: Option<Transport>,
}

impl fmt::Display for PortEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.spec {
            PortSpec::One(p) => write!(f, "{p}")?,
            PortSpec::Range(a, b) => write!(f, "{a}-{b}")?,
            PortSpec::RpcDynamic => f.write_str("rpc-dynamic")?,
            PortSpec::RtpMedia => f.write_str("rtp-media")?,
            PortSpec::Any => f.write_str("any")?,
        }
        match self.transport {
            Some(t) => write!(f, "/{t}"),
            None => Ok(()),
        }
    }
}

impl PortEntry {
    pub fn covers(&self, transport: Transport, port: u16) -> bool {
        if self.transport.is_some_and(|t| t != transport) {
            return false;
        }
        match self.spec {
            PortSpec::One(p) => p == port,
            PortSpec::Range(a, b) => (a..=b).contains(&port),
            PortSpec::Any => true,
            PortSpec::RpcDynamic | PortSpec::RtpMedia => false,
        }
    }
}

/// One source list (one rules file).
#[derive(Debug, Clone)]
pub struct List {
    pub id: String,
    pub title: String,
    pub generations: GenerationSet,
    pub source: String,
    /// The file it was read from (`rules/…` for the built-in lists).
    pub file: String,
    pub builtin: bool,
}

/// A documented data path.
#[derive(Debug, Clone)]
pub struct Path {
    pub id: String,
    pub name: String,
    /// Index into [`Catalog::lists`](super::Catalog).
    pub list: u32,
    pub from: RoleSet,
    pub to: RoleSet,
    pub ports: Vec<PortEntry>,
    pub tls_ports: Vec<PortEntry>,
    pub encryption: EncryptionSet,
    pub encryption_text: String,
    pub encrypted_by_default: ByDefault,
    pub condition: Option<String>,
    pub auth_default: AuthSet,
    pub auth_supported: AuthSet,
    pub auth_text: Option<String>,
    pub notes: Option<String>,
    /// Seed file and lines: `000:49-57; 001:21-23`.
    pub source: String,
    pub rule_name: Option<String>,
    pub program: Option<String>,
    pub related: Vec<String>,
    pub duplicate_of: Option<String>,
    /// The RPC interfaces (by the DCE/RPC inspector's names) that the path's dynamic RPC port
    /// serves, where known: a flow to an endpoint learned for one of them is this path.
    pub rpc_interfaces: Vec<&'static str>,
    /// Line of the `[[path]]` header in its file.
    pub line: usize,
}

impl Path {
    /// Whether `port` on `transport` is one of the path's ports encrypted from the first byte.
    pub fn is_tls_port(&self, transport: Transport, port: u16) -> bool {
        self.tls_ports.iter().any(|e| e.covers(transport, port))
    }

    /// The ports as written in the file: `25/tcp, 587/tcp`.
    pub fn ports_text(&self) -> String {
        if self.ports.is_empty() {
            return "not stated".to_owned();
        }
        self.ports
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An encrypted port documented for the same service as a clear-text one.
#[derive(Debug, Clone)]
pub struct Alternative {
    pub service: String,
    pub transport: Transport,
    pub clear: u16,
    pub secure: u16,
    pub source: String,
    pub notes: Option<String>,
}
