//! `samba-tool dns add/delete` command builders (pure): the fallback for
//! Samba DCs whose zones take only secure (GSS-TSIG) updates, run on the DC
//! over SSH by the caller. Also [`ToolCommand`], the shape every command
//! builder of this crate returns.
//!
//! Credentials never go on the command line (where `ps` and shell history
//! would show them): samba-tool reads the password from the file
//! descriptor named by the `PASSWD_FD` environment variable (Samba's
//! `cli_credentials_guess`, which also honours `PASSWD` and
//! `PASSWD_FILE`), so the command sets `PASSWD_FD=0` and the caller writes
//! the password, followed by a newline, to its standard input. Checked
//! with Samba 4.17: `echo pw | PASSWD_FD=0 samba-tool dns add ... -U
//! Administrator` adds the record without a prompt.

use std::fmt;

use drlab_drivers::types::{DnsRecord, RecordType};

use super::DnsError;
use super::message::{normalise, rdata};
use crate::secret::Secret;

/// A command to run on a host: program, arguments, environment, and an
/// optional secret to write to its standard input. Rendering it never
/// shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ToolCommand {
    /// The program, e.g. `samba-tool`.
    pub program: String,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
    /// Environment variables to set (never secret values).
    pub env: Vec<(String, String)>,
    /// Written to standard input followed by a newline, then stdin is
    /// closed. `None`: stdin is empty.
    pub stdin_secret: Option<Secret>,
}

impl ToolCommand {
    /// A command without environment or input.
    pub fn new(program: &str, args: &[&str]) -> ToolCommand {
        ToolCommand {
            program: program.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            stdin_secret: None,
        }
    }

    /// The command as one POSIX shell line: `NAME=value ... program 'arg' ...`,
    /// every word single-quoted where needed. Contains no secret (the secret
    /// goes to stdin), so it is safe for plans, journals and logs.
    pub fn posix_line(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", sh_quote(v)))
            .collect();
        words.push(sh_quote(&self.program));
        words.extend(self.args.iter().map(|a| sh_quote(a)));
        words.join(" ")
    }

    /// The bytes to write to standard input (the secret and a newline).
    pub fn stdin_bytes(&self) -> Option<Vec<u8>> {
        self.stdin_secret.as_ref().map(|s| {
            let mut b = s.expose().as_bytes().to_vec();
            b.push(b'\n');
            b
        })
    }
}

impl fmt::Debug for ToolCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.posix_line())?;
        if self.stdin_secret.is_some() {
            f.write_str(" <<< [redacted]")?;
        }
        Ok(())
    }
}

