//! Windows dialect: PowerShell commands for Windows hosts reached over
//! OpenSSH for Windows (service control, Exchange store mounts, computer
//! identity and domain membership, AD replication), as pure builders.
//!
//! **Not run here.** The CI lab has no Windows host, so these commands are
//! verified only by snapshot tests of their exact text
//! (`src/dialect/snapshots/`), not against a real Windows server.
//!
//! How a command reaches PowerShell: OpenSSH for Windows hands the command
//! line to the account's default shell (cmd.exe unless configured), whose
//! quoting rules differ from PowerShell's. So every script is sent as
//! `powershell.exe ... -EncodedCommand <base64 of the UTF-16LE script>`,
//! which no shell in between can re-interpret. Inside the script every
//! variable argument is a single-quoted PowerShell string literal
//! ([`ps_quote`]), so nothing in a name is ever evaluated.
//!
//! Credentials: no secret is ever on a command line. A command that needs a
//! domain credential either uses the account the SSH session runs as
//! ([`PsCredential::SessionAccount`]: it must have the rights), or reads the
//! password as the first line of its standard input
//! ([`PsCredential::PasswordOnStdin`]) and builds a `PSCredential` from a
//! secure string; the caller writes the password to stdin
//! (`SshPool::exec_with_stdin`).

use drlab_drivers::types::{ServiceState, StartupType};

use super::{DialectError, ServiceStatus};

/// A PowerShell script and how to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsCommand {
    /// The script, as PowerShell runs it.
    pub script: String,
    /// True when the script reads a password as the first line of stdin.
    pub reads_password_from_stdin: bool,
}

impl PsCommand {
    /// The command line for the SSH `exec` request.
    pub fn command_line(&self) -> String {
        let utf16: Vec<u8> = self
            .script
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        format!(
            "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
            base64(&utf16)
        )
    }
}

/// Where a domain credential comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsCredential<'a> {
    /// The account the SSH session runs as (no `-Credential` parameter).
    SessionAccount,
    /// `user` (e.g. `CORP\Administrator`) with the password read from the
    /// first line of stdin.
    PasswordOnStdin {
        /// The account name.
        user: &'a str,
    },
}

/// Exchange Management Shell snap-in to load before Exchange cmdlets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeShell {
    /// Exchange 2007 (`Microsoft.Exchange.Management.PowerShell.Admin`);
    /// database identities are `Server\Storage Group\Database`.
    Exchange2007,
    /// Exchange 2010 (`Microsoft.Exchange.Management.PowerShell.E2010`).
    Exchange2010,
    /// Exchange 2013 and later (`Microsoft.Exchange.Management.PowerShell.SnapIn`).
    Exchange2013Plus,
}

impl ExchangeShell {
    fn snapin(self) -> &'static str {
        match self {
            ExchangeShell::Exchange2007 => "Microsoft.Exchange.Management.PowerShell.Admin",
            ExchangeShell::Exchange2010 => "Microsoft.Exchange.Management.PowerShell.E2010",
            ExchangeShell::Exchange2013Plus => "Microsoft.Exchange.Management.PowerShell.SnapIn",
        }
    }

    /// The `-Identity` of a database: `Server\Group\Store` on Exchange 2007
    /// (storage groups exist), the database name from 2010 on.
    pub fn database_identity(self, server: &str, group: &str, store: &str) -> String {
        match self {
            ExchangeShell::Exchange2007 => format!("{server}\\{group}\\{store}"),
            _ => store.to_string(),
        }
    }
}

/// Quotes `s` as a single-quoted PowerShell string literal: nothing inside
/// is evaluated; each quote character is doubled. PowerShell also treats the
/// typographic single quotes U+2018, U+2019, U+201A and U+201B as quotes, so
/// they are doubled too.
pub fn ps_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Longest service name Windows accepts.
pub const SERVICE_NAME_MAX_CHARS: usize = 256;
/// Longest NetBIOS computer name.
pub const COMPUTER_NAME_MAX_CHARS: usize = 15;

fn check_service(name: &str) -> Result<(), DialectError> {
    if name.is_empty() || name.chars().count() > SERVICE_NAME_MAX_CHARS {
        return Err(DialectError::InvalidName {
            name: name.into(),
            why: "a service name has 1 to 256 characters",
        });
    }
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(DialectError::InvalidName {
            name: name.into(),
            why: "a service name has no slash, backslash or control character",
        });
    }
    Ok(())
}

fn check_computer(name: &str) -> Result<(), DialectError> {
    let ok = !name.is_empty()
        && name.len() <= COMPUTER_NAME_MAX_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(DialectError::InvalidName {
            name: name.into(),
            why: "a computer name has 1 to 15 letters, digits or '-', not only digits",
        })
    }
}

