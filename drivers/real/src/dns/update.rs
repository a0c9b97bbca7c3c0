//! Pure RFC 2136 dynamic UPDATE messages and their TSIG signatures
//! (RFC 8945, by `hickory-proto`'s `dnssec-ring` feature), and the reading
//! of update responses. No I/O: the caller supplies message IDs and the
//! signing time.
//!
//! An UPDATE (RFC 2136 §2) has a Zone section (the zone's name, type SOA,
//! class IN, §2.3), a Prerequisite section (§2.4) and an Update section
//! (§2.5). Class and TTL of each RR say what it means; the builders below
//! quote the rule they apply.

use std::fmt;
use std::net::SocketAddr;

use drlab_drivers::types::{DnsRecord, RecordType};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm as HTsigAlgorithm;
use hickory_proto::rr::{
    DNSClass, Name, RData, Record, RecordType as HRecordType, TSigVerifier, TSigner,
};

use super::DnsError;
use super::message::{check_header, fqdn, hickory_type, normalise, to_record};
use crate::secret::Secret;

/// TSIG fudge (RFC 8945 §5.2.3): how far apart the signer's and the
/// server's clocks may be. 300 s is the value §10 recommends.
pub const TSIG_FUDGE_S: u16 = 300;

/// What must hold before an addition is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddPrereq {
    /// Nothing: the record joins its RRset, which is created if needed;
    /// "any duplicate RRs will be silently ignored" (RFC 2136 §2.5.1), so
    /// adding is idempotent.
    None,
    /// RFC 2136 §2.4.3 "RRset does not exist" (class NONE, RDLENGTH 0): the
    /// update fails with NXRRSET's opposite, YXRRSET, when the name already
    /// has records of this type.
    RrsetAbsent,
    /// RFC 2136 §2.4.5 "Name is not in use" (type ANY, class NONE): fails
    /// with YXDOMAIN when the name owns any record. The prerequisite for a
    /// CNAME, which may not share its name with other data (RFC 1034 §3.6.2).
    NameUnused,
}

fn zone_message(id: u16, zone: &Name) -> Message {
    // RFC 2136 §2.3: ZNAME is the zone name, ZTYPE must be SOA, ZCLASS is
    // the zone's class.
    let mut q = Query::new();
    q.set_name(zone.clone())
        .set_query_type(HRecordType::SOA)
        .set_query_class(DNSClass::IN);
    let mut m = Message::new(id, MessageType::Query, OpCode::Update);
    m.add_zone(q);
    m
}

fn in_zone(zone: &str, name: &str) -> Result<(Name, Name), DnsError> {
    let z = fqdn(zone)?;
    let n = fqdn(name)?;
    if !z.zone_of(&n) {
        return Err(DnsError::NotInZone {
            name: normalise(name),
            zone: normalise(zone),
        });
    }
    Ok((z, n))
}

/// A prerequisite or deletion RR with empty RDATA, TTL 0 and the given class.
fn empty_rr(name: Name, rtype: HRecordType, class: DNSClass) -> Record {
    let mut r = Record::update0(name, 0, rtype).into_record_of_rdata();
    r.dns_class = class;
    r
}

/// Adds `rec` to its RRset in `zone`: RFC 2136 §2.5.1 "Add To An RRset"
/// (an Update RR with the record's NAME, TYPE, TTL and RDATA and the
/// zone's CLASS), after the prerequisite `pre`.
pub fn add(id: u16, zone: &str, rec: &DnsRecord, pre: AddPrereq) -> Result<Message, DnsError> {
    let (z, n) = in_zone(zone, &rec.name)?;
    let mut m = zone_message(id, &z);
    match pre {
        AddPrereq::None => {}
        AddPrereq::RrsetAbsent => {
            m.add_pre_requisite(empty_rr(n, hickory_type(rec.rtype), DNSClass::NONE))
        }
        AddPrereq::NameUnused => m.add_pre_requisite(empty_rr(n, HRecordType::ANY, DNSClass::NONE)),
    }
    m.add_update(to_record(rec)?);
    Ok(m)
}

