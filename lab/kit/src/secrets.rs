//! The lab's credentials: made fresh for every lab from the OS's random
//! source, written to files of mode 0600 that the inventory names (never
//! the values), and handed to the containers through their environment.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use drlab_real::secret::Secret;

/// `n` random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// A random password of `len` letters and digits behind a fixed prefix that
/// satisfies Active Directory's complexity rule (upper, lower, digit, symbol).
pub fn password(len: usize) -> std::io::Result<Secret> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let raw = random_bytes::<64>()?;
    let tail: String = raw
        .iter()
        .take(len.min(64))
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(Secret::new(format!("Dl7-{tail}")))
}

/// A fresh TSIG key in the inventory's credential format
/// `name:algorithm:base64` (`drlab_real::inventory::DnsDef::tsig`): 256
/// random bits for HMAC-SHA256, as `tsig-keygen` makes (RFC 8945 §6).
pub fn tsig_key(name: &str) -> std::io::Result<Secret> {
    let secret = data_encoding::BASE64.encode(&random_bytes::<32>()?);
    Ok(Secret::new(format!("{name}:hmac-sha256:{secret}")))
}

/// The base64 secret of a `name:algorithm:base64` key.
fn tsig_secret(key: &Secret) -> &str {
    key.expose().rsplit(':').next().unwrap_or_default()
}

/// The credential names of the lab's TSIG keys in its inventory.
pub const DNS_UPDATE_CREDENTIAL: &str = "dns_update";
/// See [`DNS_UPDATE_CREDENTIAL`].
pub const DNS_ADMIN_CREDENTIAL: &str = "dns_admin";

/// The TSIG key names of the lab's BIND (named.conf's `key` statements).
pub const DNS_UPDATE_KEY: &str = "drlab-update";
/// See [`DNS_UPDATE_KEY`].
pub const DNS_ADMIN_KEY: &str = "drlab-admin";

/// The lab's secrets, with the files they were written to.
#[derive(Debug)]
pub struct LabSecrets {
    /// Domain Administrator password (LDAP binds, samba-tool).
    pub admin: Secret,
    /// root password of every container (SSH password login).
    pub root: Secret,
    /// Password of every mailbox (IMAP/POP3 login).
    pub mail: Secret,
    /// OpenSSH private key (root on every host authorises its public half).
    pub ssh_private: Secret,
    /// Its public line.
    pub ssh_public: String,
    /// The runbook's TSIG key for BIND's zones (a lab with BIND beside
    /// Samba only): a zone that refuses dynamic updates refuses it.
    pub dns_update: Secret,
    /// The set-up's TSIG key for BIND's zones: every zone takes it.
    pub dns_admin: Secret,
    /// Where each secret is: admin, root, mail, private key.
    pub files: SecretFiles,
}

/// Paths of the secret files.
#[derive(Clone, Debug)]
pub struct SecretFiles {
    /// Administrator password.
    pub admin: PathBuf,
    /// root password.
    pub root: PathBuf,
    /// Mailbox password.
    pub mail: PathBuf,
    /// SSH private key.
    pub ssh_key: PathBuf,
    /// The runbook's TSIG key.
    pub dns_update: PathBuf,
    /// The set-up's TSIG key.
    pub dns_admin: PathBuf,
}

/// Writes `data` to `path` with mode 0600 (created so, never wider).
pub fn write_private(path: &Path, data: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

impl LabSecrets {
    /// Fresh secrets, written under `dir/secrets/` (mode 0700).
    pub fn generate(dir: &Path, key_comment: &str) -> std::io::Result<LabSecrets> {
        let sdir = dir.join("secrets");
        fs::create_dir_all(&sdir)?;
        fs::set_permissions(&sdir, fs::Permissions::from_mode(0o700))?;
        let (ssh_private, ssh_public) =
            drlab_real::ssh::ed25519_keypair(&random_bytes::<32>()?, key_comment)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        let s = LabSecrets {
            admin: password(16)?,
            root: password(16)?,
            mail: password(16)?,
            ssh_private,
            ssh_public,
            dns_update: tsig_key(DNS_UPDATE_KEY)?,
            dns_admin: tsig_key(DNS_ADMIN_KEY)?,
            files: SecretFiles {
                admin: sdir.join("admin_password"),
                root: sdir.join("root_password"),
                mail: sdir.join("mail_password"),
                ssh_key: sdir.join("id_ed25519"),
                dns_update: sdir.join("dns_update_key"),
                dns_admin: sdir.join("dns_admin_key"),
            },
        };
        write_private(&s.files.admin, &format!("{}\n", s.admin.expose()))?;
        write_private(&s.files.root, &format!("{}\n", s.root.expose()))?;
        write_private(&s.files.mail, &format!("{}\n", s.mail.expose()))?;
        write_private(&s.files.ssh_key, s.ssh_private.expose())?;
        write_private(&s.files.dns_update, &format!("{}\n", s.dns_update.expose()))?;
        write_private(&s.files.dns_admin, &format!("{}\n", s.dns_admin.expose()))?;
        Ok(s)
    }

    /// Every secret value (for tests that check none leaked).
    pub fn values(&self) -> Vec<&str> {
        vec![
            self.admin.expose(),
            self.root.expose(),
            self.mail.expose(),
            self.ssh_private.expose(),
            self.dns_update.expose(),
            self.dns_admin.expose(),
            // the keys' secrets alone, as a key statement would hold them
            tsig_secret(&self.dns_update),
            tsig_secret(&self.dns_admin),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_ad_complexity_and_differ() {
        let a = password(16).unwrap();
        let b = password(16).unwrap();
        assert_ne!(a.expose(), b.expose());
        let s = a.expose();
        assert_eq!(s.len(), 20);
        assert!(s.chars().any(|c| c.is_ascii_uppercase()));
        assert!(s.chars().any(|c| c.is_ascii_lowercase()));
        assert!(s.chars().any(|c| c.is_ascii_digit()));
        assert_eq!(format!("{a:?}"), "[redacted]");
    }

    #[test]
    fn secret_files_are_private() {
        let d = std::env::temp_dir().join(format!("drlab-labkit-secrets-{}", std::process::id()));
        let s = LabSecrets::generate(&d, "t").unwrap();
        for p in [
            &s.files.admin,
            &s.files.root,
            &s.files.mail,
            &s.files.ssh_key,
            &s.files.dns_update,
            &s.files.dns_admin,
        ] {
            let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let dir_mode = fs::metadata(d.join("secrets"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert!(s.ssh_public.starts_with("ssh-ed25519 "));
        // the keys are what the drivers parse, and differ
        for k in [&s.dns_update, &s.dns_admin] {
            drlab_real::dns::TsigKey::parse_spec(k).unwrap();
        }
        assert_ne!(s.dns_update.expose(), s.dns_admin.expose());
        fs::remove_dir_all(&d).unwrap();
    }
}
