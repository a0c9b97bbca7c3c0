//! Pure DNS query messages (RFC 1035 §4.1) built and read with
//! `hickory-proto`, and the conversion between drlab's [`DnsRecord`] and
//! hickory's records. No I/O.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use drlab_drivers::types::{DnsRecord, RecordType};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, MX, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType as HRecordType};

use super::DnsError;

/// EDNS(0) UDP payload size advertised in queries (RFC 6891 §6.2.5): 1232
/// bytes, the size the DNS Flag Day 2020 settled on to avoid IP
/// fragmentation; larger answers come back truncated and are re-asked over
/// TCP.
pub const EDNS_PAYLOAD_BYTES: u16 = 1232;

/// A name as drlab stores it: lower case, no trailing dot (see
/// [`DnsRecord::name`]).
pub fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The reverse-lookup name of an IPv4 address (RFC 1035 §3.5), e.g.
/// `10.0.77.10.in-addr.arpa` for 10.77.0.10.
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
}

/// A fully qualified hickory name from a drlab name.
pub fn fqdn(name: &str) -> Result<Name, DnsError> {
    let n = normalise(name);
    if n.is_empty() {
        return Err(DnsError::InvalidName {
            name: name.to_string(),
            detail: "empty".into(),
        });
    }
    let mut parsed = Name::from_ascii(&n).map_err(|e| DnsError::InvalidName {
        name: name.to_string(),
        detail: e.to_string(),
    })?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// hickory's record type for drlab's.
pub fn hickory_type(t: RecordType) -> HRecordType {
    match t {
        RecordType::A => HRecordType::A,
        RecordType::PTR => HRecordType::PTR,
        RecordType::MX => HRecordType::MX,
        RecordType::CNAME => HRecordType::CNAME,
    }
}

/// drlab's record type for hickory's, when drlab manages that type.
pub fn drlab_type(t: HRecordType) -> Option<RecordType> {
    match t {
        HRecordType::A => Some(RecordType::A),
        HRecordType::PTR => Some(RecordType::PTR),
        HRecordType::MX => Some(RecordType::MX),
        HRecordType::CNAME => Some(RecordType::CNAME),
        _ => None,
    }
}

/// The RDATA of a drlab record: an address for A, a name for PTR and
/// CNAME, `preference host` for MX (RFC 1035 §3.3).
pub fn rdata(r: &DnsRecord) -> Result<RData, DnsError> {
    let bad = |detail: String| DnsError::InvalidData {
        rtype: r.rtype.as_str(),
        data: r.data.to_string(),
        detail,
    };
    Ok(match r.rtype {
        RecordType::A => RData::A(A(
            Ipv4Addr::from_str(r.data.trim()).map_err(|e| bad(e.to_string()))?
        )),
        RecordType::PTR => RData::PTR(PTR(fqdn(&r.data)?)),
        RecordType::CNAME => RData::CNAME(CNAME(fqdn(&r.data)?)),
        RecordType::MX => {
            let (pref, host) = r
                .data
                .trim()
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("expected `preference host`".into()))?;
            let pref = pref
                .parse::<u16>()
                .map_err(|e| bad(format!("preference: {e}")))?;
            RData::MX(MX::new(pref, fqdn(host.trim())?))
        }
    })
}

/// The hickory record (class IN) of a drlab record.
pub fn to_record(r: &DnsRecord) -> Result<Record, DnsError> {
    Ok(Record::from_rdata(fqdn(&r.name)?, r.ttl_s, rdata(r)?))
}

/// The drlab record of a hickory record, when its type is one drlab
/// manages (A, PTR, MX, CNAME); names normalised.
pub fn from_record(r: &Record) -> Option<DnsRecord> {
    let rtype = drlab_type(r.record_type())?;
    let data = match &r.data {
        RData::A(a) => a.0.to_string(),
        RData::PTR(p) => normalise(&p.0.to_ascii()),
        RData::CNAME(c) => normalise(&c.0.to_ascii()),
        RData::MX(mx) => format!("{} {}", mx.preference, normalise(&mx.exchange.to_ascii())),
        _ => return None,
    };
    Some(DnsRecord {
        name: Arc::from(normalise(&r.name.to_ascii())),
        rtype,
        data: Arc::from(data),
        ttl_s: r.ttl,
    })
}

/// A standard query (RFC 1035 §4.1.1: QR=0, OPCODE=QUERY) for `name`
/// and type `qtype`, class IN, with an EDNS(0) OPT record (RFC 6891).
/// `recursion_desired` is what a stub resolver sets (RFC 1035 §4.1.1 RD).
pub fn build_query(
    id: u16,
    name: &str,
    qtype: HRecordType,
    recursion_desired: bool,
) -> Result<Vec<u8>, DnsError> {
    let mut q = Query::new();
    q.set_name(fqdn(name)?)
        .set_query_type(qtype)
        .set_query_class(DNSClass::IN);
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = recursion_desired;
    m.add_query(q);
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD_BYTES).set_version(0);
    m.set_edns(edns);
    m.to_vec().map_err(|e| DnsError::Encode {
        detail: e.to_string(),
    })
}

