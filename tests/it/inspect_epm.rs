//! The endpoint-mapper and DCOM reader on the real captures of `../shared/pcaps/`, checked
//! against the facts its README states. Skipped, with a note, where `../shared` is absent.

use std::net::{IpAddr, Ipv4Addr};

use exaudit::flow::FlowRecord;
use exaudit::inspect::dcerpc::Uuid;
use exaudit::inspect::epm::{self, Learned, Op, Protseq, Transport};

use super::common::{find, flows};

const SVCCTL: Uuid = Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003);

fn learn(rec: &FlowRecord) -> Option<Learned> {
    epm::learn(&exaudit::inspect::input(rec))
}

#[test]
fn sv_ept_map_teaches_svcctl_at_49683() {
    let Some(fs) = flows("sv-dcerpc-epm-svcctl-privacy.pcap") else {
        return;
    };
    // Map request (opnum 3) for SVCCTL; Map response: 1 tower, ncacn_ip_tcp port 49683,
    // IP 172.16.66.36.
    let l = learn(find(&fs, "172.16.66.1:50058", "172.16.66.36:135")).unwrap();
    assert_eq!(l.epm.maps, 1);
    assert_eq!(l.epm.malformed, 0);
    let asked = &l.epm.asked[0];
    assert_eq!(asked.op, Op::EptMap);
    assert_eq!(asked.interface.map(|i| i.uuid), Some(SVCCTL));
    assert!(asked.answered);
    assert_eq!(asked.towers, 1);
    assert_eq!(l.epm.towers.len(), 1);
    let t = &l.epm.towers[0];
    assert_eq!(t.protseq, Protseq::Tcp);
    assert_eq!(t.port, Some(49683));
    assert_eq!(t.ip, Some(Ipv4Addr::new(172, 16, 66, 36)));
    assert_eq!(l.endpoints.len(), 1);
    let e = &l.endpoints[0];
    assert_eq!(
        e.interface.map(|i| (i.uuid, i.name())),
        Some((SVCCTL, Some("svcctl")))
    );
    assert_eq!(e.transport, Transport::Tcp);
    assert_eq!(e.port, 49683);
    assert_eq!(e.ip, Some(IpAddr::V4(Ipv4Addr::new(172, 16, 66, 36))));
    assert!(!e.dcom);
    // The answer is the server's second PDU, after the 108-byte bind_ack.
    assert_eq!((e.at.pdu, e.at.offset), (1, 108));
    // Not in the README, seen in the bytes: the client bound with NDR64 and the stubs are NDR64.
    assert!(l.epm.ndr64);

    // The learned port's own flow, the SMB flow: nothing to learn there.
    assert!(learn(find(&fs, "172.16.66.1:50059", "172.16.66.36:49683")).is_none());
    assert!(learn(find(&fs, "172.16.66.1:50060", "172.16.66.36:445")).is_none());
}

#[test]
fn zeek_remote_create_instance_teaches_dcom_bindings() {
    let Some(fs) = flows("zeek-dcerpc-krb-135.pcapng") else {
        return;
    };
    // README: Bind ISystemActivator on 135, request opnum 4 (RemoteCreateInstance). Not in the
    // README, seen in the answer: the OXID bindings BLACKCLOVER-DC[49718] and
    // 10.10.10.100[49718] (ncacn_ip_tcp).
    let l = learn(find(&fs, "10.10.10.129:64238", "10.10.10.100:135")).unwrap();
    assert_eq!(l.epm.dcom, 1);
    assert_eq!(l.epm.maps, 0);
    assert_eq!(l.epm.malformed, 0);
    assert!(
        l.epm
            .bindings
            .iter()
            .all(|b| b.op == Op::RemoteCreateInstance
                && b.protseq == Protseq::Tcp
                && b.port == Some(49718))
    );
    assert!(
        l.endpoints
            .iter()
            .all(|e| e.dcom && e.interface.is_none() && e.port == 49718)
    );
    assert!(
        l.endpoints
            .iter()
            .any(|e| e.ip == Some(IpAddr::V4(Ipv4Addr::new(10, 10, 10, 100))))
    );
    assert!(
        l.endpoints
            .iter()
            .any(|e| e.ip.is_none() && e.host.as_deref() == Some("BLACKCLOVER-DC"))
    );
}

#[test]
fn zeek_captures_without_epm_or_dcom_answers_teach_nothing() {
    // Three SPOOLSS binds on 135 (no call), IRemUnknown2 on a dynamic port (the object's own
    // port, reached without a resolver call in the file), drsuapi on 1024 (no EPM in trace).
    for (name, n) in [
        ("zeek-dcerpc-bind-noauth-135.pcap", 3),
        ("zeek-dcerpc-dcom-ntlm.pcapng", 2),
        ("zeek-dcerpc-drsuapi-privacy.pcap", 1),
    ] {
        let Some(fs) = flows(name) else {
            return;
        };
        assert_eq!(fs.len(), n, "{name}");
        for f in &fs {
            assert!(learn(f).is_none(), "{name}: {f:?}");
        }
    }
}