/// Replaces the whole RRset of `records` (one name, one type) in one
/// atomic update: RFC 2136 §2.5.2 "Delete An RRset" (TYPE of the set,
/// CLASS ANY, TTL 0, no RDATA) followed by §2.5.1 additions; §3.4.2 applies
/// the Update section in order, and §3.7 makes the whole message atomic.
/// This is how a name is moved to the standby in one step.
pub fn replace(id: u16, zone: &str, records: &[DnsRecord]) -> Result<Message, DnsError> {
    let first = records.first().ok_or_else(|| DnsError::InvalidData {
        rtype: "RRset",
        data: String::new(),
        detail: "a replacement needs at least one record".into(),
    })?;
    let (z, n) = in_zone(zone, &first.name)?;
    if let Some(other) = records
        .iter()
        .find(|r| r.rtype != first.rtype || normalise(&r.name) != normalise(&first.name))
    {
        return Err(DnsError::InvalidData {
            rtype: other.rtype.as_str(),
            data: other.name.to_string(),
            detail: format!(
                "an RRset has one name and one type; expected {} {}",
                first.name,
                first.rtype.as_str()
            ),
        });
    }
    let mut m = zone_message(id, &z);
    m.add_update(empty_rr(n, hickory_type(first.rtype), DNSClass::ANY));
    for r in records {
        m.add_update(to_record(r)?);
    }
    Ok(m)
}

/// An update that changes nothing: the Zone section only, with empty
/// Prerequisite and Update sections. RFC 2136 §3.3 has the server check
/// that the requestor may update the zone before it looks at the updates,
/// so the answer is the zone's policy for this requestor (or key): REFUSED
/// when it may not, NOERROR when it may, and no record changes either way
/// (§3.4.2 applies an empty Update section).
pub fn probe(id: u16, zone: &str) -> Result<Message, DnsError> {
    Ok(zone_message(id, &fqdn(zone)?))
}

/// Deletes the RRset `name`/`rtype`: RFC 2136 §2.5.2 "Delete An RRset"
/// (CLASS ANY, TTL 0, RDLENGTH 0). A missing RRset is silently ignored by
/// the server, so with `require_exists` the update carries the §2.4.1
/// prerequisite "RRset exists (value independent)" (class ANY, TTL 0, no
/// RDATA) and fails with NXRRSET instead.
pub fn delete_rrset(
    id: u16,
    zone: &str,
    name: &str,
    rtype: RecordType,
    require_exists: bool,
) -> Result<Message, DnsError> {
    let (z, n) = in_zone(zone, name)?;
    let mut m = zone_message(id, &z);
    if require_exists {
        m.add_pre_requisite(empty_rr(n.clone(), hickory_type(rtype), DNSClass::ANY));
    }
    m.add_update(empty_rr(n, hickory_type(rtype), DNSClass::ANY));
    Ok(m)
}

/// Deletes one RR (name, type and data of `rec`): RFC 2136 §2.5.4 "Delete
/// An RR From An RRset" (the RR with CLASS NONE and TTL 0). The server
/// ignores an RR that does not exist; `require_exists` adds the §2.4.1
/// prerequisite that the RRset exists, so at least a wrong name or type
/// fails with NXRRSET (RFC 2136 has no prerequisite for one RR of a set).
pub fn delete_rr(
    id: u16,
    zone: &str,
    rec: &DnsRecord,
    require_exists: bool,
) -> Result<Message, DnsError> {
    let (z, n) = in_zone(zone, &rec.name)?;
    let mut m = zone_message(id, &z);
    if require_exists {
        m.add_pre_requisite(empty_rr(n, hickory_type(rec.rtype), DNSClass::ANY));
    }
    let mut rr = to_record(rec)?;
    rr.dns_class = DNSClass::NONE;
    rr.ttl = 0;
    m.add_update(rr);
    Ok(m)
}