/// What a server answered to a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResponse {
    /// The response code (RFC 1035 §4.1.1 RCODE, extended by EDNS).
    pub rcode: ResponseCode,
    /// TC: the answer did not fit (re-ask over TCP).
    pub truncated: bool,
    /// AA: the server is an authority for the name.
    pub authoritative: bool,
    /// Answer-section records of the types drlab manages, in server order
    /// (a CNAME chain comes first, then the target's records).
    pub answers: Vec<DnsRecord>,
    /// Owner of the SOA record in the answer or authority section: the
    /// zone that holds the name (RFC 2308 §3 puts it in the authority
    /// section of negative answers).
    pub zone: Option<String>,
    /// How long a negative answer may be cached (RFC 2308 §5: the smaller
    /// of the authority SOA's TTL and its MINIMUM field), when the response
    /// carries an SOA in its authority section.
    pub negative_ttl_s: Option<u32>,
}

impl QueryResponse {
    /// The answer records of one type (e.g. the addresses behind a CNAME).
    pub fn of_type(&self, t: RecordType) -> Vec<DnsRecord> {
        self.answers
            .iter()
            .filter(|r| r.rtype == t)
            .cloned()
            .collect()
    }
}

/// Decodes a response and checks that it answers query `id` for
/// `name`/`qtype` (RFC 5452 §9.1: ID and question must match).
pub fn parse_response(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    name: &str,
    qtype: HRecordType,
) -> Result<QueryResponse, DnsError> {
    let bad = |detail: String| DnsError::BadResponse { server, detail };
    let m = Message::from_vec(bytes).map_err(|e| bad(e.to_string()))?;
    check_header(server, &m, id, OpCode::Query)?;
    let want = fqdn(name)?;
    match m.queries.first() {
        Some(q) if q.name() == &want => {
            if q.query_type() != qtype {
                return Err(bad(format!(
                    "question type {} does not match {qtype}",
                    q.query_type()
                )));
            }
        }
        // RFC 1035 lets a truncated or error response drop the question
        None if m.metadata.truncation || m.metadata.response_code != ResponseCode::NoError => {}
        Some(q) => return Err(bad(format!("question {} does not match {want}", q.name()))),
        None => return Err(bad("response has no question".into())),
    }
    let zone = m
        .answers
        .iter()
        .chain(&m.authorities)
        .find(|r| r.record_type() == HRecordType::SOA)
        .map(|r| normalise(&r.name.to_ascii()));
    let negative_ttl_s = m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    });
    Ok(QueryResponse {
        rcode: m.metadata.response_code,
        truncated: m.metadata.truncation,
        authoritative: m.metadata.authoritative,
        answers: m.answers.iter().filter_map(from_record).collect(),
        zone,
        negative_ttl_s,
    })
}

/// Checks that `m` is a response (QR=1) to request `id` with opcode `op`.
pub(crate) fn check_header(
    server: SocketAddr,
    m: &Message,
    id: u16,
    op: OpCode,
) -> Result<(), DnsError> {
    let bad = |detail: String| DnsError::BadResponse { server, detail };
    if m.metadata.message_type != MessageType::Response {
        return Err(bad("message is not a response".into()));
    }
    if m.metadata.id != id {
        return Err(bad(format!(
            "ID {} does not match request {id}",
            m.metadata.id
        )));
    }
    if m.metadata.op_code != op {
        return Err(bad(format!(
            "opcode {:?} does not match {op:?}",
            m.metadata.op_code
        )));
    }
    Ok(())
}

