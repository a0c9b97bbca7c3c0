//! Credentials: read from the environment or a file, never printed. `Debug`
//! and `Display` show `[redacted]`; only [`Secret::expose`] gives the value,
//! and only protocol code calls it.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// A secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained from a trusted source.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the protocol message that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret comes from, as an inventory writes it:
/// `{ env = "DRLAB_ADMIN_PASSWORD" }` or `{ file = "/run/secrets/admin" }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum SecretSource {
    /// An environment variable.
    Env {
        /// Its name.
        env: String,
    },
    /// A file whose content (trailing newline removed) is the secret.
    File {
        /// Its path.
        file: PathBuf,
    },
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set (or not Unicode).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl SecretSource {
    /// Reads the secret.
    pub fn load(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env { env } => std::env::var(env)
                .map(Secret)
                .map_err(|_| SecretError::MissingEnv(env.clone())),
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|source| SecretError::File {
                    path: file.clone(),
                    source,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_source_trims_the_newline() {
        let d = std::env::temp_dir().join(format!("drlab-secret-{}", std::process::id()));
        std::fs::write(&d, "pw\n").unwrap();
        let s = SecretSource::File { file: d.clone() }.load().unwrap();
        assert_eq!(s.expose(), "pw");
        std::fs::remove_file(d).unwrap();
        let e = SecretSource::Env {
            env: "DRLAB_SURELY_UNSET_VARIABLE".into(),
        }
        .load()
        .unwrap_err();
        assert!(e.to_string().contains("DRLAB_SURELY_UNSET_VARIABLE"));
    }
}