// ------------------------------------------------------------------ TSIG keys

/// TSIG MAC algorithms hickory can compute (RFC 8945 §6 lists HMAC-SHA256
/// as mandatory; hmac-md5 and hmac-sha1 are not offered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigAlgorithm {
    /// `hmac-sha256` (the default of BIND's `tsig-keygen`).
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl TsigAlgorithm {
    /// Parses the algorithm's name as BIND and RFC 8945 §6 spell it.
    pub fn parse(name: &str) -> Option<TsigAlgorithm> {
        match normalise(name).as_str() {
            "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
            _ => None,
        }
    }

    /// The algorithm's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn hickory(self) -> HTsigAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => HTsigAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HTsigAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HTsigAlgorithm::HmacSha512,
        }
    }
}

/// A TSIG key: its name (as the server knows it), algorithm and shared
/// secret. `Debug` shows the name and algorithm only.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// Key name, e.g. `drlab-update` (normalised).
    pub name: String,
    /// MAC algorithm.
    pub algorithm: TsigAlgorithm,
    /// The shared secret, base64 as key files write it.
    secret_base64: Secret,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl TsigKey {
    /// A key from its parts; checks that the secret is base64.
    pub fn new(
        name: &str,
        algorithm: TsigAlgorithm,
        secret_base64: Secret,
    ) -> Result<TsigKey, DnsError> {
        fqdn(name)?;
        let key = TsigKey {
            name: normalise(name),
            algorithm,
            secret_base64,
        };
        key.secret_bytes()?;
        Ok(key)
    }

    /// Parses the inventory's credential format `name:algorithm:base64`
    /// (see [`crate::inventory::DnsDef::tsig`]).
    pub fn parse_spec(spec: &Secret) -> Result<TsigKey, DnsError> {
        let mut it = spec.expose().trim().splitn(3, ':');
        let (Some(name), Some(alg), Some(secret)) = (it.next(), it.next(), it.next()) else {
            return Err(DnsError::BadKey {
                detail: "expected name:algorithm:base64-secret".into(),
            });
        };
        let algorithm = TsigAlgorithm::parse(alg).ok_or_else(|| DnsError::BadKey {
            detail: format!("unsupported algorithm {alg:?} (use hmac-sha256, -sha384 or -sha512)"),
        })?;
        TsigKey::new(name, algorithm, Secret::new(secret.trim()))
    }

    /// Parses a BIND key statement as `tsig-keygen` prints it:
    /// `key "name" { algorithm hmac-sha256; secret "base64"; };`.
    pub fn parse_bind(text: &Secret) -> Result<TsigKey, DnsError> {
        let t = text.expose();
        let bad = |detail: &str| DnsError::BadKey {
            detail: format!("BIND key statement: {detail}"),
        };
        let after_key = t
            .trim_start()
            .strip_prefix("key")
            .ok_or_else(|| bad("does not start with `key`"))?;
        let name = first_quoted(after_key).ok_or_else(|| bad("no quoted key name"))?;
        let alg = statement_value(t, "algorithm")
            .map(|v| v.trim_matches('"').to_string())
            .ok_or_else(|| bad("no algorithm"))?;
        let secret = statement_value(t, "secret")
            .and_then(first_quoted)
            .ok_or_else(|| bad("no quoted secret"))?;
        let algorithm = TsigAlgorithm::parse(&alg).ok_or_else(|| bad("unsupported algorithm"))?;
        TsigKey::new(name, algorithm, Secret::new(secret))
    }

    fn secret_bytes(&self) -> Result<Vec<u8>, DnsError> {
        base64_decode(self.secret_base64.expose()).ok_or_else(|| DnsError::BadKey {
            detail: format!("the secret of key {} is not valid base64", self.name),
        })
    }

    /// hickory's signer for this key.
    pub fn signer(&self) -> Result<TSigner, DnsError> {
        TSigner::new(
            self.secret_bytes()?,
            self.algorithm.hickory(),
            fqdn(&self.name)?,
            TSIG_FUDGE_S,
        )
        .map_err(|e| DnsError::BadKey {
            detail: e.to_string(),
        })
    }
}