/// The 16-bit ID of a message (its first two bytes), if it has one.
pub(crate) fn message_id(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, rtype: RecordType, data: &str, ttl_s: u32) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            rtype,
            data: data.into(),
            ttl_s,
        }
    }

    fn server() -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(normalise("WWW.Example.COM."), "www.example.com");
        assert_eq!(
            reverse_name(Ipv4Addr::new(10, 77, 0, 10)),
            "10.0.77.10.in-addr.arpa"
        );
        assert!(fqdn("a.b").unwrap().is_fqdn());
        assert!(fqdn("").is_err());
        assert!(fqdn(".").is_err());
        assert!(
            fqdn(&"x".repeat(64)).is_err(),
            "labels are at most 63 octets"
        );
    }

    #[test]
    fn records_round_trip() {
        for r in [
            rec("web1.drlab.test", RecordType::A, "10.77.0.10", 3),
            rec(
                "10.0.77.10.in-addr.arpa",
                RecordType::PTR,
                "web1.drlab.test",
                60,
            ),
            rec("drlab.test", RecordType::MX, "10 mail1.drlab.test", 300),
            rec(
                "webmail.drlab.test",
                RecordType::CNAME,
                "mail1.drlab.test",
                0,
            ),
        ] {
            let h = to_record(&r).unwrap();
            assert_eq!(h.dns_class, DNSClass::IN);
            assert_eq!(from_record(&h).unwrap(), r);
        }
        // input is normalised on the way back
        let h = to_record(&rec("Web1.DRLAB.test.", RecordType::CNAME, "X.Y.", 1)).unwrap();
        assert_eq!(&*from_record(&h).unwrap().data, "x.y");
    }

    #[test]
    fn bad_record_data() {
        assert!(rdata(&rec("a.b", RecordType::A, "host.name", 1)).is_err());
        assert!(rdata(&rec("a.b", RecordType::MX, "mail1", 1)).is_err());
        assert!(rdata(&rec("a.b", RecordType::MX, "x mail1", 1)).is_err());
        let e = rdata(&rec("a.b", RecordType::A, "999.1.1.1", 1)).unwrap_err();
        assert!(e.to_string().contains("invalid A record data"), "{e}");
    }

    #[test]
    fn query_encodes_header_question_and_edns() {
        let b = build_query(0x1234, "web1.drlab.test", HRecordType::A, true).unwrap();
        assert_eq!(&b[..2], &[0x12, 0x34]);
        let m = Message::from_vec(&b).unwrap();
        assert_eq!(m.metadata.op_code, OpCode::Query);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name().to_ascii(), "web1.drlab.test.");
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), EDNS_PAYLOAD_BYTES);
        assert_eq!(message_id(&b), Some(0x1234));
        assert_eq!(message_id(&[1]), None);
    }

    fn response_to(query: &[u8]) -> Message {
        let q = Message::from_vec(query).unwrap();
        let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
        r.add_queries(q.queries.clone());
        r
    }

    #[test]
    fn response_with_cname_chain() {
        let b = build_query(7, "webmail.drlab.test", HRecordType::A, true).unwrap();
        let mut r = response_to(&b);
        r.metadata.authoritative = true;
        r.add_answer(
            to_record(&rec(
                "webmail.drlab.test",
                RecordType::CNAME,
                "mail1.drlab.test",
                30,
            ))
            .unwrap(),
        );
        r.add_answer(to_record(&rec("mail1.drlab.test", RecordType::A, "10.0.0.5", 30)).unwrap());
        let p = parse_response(
            server(),
            &r.to_vec().unwrap(),
            7,
            "WEBMAIL.drlab.test.",
            HRecordType::A,
        )
        .unwrap();
        assert_eq!(p.rcode, ResponseCode::NoError);
        assert!(p.authoritative && !p.truncated);
        assert_eq!(p.answers.len(), 2);
        assert_eq!(p.of_type(RecordType::A)[0].data.as_ref(), "10.0.0.5");
    }

    #[test]
    fn negative_response_names_the_zone() {
        let b = build_query(8, "nope.drlab.test", HRecordType::A, true).unwrap();
        let mut r = response_to(&b);
        r.metadata.response_code = ResponseCode::NXDomain;
        let soa = hickory_proto::rr::rdata::SOA::new(
            fqdn("dc1.drlab.test").unwrap(),
            fqdn("hostmaster.drlab.test").unwrap(),
            1,
            900,
            600,
            86400,
            3600,
        );
        r.add_authority(Record::from_rdata(
            fqdn("drlab.test").unwrap(),
            3600,
            RData::SOA(soa),
        ));
        let p = parse_response(
            server(),
            &r.to_vec().unwrap(),
            8,
            "nope.drlab.test",
            HRecordType::A,
        )
        .unwrap();
        assert_eq!(p.rcode, ResponseCode::NXDomain);
        assert!(p.answers.is_empty());
        assert_eq!(p.zone.as_deref(), Some("drlab.test"));
        // RFC 2308 §5: min(SOA TTL 3600, MINIMUM 3600).
        assert_eq!(p.negative_ttl_s, Some(3600));
    }

    #[test]
    fn mismatched_responses_are_rejected() {
        let b = build_query(9, "a.drlab.test", HRecordType::A, true).unwrap();
        let r = response_to(&b).to_vec().unwrap();
        assert!(parse_response(server(), &r, 10, "a.drlab.test", HRecordType::A).is_err());
        assert!(parse_response(server(), &r, 9, "b.drlab.test", HRecordType::A).is_err());
        assert!(parse_response(server(), &r, 9, "a.drlab.test", HRecordType::MX).is_err());
        // a query is not a response
        assert!(parse_response(server(), &b, 9, "a.drlab.test", HRecordType::A).is_err());
        assert!(
            parse_response(server(), &[0, 9, 0x80], 9, "a.drlab.test", HRecordType::A).is_err()
        );
    }

    #[test]
    fn truncated_response_without_question_is_accepted() {
        let mut r = Message::new(11, MessageType::Response, OpCode::Query);
        r.metadata.truncation = true;
        let p = parse_response(server(), &r.to_vec().unwrap(), 11, "a.b", HRecordType::A).unwrap();
        assert!(p.truncated);
    }
}