impl fmt::Display for ToolCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Quotes a word for a POSIX shell: unchanged when it only has safe
/// characters, else inside single quotes with `'` written as `'\''`.
pub fn sh_quote(w: &str) -> String {
    let safe = !w.is_empty()
        && w.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&c));
    if safe {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Who samba-tool authenticates as: the user name, and the password that
/// the command receives on stdin.
#[derive(Clone, Debug)]
pub struct SambaCredentials {
    /// User, e.g. `Administrator` or `DRLAB\Administrator`.
    pub user: String,
    /// Password (goes to stdin, never to the command line).
    pub password: Secret,
}

/// A `samba-tool` command authenticating as `cred` with the password on stdin.
pub(crate) fn samba_tool(args: Vec<String>, cred: &SambaCredentials) -> ToolCommand {
    ToolCommand {
        stdin_secret: Some(cred.password.clone()),
        ..samba_tool_as(args, &cred.user)
    }
}

/// A `samba-tool` command authenticating as `user` that reads the password
/// from stdin, without the password: the command as a plan shows it (the
/// caller writes the password to its stdin).
pub(crate) fn samba_tool_as(args: Vec<String>, user: &str) -> ToolCommand {
    let mut args = args;
    args.push("-U".into());
    args.push(user.to_string());
    ToolCommand {
        program: "samba-tool".into(),
        args,
        env: vec![("PASSWD_FD".into(), "0".into())],
        stdin_secret: None,
    }
}

/// The record's name relative to `zone` as samba-tool wants it (`@` for
/// the apex).
fn relative_name(zone: &str, name: &str) -> Result<String, DnsError> {
    let (zone, name) = (normalise(zone), normalise(name));
    if name == zone {
        return Ok("@".into());
    }
    name.strip_suffix(&format!(".{zone}"))
        .map(str::to_string)
        .ok_or(DnsError::NotInZone { name, zone })
}

/// The data argument of `samba-tool dns add/delete` (its `--help`): an
/// address for A, a name for PTR and CNAME, and for MX `"host preference"`
/// — the reverse of drlab's `preference host`.
fn samba_data(rec: &DnsRecord) -> Result<String, DnsError> {
    rdata(rec)?; // validates the data for its type
    Ok(match rec.rtype {
        RecordType::A => rec.data.trim().to_string(),
        RecordType::PTR | RecordType::CNAME => normalise(&rec.data),
        RecordType::MX => {
            let (pref, host) = rec
                .data
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or(("", ""));
            format!("{} {}", normalise(host.trim()), pref)
        }
    })
}

/// `samba-tool dns add <server> <zone> <name> <type> <data> -U <user>`.
///
/// samba-tool 4.17 has no TTL option: the record gets the server's default
/// TTL (900 s), whatever `rec.ttl_s` says; use RFC 2136 when the TTL matters.
pub fn dns_add(
    server: &str,
    zone: &str,
    rec: &DnsRecord,
    cred: &SambaCredentials,
) -> Result<ToolCommand, DnsError> {
    dns_cmd("add", server, zone, rec, cred)
}

/// `samba-tool dns delete <server> <zone> <name> <type> <data> -U <user>`:
/// deletes the one record matching name, type and data.
pub fn dns_delete(
    server: &str,
    zone: &str,
    rec: &DnsRecord,
    cred: &SambaCredentials,
) -> Result<ToolCommand, DnsError> {
    dns_cmd("delete", server, zone, rec, cred)
}

fn dns_cmd(
    verb: &str,
    server: &str,
    zone: &str,
    rec: &DnsRecord,
    cred: &SambaCredentials,
) -> Result<ToolCommand, DnsError> {
    let args = vec![
        "dns".into(),
        verb.into(),
        server.into(),
        normalise(zone),
        relative_name(zone, &rec.name)?,
        rec.rtype.as_str().into(),
        samba_data(rec)?,
    ];
    Ok(samba_tool(args, cred))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred() -> SambaCredentials {
        SambaCredentials {
            user: "Administrator".into(),
            password: Secret::new("S3cret pass'word"),
        }
    }

    fn rec(name: &str, rtype: RecordType, data: &str) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            rtype,
            data: data.into(),
            ttl_s: 900,
        }
    }

    #[test]
    fn add_a_record() {
        let c = dns_add(
            "dc1.drlab.test",
            "drlab.test",
            &rec("web1.drlab.test", RecordType::A, "10.77.0.10"),
            &cred(),
        )
        .unwrap();
        assert_eq!(
            c.posix_line(),
            "PASSWD_FD=0 samba-tool dns add dc1.drlab.test drlab.test web1 A 10.77.0.10 -U Administrator"
        );
        assert_eq!(c.stdin_bytes().unwrap(), b"S3cret pass'word\n");
        let shown = format!("{c} {c:?}");
        assert!(!shown.contains("S3cret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn mx_data_is_host_then_preference_and_apex_is_at() {
        let c = dns_delete(
            "127.0.0.1",
            "drlab.test.",
            &rec("DRLAB.test", RecordType::MX, "10 Mail1.drlab.test."),
            &cred(),
        )
        .unwrap();
        assert_eq!(
            c.args,
            [
                "dns",
                "delete",
                "127.0.0.1",
                "drlab.test",
                "@",
                "MX",
                "mail1.drlab.test 10",
                "-U",
                "Administrator"
            ]
        );
        assert_eq!(
            c.posix_line(),
            "PASSWD_FD=0 samba-tool dns delete 127.0.0.1 drlab.test @ MX 'mail1.drlab.test 10' -U Administrator"
        );
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(
            dns_add(
                "dc1",
                "drlab.test",
                &rec("web1.other.test", RecordType::A, "10.0.0.1"),
                &cred()
            )
            .is_err()
        );
        assert!(
            dns_add(
                "dc1",
                "drlab.test",
                &rec("web1.drlab.test", RecordType::A, "web2"),
                &cred()
            )
            .is_err()
        );
        // a name that merely ends like the zone is not in it
        assert!(
            dns_add(
                "dc1",
                "drlab.test",
                &rec("xdrlab.test", RecordType::A, "10.0.0.1"),
                &cred()
            )
            .is_err()
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("plain-word_1.2"), "plain-word_1.2");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(sh_quote(r"DRLAB\Administrator"), r"'DRLAB\Administrator'");
    }
}