/// The value of `keyword value;` inside a BIND statement: the text after the
/// keyword (a whole word) up to the next `;`, trimmed.
fn statement_value<'a>(t: &'a str, keyword: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = t[from..].find(keyword) {
        let at = from + i;
        let before_ok = t[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{' || c == ';');
        let rest = &t[at + keyword.len()..];
        if before_ok && rest.starts_with(char::is_whitespace) {
            return rest.split(';').next().map(str::trim);
        }
        from = at + keyword.len();
    }
    None
}

/// The text between the first pair of double quotes in `s`.
fn first_quoted(s: &str) -> Option<&str> {
    let start = s.find('"')? + 1;
    let len = s[start..].find('"')?;
    Some(&s[start..start + len])
}

/// Decodes standard base64 (RFC 4648 §4) with optional padding; ASCII
/// whitespace is skipped (key files wrap long secrets).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let chars: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = chars
        .strip_suffix(b"==")
        .or_else(|| chars.strip_suffix(b"="))
        .unwrap_or(&chars);
    if body.is_empty()
        || body.len() % 4 == 1
        || (chars.len() != body.len() && !chars.len().is_multiple_of(4))
    {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Encodes an update, signed with `key` at `now_unix_s` when given
/// (RFC 8945 §5.1: the TSIG RR is the last record of the additional
/// section, its MAC over the message and the TSIG variables). Returns the
/// wire bytes and, for a signed request, the verifier of the response.
pub fn encode(
    mut m: Message,
    key: Option<&TsigKey>,
    now_unix_s: u64,
) -> Result<(Vec<u8>, Option<TSigVerifier>), DnsError> {
    let verifier = match key {
        Some(k) => m
            .finalize(&k.signer()?, now_unix_s)
            .map_err(|e| DnsError::Encode {
                detail: format!("TSIG signing: {e}"),
            })?,
        None => None,
    };
    let bytes = m.to_vec().map_err(|e| DnsError::Encode {
        detail: e.to_string(),
    })?;
    Ok((bytes, verifier))
}

/// Reads the response to update `id` (RFC 2136 §3.8: the response carries
/// the request's ID, opcode UPDATE and an RCODE). NOERROR means the update
/// was applied; for a signed request the response's TSIG is verified first
/// (RFC 8945 §5.3.2 — hickory checks the MAC over the request MAC and the
/// response, and that the signing time is within the fudge).
pub fn check_response(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    verifier: Option<&mut TSigVerifier>,
) -> Result<(), DnsError> {
    let m = Message::from_vec(bytes).map_err(|e| DnsError::BadResponse {
        server,
        detail: e.to_string(),
    })?;
    check_header(server, &m, id, OpCode::Update)?;
    let rcode = m.metadata.response_code;
    let tsig_error = m
        .signature()
        .and_then(|s| s.data.error)
        .map(|e| format!("{e:?}").to_uppercase());
    let what = "update".to_string();
    match rcode {
        ResponseCode::NoError => {
            if let Some(v) = verifier {
                if m.signature().is_none() {
                    return Err(DnsError::ResponseNotAuthenticated {
                        server,
                        detail: "the response to a signed update is not signed".into(),
                    });
                }
                v.verify(bytes)
                    .map_err(|e| DnsError::ResponseNotAuthenticated {
                        server,
                        detail: e.to_string(),
                    })?;
            }
            Ok(())
        }
        ResponseCode::Refused | ResponseCode::NotAuth => Err(DnsError::Refused {
            what,
            server,
            rcode: rcode_name(rcode),
            tsig_error,
        }),
        ResponseCode::YXDomain
        | ResponseCode::YXRRSet
        | ResponseCode::NXDomain
        | ResponseCode::NXRRSet => Err(DnsError::Prerequisite {
            server,
            rcode: rcode_name(rcode),
        }),
        _ => Err(DnsError::Rcode {
            what,
            server,
            rcode: rcode_name(rcode),
        }),
    }
}

/// The mnemonic of a response code as RFC 1035 / RFC 2136 spell it.
pub fn rcode_name(r: ResponseCode) -> String {
    match r {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

/// The records an update message adds (class IN in the Update section):
/// for plans and journals.
pub fn describe(m: &Message) -> String {
    let zone = m
        .queries
        .first()
        .map(|q| normalise(&q.name().to_ascii()))
        .unwrap_or_default();
    let mut parts = Vec::new();
    for p in m.prerequisites() {
        let what = match (p.dns_class, p.record_type()) {
            (DNSClass::NONE, HRecordType::ANY) => "name not in use",
            (DNSClass::NONE, _) => "rrset absent",
            (DNSClass::ANY, _) => "rrset exists",
            _ => "rrset equals",
        };
        parts.push(format!(
            "require {what} {} {}",
            normalise(&p.name.to_ascii()),
            p.record_type()
        ));
    }
    for u in m.updates() {
        let name = normalise(&u.name.to_ascii());
        let data = match &u.data {
            RData::Update0(_) => String::new(),
            d => format!(" {d}"),
        };
        let s = match u.dns_class {
            DNSClass::ANY => format!("delete rrset {name} {}", u.record_type()),
            DNSClass::NONE => format!("delete {name} {}{data}", u.record_type()),
            _ => format!("add {name} {} {}{data}", u.ttl, u.record_type()),
        };
        parts.push(s);
    }
    format!("update zone {zone}: {}", parts.join("; "))
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

    fn a(name: &str, ip: &str) -> DnsRecord {
        rec(name, RecordType::A, ip, 3)
    }

    /// Encodes and decodes, as the server will see it.
    fn wire(m: Message) -> Message {
        Message::from_vec(&m.to_vec().unwrap()).unwrap()
    }

    fn server() -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    #[test]
    fn add_has_zone_section_and_update_rr() {
        let m = wire(
            add(
                5,
                "drlab.test",
                &a("web1.drlab.test", "10.1.2.3"),
                AddPrereq::None,
            )
            .unwrap(),
        );
        assert_eq!(m.metadata.op_code, OpCode::Update);
        assert_eq!(m.metadata.id, 5);
        assert_eq!(m.zones().len(), 1);
        assert_eq!(m.zones()[0].query_type(), HRecordType::SOA);
        assert_eq!(m.zones()[0].name().to_ascii(), "drlab.test.");
        assert!(m.prerequisites().is_empty());
        let u = &m.updates()[0];
        assert_eq!(u.dns_class, DNSClass::IN);
        assert_eq!(u.ttl, 3);
        assert_eq!(u.data.to_string(), "10.1.2.3");
        assert_eq!(
            describe(&m),
            "update zone drlab.test: add web1.drlab.test 3 A 10.1.2.3"
        );
    }

    #[test]
    fn add_prerequisites() {
        let m = wire(
            add(
                1,
                "drlab.test",
                &a("x.drlab.test", "10.0.0.1"),
                AddPrereq::RrsetAbsent,
            )
            .unwrap(),
        );
        let p = &m.prerequisites()[0];
        assert_eq!(
            (p.dns_class, p.record_type(), p.ttl),
            (DNSClass::NONE, HRecordType::A, 0)
        );
        let c = rec("www.drlab.test", RecordType::CNAME, "x.drlab.test", 60);
        let m = wire(add(1, "drlab.test", &c, AddPrereq::NameUnused).unwrap());
        let p = &m.prerequisites()[0];
        assert_eq!(
            (p.dns_class, p.record_type()),
            (DNSClass::NONE, HRecordType::ANY)
        );
        assert!(describe(&m).contains("require name not in use www.drlab.test ANY"));
    }

    #[test]
    fn deletions() {
        let m = wire(delete_rrset(1, "drlab.test", "x.drlab.test", RecordType::A, true).unwrap());
        let p = &m.prerequisites()[0];
        assert_eq!(
            (p.dns_class, p.record_type(), p.ttl),
            (DNSClass::ANY, HRecordType::A, 0)
        );
        let u = &m.updates()[0];
        assert_eq!(
            (u.dns_class, u.record_type(), u.ttl),
            (DNSClass::ANY, HRecordType::A, 0)
        );
        assert!(matches!(u.data, RData::Update0(_)));

        let m = wire(delete_rr(1, "drlab.test", &a("x.drlab.test", "10.0.0.9"), false).unwrap());
        assert!(m.prerequisites().is_empty());
        let u = &m.updates()[0];
        assert_eq!((u.dns_class, u.ttl), (DNSClass::NONE, 0));
        assert_eq!(u.data.to_string(), "10.0.0.9");
        assert_eq!(
            describe(&m),
            "update zone drlab.test: delete x.drlab.test A 10.0.0.9"
        );
    }

    #[test]
    fn replace_deletes_then_adds_atomically() {
        let m = wire(
            replace(
                1,
                "drlab.test",
                &[
                    a("exch1.drlab.test", "10.0.0.2"),
                    a("EXCH1.drlab.test.", "10.0.0.3"),
                ],
            )
            .unwrap(),
        );
        let u = m.updates();
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].dns_class, DNSClass::ANY);
        assert_eq!(u[1].dns_class, DNSClass::IN);
        assert!(replace(1, "drlab.test", &[]).is_err());
        assert!(
            replace(
                1,
                "drlab.test",
                &[a("a.drlab.test", "10.0.0.1"), a("b.drlab.test", "10.0.0.1")]
            )
            .is_err()
        );
    }

    #[test]
    fn names_outside_the_zone_are_refused_before_sending() {
        let e = add(
            1,
            "drlab.test",
            &a("web1.other.test", "10.0.0.1"),
            AddPrereq::None,
        )
        .unwrap_err();
        assert!(matches!(e, DnsError::NotInZone { .. }), "{e}");
        // the apex belongs to the zone
        assert!(
            add(
                1,
                "drlab.test",
                &rec("drlab.test", RecordType::MX, "10 mail1.drlab.test", 60),
                AddPrereq::None
            )
            .is_ok()
        );
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\n bG8h").unwrap(), b"hell\x6f!");
        assert_eq!(base64_decode("AAAA").unwrap(), vec![0, 0, 0]);
        assert!(base64_decode("").is_none());
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a$bc").is_none());
        assert!(base64_decode("aGVsbG8==").is_none());
    }

    const KEY_B64: &str = "3I4cOQ/bWkZ4gM5Ih9wz/8BYvUy7KpVGgh4J6s6tBUI=";

    #[test]
    fn tsig_key_formats_and_redaction() {
        let k =
            TsigKey::parse_spec(&Secret::new(format!("drlab-key:hmac-sha256:{KEY_B64}"))).unwrap();
        assert_eq!(k.name, "drlab-key");
        assert_eq!(k.algorithm, TsigAlgorithm::HmacSha256);
        let bind = format!(
            "key \"drlab-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{KEY_B64}\";\n}};\n"
        );
        assert_eq!(TsigKey::parse_bind(&Secret::new(bind)).unwrap(), k);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(KEY_B64) && dbg.contains("redacted"), "{dbg}");
        let e = TsigKey::parse_spec(&Secret::new("k:hmac-md5:AAAA")).unwrap_err();
        assert!(e.to_string().contains("unsupported algorithm"));
        let e = TsigKey::parse_spec(&Secret::new("k:hmac-sha256:not base64!")).unwrap_err();
        assert!(!e.to_string().contains("not base64!"), "{e}");
        assert!(TsigKey::parse_spec(&Secret::new("only-a-name")).is_err());
        assert!(TsigKey::parse_bind(&Secret::new("zone \"x\" {};")).is_err());
    }

    #[test]
    fn signed_update_verifies_and_tampering_is_detected() {
        let k =
            TsigKey::parse_spec(&Secret::new(format!("drlab-key:hmac-sha256:{KEY_B64}"))).unwrap();
        let m = add(
            77,
            "drlab.test",
            &a("web1.drlab.test", "10.1.2.3"),
            AddPrereq::None,
        )
        .unwrap();
        let (bytes, verifier) = encode(m, Some(&k), 1_700_000_000).unwrap();
        assert!(verifier.is_some());
        let signer = k.signer().unwrap();
        let (_, time, range) = signer.verify_message_byte(&bytes, None, true).unwrap();
        assert_eq!(time, 1_700_000_000);
        assert!(range.contains(&(1_700_000_000 + 299)));
        // a changed address in the update section breaks the MAC
        let mut bad = bytes.clone();
        let at = bytes.windows(4).position(|w| w == [10, 1, 2, 3]).unwrap();
        bad[at + 3] = 4;
        assert!(signer.verify_message_byte(&bad, None, true).is_err());
        // a different secret does not verify
        let other = TsigKey::parse_spec(&Secret::new(
            "drlab-key:hmac-sha256:AAAAAAAAAAAAAAAAAAAAAA==",
        ))
        .unwrap();
        assert!(
            other
                .signer()
                .unwrap()
                .verify_message_byte(&bytes, None, true)
                .is_err()
        );
        let (plain, v) = encode(
            add(
                1,
                "drlab.test",
                &a("w.drlab.test", "10.0.0.1"),
                AddPrereq::None,
            )
            .unwrap(),
            None,
            0,
        )
        .unwrap();
        assert!(v.is_none());
        assert!(Message::from_vec(&plain).unwrap().signature().is_none());
    }

    fn response(id: u16, rcode: ResponseCode) -> Vec<u8> {
        let mut r = Message::new(id, MessageType::Response, OpCode::Update);
        r.metadata.response_code = rcode;
        r.to_vec().unwrap()
    }

    #[test]
    fn response_codes() {
        assert!(check_response(server(), &response(3, ResponseCode::NoError), 3, None).is_ok());
        let e = check_response(server(), &response(3, ResponseCode::Refused), 3, None).unwrap_err();
        assert!(matches!(e, DnsError::Refused { .. }));
        assert_eq!(
            e.to_string(),
            "DNS server 127.0.0.1:53 refused the update: REFUSED"
        );
        let e = check_response(server(), &response(3, ResponseCode::YXRRSet), 3, None).unwrap_err();
        assert!(matches!(e, DnsError::Prerequisite { .. }), "{e}");
        let e =
            check_response(server(), &response(3, ResponseCode::ServFail), 3, None).unwrap_err();
        assert!(e.to_string().ends_with("SERVFAIL"), "{e}");
        assert!(check_response(server(), &response(4, ResponseCode::NoError), 3, None).is_err());
    }

    #[test]
    fn unsigned_response_to_signed_update_is_not_accepted() {
        let k = TsigKey::parse_spec(&Secret::new(format!("k:hmac-sha256:{KEY_B64}"))).unwrap();
        let m = add(
            9,
            "drlab.test",
            &a("w.drlab.test", "10.0.0.1"),
            AddPrereq::None,
        )
        .unwrap();
        let (_, v) = encode(m, Some(&k), 1_700_000_000).unwrap();
        let mut v = v.unwrap();
        let e = check_response(
            server(),
            &response(9, ResponseCode::NoError),
            9,
            Some(&mut v),
        )
        .unwrap_err();
        assert!(
            matches!(e, DnsError::ResponseNotAuthenticated { .. }),
            "{e}"
        );
    }
}
