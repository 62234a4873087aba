//! Counters for everything the pipeline saw, dropped or could not read.
//!
//! Malformed input never prints and never stops a run: it increments a counter here, and the
//! summary reports it. Counters are plain `u64`s passed as `&mut`, never shared or locked.

use serde::Serialize;

/// Declares a counter struct whose fields can also be listed by name, in declaration order.
macro_rules! counters {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[doc = $doc:literal])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
        pub struct $name { $($(#[doc = $doc])* pub $field: u64,)* }

        impl $name {
            /// Every counter with its name, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($field), self.$field)),*].into_iter()
            }

            /// Adds another set of counters to this one (merging workers or files).
            pub fn add(&mut self, other: &Self) {
                $(self.$field = self.$field.saturating_add(other.$field);)*
            }

            /// The sum of all counters.
            pub fn total(&self) -> u64 {
                0u64 $(.saturating_add(self.$field))*
            }
        }
    };
}
pub(crate) use counters;

counters! {
    /// What the capture sources delivered.
    pub struct CaptureStats {
        /// Packets read from all inputs.
        packets,
        /// Captured bytes of those packets (what the file holds, not what was on the wire).
        captured_bytes,
        /// Bytes the packets had on the wire (original length).
        wire_bytes,
        /// Packets whose captured length is below their original length (snaplen cut).
        packets_cut_by_snaplen,
        /// Records whose captured length exceeds the file's snaplen.
        records_over_snaplen,
        /// pcapng blocks skipped because exaudit has no use for them (statistics, names …).
        blocks_skipped,
        /// pcapng blocks that carry no packet and describe no interface (statistics, name
        /// resolution, decryption secrets, custom …) whose contents are malformed though their
        /// length fields are right: skipped, and the rest of the file read.
        blocks_malformed,
        /// Packets that arrived with an earlier timestamp than the previous packet of their file.
        timestamps_backwards,
    }
}

counters! {
    /// Why packets, or parts of them, could not be decoded. None of these stops a run.
    pub struct DecodeStats {
        /// Packets on a link type exaudit does not decode.
        unknown_link_type,
        /// Link-layer header cut short (Ethernet, SLL, SLL2, NULL, NFLOG, PPPoE).
        truncated_link,
        /// Link-layer payload that is not IP (ARP, LLDP, STP …): seen, not a problem.
        non_ip,
        /// VLAN stacks deeper than the decoder follows.
        vlan_too_deep,
        /// NFLOG packets without a payload attribute, or with a malformed attribute.
        bad_nflog,
        /// PPPoE frames that are not a session carrying IPv4 or IPv6.
        pppoe_not_ip,
        /// IP header cut short or with an impossible length field.
        bad_ip_header,
        /// IP packets whose version nibble disagrees with the link layer.
        bad_ip_version,
        /// IP payload shorter than the IP length field says (snaplen or a lying length).
        ip_payload_cut,
        /// TCP/UDP/ICMP header cut short or malformed.
        bad_transport_header,
        /// IPv6 extension headers that could not be walked.
        bad_ipv6_extension,
        /// GRE headers that are malformed or of an unsupported version.
        bad_gre,
        /// GRE payload types exaudit does not follow (WCCP, Aruba 802.11 …).
        gre_unsupported_protocol,
        /// ERSPAN headers that are malformed.
        bad_erspan,
        /// Tunnels nested deeper than the decoder follows.
        tunnel_too_deep,
        /// IP protocols other than TCP, UDP and ICMP (their flows are kept with no ports).
        other_ip_protocol,
        /// ICMP errors whose quoted header could not be read.
        icmp_quote_unreadable,
        /// TCP segments whose checksum is wrong (only when checksums are verified).
        bad_tcp_checksum,
        /// UDP datagrams whose checksum is wrong (only when checksums are verified).
        bad_udp_checksum,
        /// IPv4 headers whose checksum is wrong (only when checksums are verified).
        bad_ipv4_checksum,
    }
}

counters! {
    /// IP fragment reassembly.
    pub struct FragmentStats {
        /// Fragments received.
        fragments,
        /// Datagrams rebuilt from fragments.
        reassembled,
        /// Fragments that overlapped bytes already received (first copy kept).
        overlaps,
        /// Datagrams dropped unfinished because their fragments stopped arriving.
        timed_out,
        /// Datagrams dropped because the reassembly table was full.
        table_full,
        /// Fragments that would build a datagram over 65,535 bytes, or are malformed.
        invalid,
    }
}

counters! {
    /// The flow table.
    pub struct FlowStats {
        /// Flows created.
        flows,
        /// Flows written because they ended (FIN or RST plus linger).
        ended,
        /// Flows written because they were idle for their protocol's timeout.
        timed_out,
        /// Flows written early because the table was full (`--max-flows`).
        evicted,
        /// Flows still open when the input ended.
        open_at_end,
        /// Flows whose payload prefix stopped short because the payload memory budget was spent.
        payload_buffer_cap_hit,
        /// ICMP errors tied back to a flow in the table.
        icmp_errors_matched,
        /// ICMP errors whose quoted flow is not in the table.
        icmp_errors_unmatched,
    }
}

/// All counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub capture: CaptureStats,
    pub decode: DecodeStats,
    pub fragments: FragmentStats,
    pub flow: FlowStats,
    pub expect: crate::expect::ExpectStats,
    pub sip_calls: crate::expect::sip::CallStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_list_add_and_total() {
        let mut a = DecodeStats {
            bad_gre: 2,
            ..DecodeStats::default()
        };
        let b = DecodeStats {
            bad_gre: 1,
            non_ip: 4,
            ..DecodeStats::default()
        };
        a.add(&b);
        assert_eq!(a.bad_gre, 3);
        assert_eq!(a.total(), 7);
        assert!(a.iter().any(|(k, v)| k == "non_ip" && v == 4));
    }
}
