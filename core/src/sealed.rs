//! Encryption at rest of sensitive variables (docs/encryption.md): the key ring, the sealed
//! form of a value, and the associated data that binds a ciphertext to its row.
//!
//! A sealed value is stored as the JSON object `{"noetl_vars_sealed": "v1.<key id>.<data>"}`,
//! `data` being the base64url (no padding) of a random 24-byte nonce followed by the
//! XChaCha20-Poly1305 ciphertext and tag of the value's JSON text. The associated data names
//! the row (table, execution, step, name, …), so a ciphertext copied to another row, or a
//! key id edited in place, fails authentication instead of decrypting.
//!
//! Keys never pass through SQL: the host reads a key ring (see [`KeyRing::parse`]) from a file
//! or a command only the server's configuration names. The first key of the ring seals; every
//! key of the ring opens what it sealed.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// The only key of the JSON object a sealed value is stored as.
pub const MARK: &str = "noetl_vars_sealed";

const VERSION: &str = "v1";
const NONCE: usize = 24;
const TAG: usize = 16;
const MAX_ID: usize = 64;

/// A part of the associated data: the columns that identify a row.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

/// The associated data of a row identified by `parts` (its table first). Each part is tagged
/// and length-prefixed, so no two different rows give the same bytes.
pub fn associated_data(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = b"noetl_vars sealed v1".to_vec();
    for part in parts {
        match part {
            Part::Text(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Part::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_be_bytes());
            }
            Part::Null => out.push(0),
        }
    }
    out
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys a server may use: the first seals, all open.
pub struct KeyRing {
    keys: Vec<Key>,
}

/// Why a sealed value could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not of the form `v1.<key id>.<data>`, or too short to hold a nonce and a tag.
    Malformed,
    /// Sealed with a key the ring does not hold.
    UnknownKey(String),
    /// The data does not authenticate: altered, copied from another row, or a wrong key
    /// under the same id.
    Forged,
}

impl KeyRing {
    /// Reads a key ring: one key per line, `<id> <key>`, the key 32 bytes written as 64 hex
    /// digits or in base64; blank lines and lines starting with `#` are skipped. Ids are 1 to
    /// 64 characters of `A-Z a-z 0-9 _ -`, each once. The first key is the active one.
    /// Errors name the line, never key material.
    pub fn parse(text: &str) -> Result<KeyRing, String> {
        let mut keys: Vec<Key> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(id), Some(material), None) = (words.next(), words.next(), words.next())
            else {
                return Err(format!("line {}: expected \"<key id> <key>\"", n + 1));
            };
            if !valid_id(id) {
                return Err(format!(
                    "line {}: a key id is 1 to {MAX_ID} characters of A-Z, a-z, 0-9, _ and -",
                    n + 1
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("line {}: key id \"{id}\" appears twice", n + 1));
            }
            let bytes = decode_key(material).ok_or_else(|| {
                format!(
                    "line {}: key \"{id}\" is not 32 bytes in hex (64 digits) or base64",
                    n + 1
                )
            })?;
            keys.push(Key {
                id: id.to_string(),
                cipher: XChaCha20Poly1305::new(bytes.as_slice().into()),
            });
        }
        if keys.is_empty() {
            return Err("no key in it".into());
        }
        Ok(KeyRing { keys })
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Whether the ring holds key `id`.
    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// Seals `plaintext` for the row whose associated data is `aad`, with the active key and
    /// a fresh random nonce: the text stored under [`MARK`].
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, String> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce)
            .map_err(|e| format!("no random nonce from the operating system: {e}"))?;
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| "the value could not be encrypted".to_string())?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(&data)
        ))
    }

    /// Opens a text [`Self::seal`] produced for the row whose associated data is `aad`.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let (id, data) = split(sealed).ok_or(OpenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| OpenError::Malformed)?;
        if data.len() < NONCE + TAG {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = data.split_at(NONCE);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Forged)
    }
}

/// The key id a sealed text names, if it has the sealed form.
pub fn key_id(sealed: &str) -> Option<&str> {
    split(sealed).map(|(id, _)| id)
}

fn split(sealed: &str) -> Option<(&str, &str)> {
    let rest = sealed.strip_prefix(VERSION)?.strip_prefix('.')?;
    let (id, data) = rest.split_once('.')?;
    valid_id(id).then_some((id, data))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn decode_key(material: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = if material.len() == 64 && material.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&material[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        STANDARD.decode(material).ok()?
    };
    let bytes = Zeroizing::new(bytes);
    (bytes.len() == 32).then_some(bytes)
}
