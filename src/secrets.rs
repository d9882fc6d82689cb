//! Encryption at rest for secrets the service must give back (variable values, add-on
//! credentials): XChaCha20-Poly1305 under a 32-byte key, a random 192-bit nonce per value,
//! and the owning row's identity as associated data, so a sealed value copied to another
//! row or app does not open.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NONCE_LEN: usize = 24;

/// Bytes a sealed value has beyond its plaintext: the nonce and Poly1305's 16-byte tag. The
/// variable quota in bytes counts plaintext from the stored length with it.
pub const SEALING_OVERHEAD: usize = NONCE_LEN + 16;

/// Seals and opens secrets. `Debug` never shows the key.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256 under a key derived from the box's, for values the service hands out
    /// and must recognise when they come back (list cursors).
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// A sealed value could not be opened (wrong key, tampered or moved row).
#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (wrong ROLEGATE_SECRETS_KEY or tampered data)")]
pub struct OpenError;

impl SecretBox {
    /// A box over a 32-byte key.
    pub fn new(key: &[u8; 32]) -> SecretBox {
        // The MAC key is derived, not the cipher's key reused.
        let derived = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .expect("HMAC takes keys of any length")
            .chain_update(b"rolegate/mac/v1")
            .finalize()
            .into_bytes();
        SecretBox {
            cipher: XChaCha20Poly1305::new(key.into()),
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("HMAC takes keys of any length"),
        }
    }

    /// A keyed tag of `parts` (each length-prefixed, so no two lists of parts share a tag).
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `context` (such as the app id and
    /// the variable name).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            // Encryption fails only on inputs of more than 256 GiB.
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`seal`](Self::seal) produced with the same context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| OpenError)
    }

    /// Opens a UTF-8 secret.
    pub fn open_string(&self, sealed: &[u8], context: &[u8]) -> Result<String, OpenError> {
        String::from_utf8(self.open(sealed, context)?).map_err(|_| OpenError)
    }
}

/// Decodes `ROLEGATE_SECRETS_KEY` (base64 of 32 bytes).
pub fn decode_key(encoded: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "must be base64 (try `openssl rand -base64 32`)".to_owned())?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("must decode to 32 bytes, got {}", b.len()))
}

/// The key file kept beside a SQLite database when no key is configured.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let dir = Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default();
    Some(dir.join("rolegate.key"))
}

/// Reads the key file, or creates it (mode 0600) with a new random key.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(encoded) => decode_key(&encoded).map_err(|m| std::io::Error::other(format!("{}: {m}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            use std::io::Write;
            options.open(path)?.write_all(STANDARD.encode(key).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_bind_to_context() {
        let sb = SecretBox::new(&[7u8; 32]);
        let sealed = sb.seal(b"s3cret", b"app-1/DATABASE_URL").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        // The SQL of the variable quota counts plaintext bytes with this (store/sql/variables.rs).
        assert_eq!(sealed.len(), 6 + SEALING_OVERHEAD);
        assert_eq!(SEALING_OVERHEAD, 40);
        assert_eq!(sb.open_string(&sealed, b"app-1/DATABASE_URL").unwrap(), "s3cret");
        assert!(sb.open(&sealed, b"app-2/DATABASE_URL").is_err());
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed, b"app-1/DATABASE_URL").is_err());
        assert_ne!(sealed, sb.seal(b"s3cret", b"app-1/DATABASE_URL").unwrap());
    }

    #[test]
    fn keys_and_key_files() {
        assert!(decode_key("AAAA").is_err());
        assert_eq!(decode_key(&STANDARD.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert_eq!(
            key_file_for("sqlite://data/rolegate.db"),
            Some(PathBuf::from("data/rolegate.key"))
        );
        assert_eq!(
            key_file_for("sqlite://rolegate.db"),
            Some(PathBuf::from("rolegate.key"))
        );
        assert_eq!(key_file_for("postgres://x/y"), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rolegate.key");
        let first = load_or_create_key_file(&path).unwrap();
        assert_eq!(load_or_create_key_file(&path).unwrap(), first);
    }
}