/// Wraps a body: stop on the first error, report it on stderr, exit 1.
fn script(cred: PsCredential<'_>, body: &str) -> PsCommand {
    let mut s = String::from(
        "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\ntry {\n",
    );
    if let PsCredential::PasswordOnStdin { user } = cred {
        s.push_str("  $drlabPassword = [Console]::In.ReadLine()\n");
        s.push_str(
            "  $drlabSecure = ConvertTo-SecureString -String $drlabPassword -AsPlainText -Force\n",
        );
        s.push_str("  Remove-Variable -Name drlabPassword\n");
        s.push_str(&format!(
            "  $drlabCredential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList {}, $drlabSecure\n",
            ps_quote(user)
        ));
    }
    for line in body.lines() {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str("} catch {\n  [Console]::Error.WriteLine($_.Exception.Message)\n  exit 1\n}\n");
    PsCommand {
        script: s,
        reads_password_from_stdin: matches!(cred, PsCredential::PasswordOnStdin { .. }),
    }
}

fn cred_arg(cred: PsCredential<'_>, param: &str) -> String {
    match cred {
        PsCredential::SessionAccount => String::new(),
        PsCredential::PasswordOnStdin { .. } => format!(" -{param} $drlabCredential"),
    }
}

/// The status line every service command prints: `Status StartType`.
const STATUS_LINE: &str =
    "Write-Output ('{0} {1}' -f $drlabService.Status, $drlabService.StartType)";

/// `Get-Service`: prints `Status StartType` (e.g. `Running Manual`).
pub fn get_service(service: &str) -> Result<PsCommand, DialectError> {
    check_service(service)?;
    Ok(script(
        PsCredential::SessionAccount,
        &format!(
            "$drlabService = Get-Service -Name {}\n{STATUS_LINE}",
            ps_quote(service)
        ),
    ))
}

/// `Start-Service`, then waits up to `wait_limit_s` for Running; prints the status line.
pub fn start_service(service: &str, wait_limit_s: u32) -> Result<PsCommand, DialectError> {
    check_service(service)?;
    let q = ps_quote(service);
    Ok(script(
        PsCredential::SessionAccount,
        &format!(
            "Start-Service -Name {q}\n$drlabService = Get-Service -Name {q}\n$drlabService.WaitForStatus('Running', [TimeSpan]::FromSeconds({wait_limit_s}))\n$drlabService.Refresh()\n{STATUS_LINE}"
        ),
    ))
}

/// `Stop-Service -Force` (dependent services stop too, as `net stop` asks),
/// then waits up to `wait_limit_s` for Stopped; prints the status line.
pub fn stop_service(service: &str, wait_limit_s: u32) -> Result<PsCommand, DialectError> {
    check_service(service)?;
    let q = ps_quote(service);
    Ok(script(
        PsCredential::SessionAccount,
        &format!(
            "Stop-Service -Name {q} -Force\n$drlabService = Get-Service -Name {q}\n$drlabService.WaitForStatus('Stopped', [TimeSpan]::FromSeconds({wait_limit_s}))\n$drlabService.Refresh()\n{STATUS_LINE}"
        ),
    ))
}

/// `Set-Service -StartupType`; prints the status line.
pub fn set_startup_type(service: &str, startup: StartupType) -> Result<PsCommand, DialectError> {
    check_service(service)?;
    let q = ps_quote(service);
    let t = match startup {
        StartupType::Automatic => "Automatic",
        StartupType::Manual => "Manual",
        StartupType::Disabled => "Disabled",
    };
    Ok(script(
        PsCredential::SessionAccount,
        &format!(
            "Set-Service -Name {q} -StartupType {t}\n$drlabService = Get-Service -Name {q}\n{STATUS_LINE}"
        ),
    ))
}

/// Parses the `Status StartType` line of the service commands.
pub fn parse_service_status(service: &str, stdout: &str) -> Result<ServiceStatus, DialectError> {
    let unparseable = || DialectError::Unparseable {
        service: service.to_string(),
        answer: stdout.chars().take(200).collect(),
    };
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(unparseable)?;
    let mut w = line.split_whitespace();
    let state = match w.next().ok_or_else(unparseable)? {
        "Running" => ServiceState::Running,
        "StartPending" | "ContinuePending" => ServiceState::StartPending,
        "StopPending" | "PausePending" => ServiceState::StopPending,
        // a paused service serves no one: for a drill it is not running
        "Stopped" | "Paused" => ServiceState::Stopped,
        _ => return Err(unparseable()),
    };
    let startup = match w.next().ok_or_else(unparseable)? {
        "Automatic" | "AutomaticDelayedStart" | "Boot" | "System" => StartupType::Automatic,
        "Manual" => StartupType::Manual,
        "Disabled" => StartupType::Disabled,
        _ => return Err(unparseable()),
    };
    Ok(ServiceStatus { state, startup })
}

fn exchange(shell: ExchangeShell, body: &str) -> PsCommand {
    script(
        PsCredential::SessionAccount,
        &format!(
            "Add-PSSnapin -Name {} -ErrorAction SilentlyContinue\n{body}",
            ps_quote(shell.snapin())
        ),
    )
}

/// `Mount-Database` (Exchange Management Shell) for a database identity
/// (see [`ExchangeShell::database_identity`]).
pub fn mount_database(shell: ExchangeShell, identity: &str) -> PsCommand {
    exchange(
        shell,
        &format!(
            "Mount-Database -Identity {} -Confirm:$false",
            ps_quote(identity)
        ),
    )
}

/// `Dismount-Database` (Exchange Management Shell).
pub fn dismount_database(shell: ExchangeShell, identity: &str) -> PsCommand {
    exchange(
        shell,
        &format!(
            "Dismount-Database -Identity {} -Confirm:$false",
            ps_quote(identity)
        ),
    )
}

/// Whether a database is mounted: prints `True` or `False`.
pub fn database_mounted(shell: ExchangeShell, identity: &str) -> PsCommand {
    exchange(
        shell,
        &format!(
            "Write-Output (Get-MailboxDatabase -Identity {} -Status).Mounted",
            ps_quote(identity)
        ),
    )
}

/// `Rename-Computer` (takes effect at the next restart). A domain member
/// needs a domain credential.
pub fn rename_computer(new_name: &str, cred: PsCredential<'_>) -> Result<PsCommand, DialectError> {
    check_computer(new_name)?;
    Ok(script(
        cred,
        &format!(
            "Rename-Computer -NewName {}{} -Force",
            ps_quote(new_name),
            cred_arg(cred, "DomainCredential")
        ),
    ))
}

/// `Add-Computer`: joins the domain under the current name (takes effect at
/// the next restart), optionally into an OU.
pub fn add_computer(
    domain: &str,
    ou: Option<&str>,
    cred: PsCredential<'_>,
) -> Result<PsCommand, DialectError> {
    if domain.is_empty()
        || !domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    {
        return Err(DialectError::InvalidName {
            name: domain.into(),
            why: "a domain name has letters, digits, '.' and '-'",
        });
    }
    let ou = ou.map_or(String::new(), |o| format!(" -OUPath {}", ps_quote(o)));
    Ok(script(
        cred,
        &format!(
            "Add-Computer -DomainName {}{ou}{} -Force",
            ps_quote(domain),
            cred_arg(cred, "Credential")
        ),
    ))
}

/// `Remove-Computer`: leaves the domain for a workgroup (takes effect at
/// the next restart).
pub fn remove_computer(workgroup: &str, cred: PsCredential<'_>) -> Result<PsCommand, DialectError> {
    check_computer(workgroup)?;
    Ok(script(
        cred,
        &format!(
            "Remove-Computer -WorkgroupName {}{} -Force",
            ps_quote(workgroup),
            cred_arg(cred, "UnjoinDomainCredential")
        ),
    ))
}

/// `Restart-Computer -Force`. The SSH session ends with the restart; the
/// caller then waits for the host to answer again.
pub fn restart_computer() -> PsCommand {
    script(PsCredential::SessionAccount, "Restart-Computer -Force")
}

/// `repadmin /syncall /AdeP` on a domain controller (all partitions, by DN,
/// across sites, pushing from `dc` to its partners); `dc` defaults to the
/// local one. Fails when repadmin reports an error.
pub fn repadmin_syncall(dc: Option<&str>) -> Result<PsCommand, DialectError> {
    if let Some(d) = dc {
        check_computer(d)?;
    }
    let dc = dc.map_or(String::new(), |d| format!(" {}", ps_quote(d)));
    Ok(script(
        PsCredential::SessionAccount,
        &format!(
            "& repadmin.exe /syncall{dc} /AdeP\nif ($LASTEXITCODE -ne 0) {{ throw \"repadmin /syncall exited with $LASTEXITCODE\" }}"
        ),
    ))
}

/// Standard base64 (RFC 4648, with padding), for `-EncodedCommand`.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot of a command: its script, whether it reads stdin, and
    /// the exact command line sent over SSH.
    fn shown(c: &PsCommand) -> String {
        format!(
            "{}--- reads password from stdin: {}\n--- command line:\n{}\n",
            c.script,
            c.reads_password_from_stdin,
            c.command_line()
        )
    }

    const CRED: PsCredential<'static> = PsCredential::PasswordOnStdin {
        user: "CORP\\Administrator",
    };

    #[test]
    fn quoting() {
        assert_eq!(ps_quote("MSExchangeIS"), "'MSExchangeIS'");
        assert_eq!(ps_quote("O'Brien"), "'O''Brien'");
        assert_eq!(ps_quote("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(ps_quote("$(Stop-Computer)"), "'$(Stop-Computer)'");
        assert_eq!(ps_quote(""), "''");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(get_service("").is_err());
        assert!(get_service("a\\b").is_err());
        assert!(rename_computer("EXCH1TMP-TOO-LONG", CRED).is_err());
        assert!(rename_computer("EXCH 1", CRED).is_err());
        assert!(add_computer("corp.example.com; x", None, CRED).is_err());
        assert!(repadmin_syncall(Some("DC1'")).is_err());
    }

    #[test]
    fn service_status_parsing() {
        let s = parse_service_status("W3SVC", "Running Automatic\r\n").unwrap();
        assert_eq!(
            (s.state, s.startup),
            (ServiceState::Running, StartupType::Automatic)
        );
        let s = parse_service_status("IS", "Stopped Manual\n").unwrap();
        assert_eq!(
            (s.state, s.startup),
            (ServiceState::Stopped, StartupType::Manual)
        );
        let s = parse_service_status("IS", "StartPending Disabled").unwrap();
        assert_eq!(s.state, ServiceState::StartPending);
        assert!(parse_service_status("IS", "").is_err());
        assert!(parse_service_status("IS", "Broken Manual").is_err());
    }

    #[test]
    fn snapshot_service_commands() {
        insta::assert_snapshot!("get_service", shown(&get_service("MSExchangeIS").unwrap()));
        insta::assert_snapshot!(
            "start_service",
            shown(&start_service("MSExchangeSA", 120).unwrap())
        );
        insta::assert_snapshot!("stop_service", shown(&stop_service("POP3Svc", 60).unwrap()));
        insta::assert_snapshot!(
            "set_startup_type",
            shown(&set_startup_type("MSExchangeIS", StartupType::Manual).unwrap())
        );
        // a hostile name stays one literal argument
        insta::assert_snapshot!(
            "start_service_quoted",
            shown(&start_service("it's $(evil)", 30).unwrap())
        );
    }

    #[test]
    fn snapshot_exchange_commands() {
        let s = ExchangeShell::Exchange2007;
        let id = s.database_identity("EXCH2", "First Storage Group", "Mailbox Store");
        assert_eq!(id, "EXCH2\\First Storage Group\\Mailbox Store");
        insta::assert_snapshot!("mount_database_2007", shown(&mount_database(s, &id)));
        insta::assert_snapshot!("dismount_database_2007", shown(&dismount_database(s, &id)));
        insta::assert_snapshot!(
            "database_mounted_2010",
            shown(&database_mounted(ExchangeShell::Exchange2010, "Sales"))
        );
    }

    #[test]
    fn snapshot_identity_commands() {
        insta::assert_snapshot!(
            "rename_computer_stdin_credential",
            shown(&rename_computer("EXCH1TMP", CRED).unwrap())
        );
        insta::assert_snapshot!(
            "rename_computer_session_account",
            shown(&rename_computer("EXCH1", PsCredential::SessionAccount).unwrap())
        );
        insta::assert_snapshot!(
            "add_computer",
            shown(
                &add_computer(
                    "corp.example.com",
                    Some("OU=Exchange Servers,DC=corp,DC=example,DC=com"),
                    CRED
                )
                .unwrap()
            )
        );
        insta::assert_snapshot!(
            "remove_computer",
            shown(&remove_computer("WORKGROUP", CRED).unwrap())
        );
        insta::assert_snapshot!("restart_computer", shown(&restart_computer()));
        insta::assert_snapshot!(
            "repadmin_syncall",
            shown(&repadmin_syncall(Some("DC1")).unwrap())
        );
    }

    #[test]
    fn no_secret_on_any_command_line() {
        // the password never enters a builder: commands that need it read stdin
        let c = add_computer("corp.example.com", None, CRED).unwrap();
        assert!(c.reads_password_from_stdin);
        // the only source of the password is stdin, and the command line is
        // nothing but the encoded script: no builder takes a secret at all
        assert!(
            c.script
                .contains("$drlabPassword = [Console]::In.ReadLine()")
        );
        assert_eq!(c.script.matches("$drlabPassword").count(), 2);
        assert!(
            c.command_line()
                .starts_with("powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ")
        );
        assert_eq!(c.command_line().split(' ').count(), 8);
        let c = rename_computer("EXCH1", PsCredential::SessionAccount).unwrap();
        assert!(!c.reads_password_from_stdin);
        assert!(!c.script.contains("Credential"));
    }
}
