//! The DCE/RPC and SMB inspectors on the real captures of `../shared/pcaps/`, checked against the
//! facts its README states (tshark and Zeek baselines). Skipped, with a note, where `../shared`
//! is absent.

use exaudit::flow::FlowRecord;
use exaudit::inspect::dcerpc::{AuthLevel, AuthType, ContextResult, DceRpc, Uuid};
use exaudit::inspect::smb::{Dialect, ShareType, Smb};
use exaudit::inspect::{Detail, Evidence, Fact, Mechanism, Outcome, Protection, Service};

use super::common::{find, flows};

const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
const SVCCTL: Uuid = Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003);
const DRSUAPI: Uuid = Uuid::from_u128(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2);
const IREMUNKNOWN2: Uuid = Uuid::from_u128(0x00000143_0000_0000_c000_000000000046);
const SPOOLSS: Uuid = Uuid::from_u128(0x12345678_1234_abcd_ef00_0123456789ab);
const ISYSTEMACTIVATOR: Uuid = Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046);

/// The evidence of the flow `orig` → `resp` (as `addr:port`).
fn evidence(fs: &[FlowRecord], orig: &str, resp: &str) -> Evidence {
    let rec = find(fs, orig, resp);
    exaudit::inspect::inspect(&exaudit::inspect::input(rec), rec.start)
}

fn rpc(ev: &Evidence) -> &DceRpc {
    assert_eq!(ev.service, Some(Service::DceRpc));
    match &ev.detail {
        Detail::DceRpc(d) => d,
        other => panic!("no DCE/RPC detail: {other:?}"),
    }
}

fn smb(ev: &Evidence) -> &Smb {
    assert_eq!(ev.service, Some(Service::Smb));
    match &ev.detail {
        Detail::Smb(d) => d,
        other => panic!("no SMB detail: {other:?}"),
    }
}

fn operations(d: &DceRpc) -> Vec<(u16, Option<&'static str>)> {
    d.operations
        .iter()
        .map(|o| (o.opnum, o.operation))
        .collect()
}

#[test]
fn sv_epm_then_svcctl_at_packet_privacy_then_smb() {
    let Some(fs) = flows("sv-dcerpc-epm-svcctl-privacy.pcap") else {
        return;
    };
    // Bind EPMv4 (3 contexts, no auth), Map request opnum 3.
    let ev = evidence(&fs, "172.16.66.1:50058", "172.16.66.36:135");
    let d = rpc(&ev);
    assert_eq!(d.contexts.len(), 3);
    assert!(
        d.contexts
            .iter()
            .all(|c| c.uuid == EPM && c.version == (3, 0))
    );
    assert!(d.contexts.iter().all(|c| c.endpoint == Some("epmapper")));
    assert!(
        d.contexts
            .iter()
            .any(|c| c.result == ContextResult::Accepted)
    );
    assert_eq!(d.auth_type, None);
    assert_eq!(operations(d), [(3, Some("ept_map"))]);
    assert_eq!(ev.protection, Protection::RpcClear);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
    assert!(ev.facts.has(Fact::AnonymousAccess));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);

    // Bind SVCCTL, auth_type 10 (NTLMSSP), auth_level 6; AUTH3 user 3B\Backdoor;
    // OpenSCManagerA, CreateServiceA, StartServiceA, DeleteService, CloseServiceHandle.
    let ev = evidence(&fs, "172.16.66.1:50059", "172.16.66.36:49683");
    let d = rpc(&ev);
    assert!(d.contexts.iter().any(|c| c.uuid == SVCCTL
        && c.endpoint == Some("svcctl")
        && c.result == ContextResult::Accepted));
    assert_eq!(d.auth_type, Some(AuthType::Ntlm));
    assert_eq!(d.auth_level, Some(AuthLevel::Privacy));
    assert_eq!(ev.protection, Protection::RpcPrivacy);
    assert!(!ev.facts.has(Fact::RpcWithoutPrivacy));
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Ntlm);
    assert_eq!(a.user.as_deref(), Some("Backdoor"));
    assert_eq!(a.domain.as_deref(), Some("3B"));
    assert_eq!(a.outcome, Outcome::Success);
    let ops = operations(d);
    for op in [
        (27, Some("ROpenSCManagerA")),
        (24, Some("RCreateServiceA")),
        (31, Some("RStartServiceA")),
        (2, Some("RDeleteService")),
        (0, Some("RCloseServiceHandle")),
    ] {
        assert!(ops.contains(&op), "{op:?} not in {ops:?}");
    }

    // SMB on 445 with NTLMSSP.
    let ev = evidence(&fs, "172.16.66.1:50060", "172.16.66.36:445");
    smb(&ev);
    assert!(!ev.auth.is_empty());
    assert!(ev.auth.iter().all(|a| a.mechanism == Mechanism::Ntlm));
}

