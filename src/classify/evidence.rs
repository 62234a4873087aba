//! What the payload adds to a verdict: findings from the inspectors' evidence, judged against
//! the catalog path the flow follows (what its documentation says about encryption and
//! authentication) and the roles of its ends.

use crate::catalog::{Auth, ByDefault, Encryption, PortMatch, Role, Transport};
use crate::flow::{FlowRecord, Kind};
use crate::inspect::{Detail, Evidence, Fact, Protection, Service};

use super::{Classification, Classifier, Code};

/// The service a well-known Exchange port is documented for, as its first bytes show it: the
/// TLS ports start with a ClientHello, the others in clear.
pub fn expected_service(transport: Transport, port: u16) -> Option<Service> {
    match (transport, port) {
        (Transport::Tcp, 25 | 587 | 2525) => Some(Service::Smtp),
        (Transport::Tcp, 110) => Some(Service::Pop3),
        (Transport::Tcp, 143) => Some(Service::Imap),
        (Transport::Tcp, 389 | 3268 | 50389) => Some(Service::Ldap),
        (Transport::Tcp, 80) => Some(Service::Http),
        (Transport::Tcp | Transport::Udp, 88) => Some(Service::Kerberos),
        (Transport::Tcp, 135) => Some(Service::DceRpc),
        (Transport::Tcp, 445) => Some(Service::Smb),
        (Transport::Tcp, 443 | 465 | 636 | 993 | 995 | 3269 | 50636 | 5061 | 5066 | 5068) => {
            Some(Service::Tls)
        }
        (Transport::Tcp | Transport::Udp, 5060 | 5062 | 5065 | 5067) => Some(Service::Sip),
        _ => None,
    }
}

/// Services that on a port no path documents are worth a finding of their own: a directory or
/// mailbox protocol where nobody wrote it down.
fn notable_anywhere(s: Service) -> bool {
    matches!(
        s,
        Service::Ldap | Service::Smtp | Service::Imap | Service::Pop3 | Service::Kerberos
    )
}

impl Classifier<'_> {
    /// Adds the findings that the payload's evidence supports to a flow's classification.
    pub fn judge_evidence(&self, rec: &FlowRecord, ev: &Evidence, c: &mut Classification) {
        let Some(service) = ev.service else {
            return;
        };
        let transport = match rec.kind {
            Kind::Tcp => Transport::Tcp,
            Kind::Udp => Transport::Udp,
            _ => return,
        };
        let path = c
            .path
            .filter(|_| c.how != Some(PortMatch::Inferred) || service == Service::DceRpc)
            .map(|p| self.catalog.path(p));
        let encrypted_by_default = path.is_some_and(|p| p.encrypted_by_default == ByDefault::Yes);
        let protection = ev.protection;

        // The port's protocol against the payload's.
        let expected = expected_service(transport, rec.resp.1);
        let mismatch = match expected {
            Some(e) => e != service,
            None => notable_anywhere(service) && c.path.is_none(),
        };
        // A TLS session that started in clear (STARTTLS) is the expected protocol.
        if mismatch && !(service == Service::Tls && ev.upgrade.is_some()) {
            c.findings.insert(Code::ProtocolMismatch);
            c.mismatch = Some((service.index() << 8) | expected.map_or(0xff, Service::index));
        }
        if ev.facts.has(Fact::TlsWithoutUpgrade) || ev.facts.has(Fact::ClearAnswerToClientHello) {
            c.findings.insert(Code::ProtocolMismatch);
            c.mismatch
                .get_or_insert((service.index() << 8) | expected.map_or(0xff, Service::index));
        }

        // Encryption.
        if protection == Protection::Clear {
            if service == Service::Smtp {
                let tls_documented = path.is_some_and(|p| {
                    p.encryption.contains(Encryption::Tls)
                        || p.encryption.contains(Encryption::Starttls)
                });
                if tls_documented && encrypted_by_default {
                    c.findings.insert(Code::SmtpWithoutTls);
                }
            } else if encrypted_by_default && service != Service::DceRpc {
                c.findings.insert(Code::UnencryptedPath);
                c.service_extra = Some(service.index());
            }
        }
        // The endpoint mapper answers unauthenticated binds by design: asking it where an
        // interface listens is neither an unencrypted call nor anonymous access.
        let epm_only = matches!(&ev.detail, Detail::DceRpc(d)
            if !d.contexts.is_empty() && d.contexts.iter().all(|c| c.endpoint == Some("epmapper")));
        if ev.facts.has(Fact::RpcWithoutPrivacy)
            && !epm_only
            && path.is_some_and(|p| p.encryption.contains(Encryption::Rpc))
        {
            c.findings.insert(Code::RpcWithoutPrivacy);
        }
        if protection.is_encrypted() && c.findings.contains(Code::ClearPort) {
            // The port is the clear one, but the session upgraded or sealed itself.
            c.findings.remove(Code::ClearPort);
            c.alternative = None;
        }
        if ev.facts.has(Fact::StarttlsOfferedNotUsed) {
            c.findings.insert(Code::StarttlsNotUsed);
        }
        if ev.facts.has(Fact::StarttlsMasked) {
            c.findings.insert(Code::StarttlsStripped);
        }
        if ev.facts.has(Fact::StarttlsRefused) {
            c.findings.insert(Code::StarttlsRefused);
        }
        if ev.facts.has(Fact::TlsOldVersion) {
            c.findings.insert(Code::TlsOldVersion);
        }
        if ev.facts.has(Fact::TlsWeakCipher) {
            c.findings.insert(Code::TlsWeakCipher);
        }
        if ev.facts.has(Fact::TlsHandshakeFailed) {
            c.findings.insert(Code::TlsHandshakeFailed);
        }
        // Certificates matter where the path faces the internet: the client is on the internet
        // (site file), or the documented path starts there.
        let faces_internet = match c.roles {
            Some((src, _)) => src.contains(Role::Internet),
            None => path.is_some_and(|p| p.from.contains(Role::Internet)),
        };
        if faces_internet && ev.facts.has(Fact::CertSelfSigned) {
            c.findings.insert(Code::CertSelfSigned);
        }
        if ev.facts.has(Fact::CertExpired) {
            c.findings.insert(Code::CertExpired);
        }

        // Authentication.
        if ev.auth.iter().any(|a| a.clear_credentials) && !protection.is_encrypted() {
            c.findings.insert(Code::ClearCredentials);
        }
        if ev.facts.has(Fact::NtlmV1) {
            c.findings.insert(Code::NtlmV1);
        }
        if ev.facts.has(Fact::KerberosWeakEtype) {
            c.findings.insert(Code::KerberosWeakEtype);
        }
        let auth_documented = path.is_some_and(|p| {
            !p.auth_default.is_empty() && !p.auth_default.contains(Auth::Anonymous)
        });
        if ev.facts.has(Fact::AnonymousAccess) && auth_documented && !epm_only {
            c.findings.insert(Code::AnonymousAccess);
        }
    }
}