#[test]
fn zeek_drsuapi_spnego_at_packet_privacy() {
    let Some(fs) = flows("zeek-dcerpc-drsuapi-privacy.pcap") else {
        return;
    };
    let ev = evidence(&fs, "192.168.122.145:55614", "192.168.122.3:1024");
    let d = rpc(&ev);
    assert!(
        d.contexts
            .iter()
            .any(|c| c.uuid == DRSUAPI && c.endpoint == Some("drsuapi"))
    );
    assert_eq!(d.auth_type, Some(AuthType::Spnego));
    assert_eq!(d.auth_level, Some(AuthLevel::Privacy));
    assert!(d.alter_contexts >= 1);
    assert_eq!(
        operations(d),
        [
            (0, Some("DRSBind")),
            (12, Some("DRSCrackNames")),
            (1, Some("DRSUnbind"))
        ]
    );
    assert_eq!(ev.protection, Protection::RpcPrivacy);
    assert!(!ev.facts.has(Fact::RpcWithoutPrivacy));
}

#[test]
fn zeek_dcom_iremunknown2_at_packet_integrity() {
    let Some(fs) = flows("zeek-dcerpc-dcom-ntlm.pcapng") else {
        return;
    };
    let ev = evidence(&fs, "10.10.10.120:54784", "10.10.10.121:58772");
    let d = rpc(&ev);
    assert_eq!(d.contexts.len(), 3);
    assert!(
        d.contexts
            .iter()
            .all(|c| c.uuid == IREMUNKNOWN2 && c.endpoint == Some("IRemUnknown2"))
    );
    assert_eq!(d.alter_contexts, 2);
    assert_eq!(d.auth_type, Some(AuthType::Spnego));
    assert_eq!(d.auth_level, Some(AuthLevel::Integrity));
    assert_eq!(ev.protection, Protection::RpcIntegrity);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
    assert_eq!(ev.auth[0].mechanism, Mechanism::Ntlm);
}

#[test]
fn zeek_three_binds_without_auth_on_135() {
    let Some(fs) = flows("zeek-dcerpc-bind-noauth-135.pcap") else {
        return;
    };
    // Zeek reads the bind_ack secondary addresses as ABC, ABC, X (no NUL on the wire).
    for (client, addr) in [
        ("10.0.0.2:49152", "ABC"),
        ("10.0.0.3:49153", "ABC"),
        ("10.0.0.4:49154", "X"),
    ] {
        let ev = evidence(&fs, client, "10.0.0.1:135");
        let d = rpc(&ev);
        assert_eq!(d.sec_addr.as_deref(), Some(addr), "{client}");
        assert_eq!(d.contexts.len(), 1, "{client}");
        assert_eq!(d.contexts[0].uuid, SPOOLSS);
        assert_eq!(d.contexts[0].result, ContextResult::Accepted);
        assert_eq!(d.auth_type, None);
        assert_eq!(ev.protection, Protection::RpcClear);
        assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
        assert!(ev.facts.has(Fact::AnonymousAccess));
        assert_eq!(ev.auth[0].mechanism, Mechanism::Anonymous);
    }
}

#[test]
fn zeek_isystemactivator_kerberos_at_connect_level() {
    let Some(fs) = flows("zeek-dcerpc-krb-135.pcapng") else {
        return;
    };
    let ev = evidence(&fs, "10.10.10.129:64238", "10.10.10.100:135");
    let d = rpc(&ev);
    assert!(d.contexts.iter().any(|c| c.uuid == ISYSTEMACTIVATOR
        && c.endpoint == Some("ISystemActivator")
        && c.result == ContextResult::Accepted));
    assert_eq!(d.auth_type, Some(AuthType::Spnego));
    assert_eq!(d.auth_level, Some(AuthLevel::Connect));
    assert_eq!(operations(d), [(4, Some("RemoteCreateInstance"))]);
    assert_eq!(ev.auth[0].mechanism, Mechanism::Kerberos);
    assert_eq!(ev.protection, Protection::RpcClear);
    assert!(ev.facts.has(Fact::RpcWithoutPrivacy));
}

#[test]
fn zeek_smb3_ntlm_then_encryption() {
    let Some(fs) = flows("zeek-smb3-ntlm.pcap") else {
        return;
    };
    let ev = evidence(&fs, "10.160.64.139:38166", "10.160.65.202:445");
    let d = smb(&ev);
    assert_eq!(d.dialects, [Dialect(0x0300)]);
    assert_eq!(d.dialect, Some(Dialect(0x0300)));
    let a = &ev.auth[0];
    assert_eq!(a.mechanism, Mechanism::Ntlm);
    assert_eq!(a.user.as_deref(), Some("administrator"));
    assert_eq!(a.domain.as_deref(), Some("SUSE"));
    assert_eq!(a.outcome, Outcome::Success);
    let trees: Vec<_> = d
        .trees
        .iter()
        .map(|t| (t.path.as_deref(), t.share_type))
        .collect();
    assert!(trees.contains(&(Some(r"\\WS2016\encrypted"), Some(ShareType::Disk))));
    assert!(trees.contains(&(Some(r"\\10.160.65.202\IPC$"), Some(ShareType::Pipe))));
    // 44 of the 54 frames are transform headers; the 4 KiB prefixes hold the first of them.
    assert!(d.encrypted > 0);
    assert_eq!(ev.protection, Protection::SmbEncrypted);
}
