//! Encryption of tokens at rest: AES-256-GCM with a keyring.
//!
//! Every token is sealed separately with a fresh random 96-bit nonce. The stored value is
//! `0x01 ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`; the id of the key that sealed it is
//! stored beside it (column `token_key_id`). The associated data binds the ciphertext to the
//! credential's identity (user id and NINO) and to the field (access or refresh), so a ciphertext
//! copied into another row, or from the refresh column into the access column, fails to decrypt
//! instead of handing out another user's token.
//!
//! A [`Keyring`] holds the current key, used for every new write, and older keys that still
//! decrypt rows written before a rotation. [`Credentials::rotate_keys`] rewrites old rows with the
//! current key, after which old keys can be removed from the configuration.
//!
//! [`Credentials::rotate_keys`]: crate::Credentials::rotate_keys

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, Generate, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{KeyError, StoreError};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AAD_DOMAIN: &[u8] = b"mtd-store/credential-token/v1";

/// The identifier of an encryption key, stored with every ciphertext so keys can rotate.
///
/// 1 to 64 characters from `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Checks and wraps a key id.
    pub fn new(id: impl Into<String>) -> Result<Self, KeyError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(id))
        } else {
            Err(KeyError::InvalidKeyId(id))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit AES key. `Debug` prints `[redacted]`; the bytes are wiped on drop.
#[derive(Clone)]
pub struct EncryptionKey(Zeroizing<[u8; 32]>);

impl EncryptionKey {
    /// Reads a key from standard base64 (with padding) of exactly 32 bytes, as produced by
    /// `openssl rand -base64 32`.
    ///
    /// ```
    /// use mtd_store::EncryptionKey;
    /// let key = EncryptionKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
    /// assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
    /// assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
    /// # Ok::<(), mtd_store::KeyError>(())
    /// ```
    pub fn from_base64(encoded: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyError::NotBase64)?,
        );
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// A new random key from the operating system's secure random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let bytes = <[u8; 32]>::try_generate().map_err(|_| KeyError::Rng)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The key as standard base64, for writing it into a secret store. Handle with care.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_slice()))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// The keys that encrypt tokens at rest: one current key for writing and any number of older
/// keys that still decrypt rows written before a rotation.
///
/// `Debug` lists key ids only.
///
/// ```
/// use mtd_store::{EncryptionKey, Keyring};
/// // From configuration: `current-id:base64,older-id:base64,...` (the first key is current).
/// let spec = format!(
///     "2025-06:{},2024-01:{}",
///     EncryptionKey::generate()?.expose_base64().as_str(),
///     EncryptionKey::generate()?.expose_base64().as_str(),
/// );
/// let keyring = Keyring::from_spec(&spec)?;
/// assert_eq!(keyring.current_key_id().as_str(), "2025-06");
/// assert!(format!("{keyring:?}").contains("2024-01"));
/// # Ok::<(), mtd_store::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: KeyId,
    keys: BTreeMap<KeyId, Aes256Gcm>,
}

impl Keyring {
    /// A keyring with a single key, which is current.
    pub fn new(current_id: impl Into<String>, key: EncryptionKey) -> Result<Self, KeyError> {
        let id = KeyId::new(current_id)?;
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), cipher(&key));
        Ok(Self { current: id, keys })
    }

    /// Adds an older key that still decrypts rows written with it; new writes keep using the
    /// current key.
    pub fn with_old_key(
        mut self,
        id: impl Into<String>,
        key: EncryptionKey,
    ) -> Result<Self, KeyError> {
        let id = KeyId::new(id)?;
        if self.keys.contains_key(&id) {
            return Err(KeyError::DuplicateKeyId(id.0));
        }
        self.keys.insert(id, cipher(&key));
        Ok(self)
    }

    /// Parses `id:base64[,id:base64...]`; the first key is the current one. Whitespace around
    /// entries is ignored.
    pub fn from_spec(spec: &str) -> Result<Self, KeyError> {
        let mut entries = spec
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (id, key) = entry.split_once(':').ok_or(KeyError::MalformedSpec)?;
                Ok::<_, KeyError>((id.trim().to_owned(), EncryptionKey::from_base64(key)?))
            });
        let (id, key) = entries.next().ok_or(KeyError::EmptySpec)??;
        let mut keyring = Self::new(id, key)?;
        for entry in entries {
            let (id, key) = entry?;
            keyring = keyring.with_old_key(id, key)?;
        }
        Ok(keyring)
    }

    /// The id of the key used for new writes.
    pub fn current_key_id(&self) -> &KeyId {
        &self.current
    }

    /// Every key id this keyring can decrypt.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    /// Encrypts with the current key; returns the key id and the stored bytes.
    pub(crate) fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<(KeyId, Vec<u8>), StoreError> {
        let cipher = self
            .keys
            .get(&self.current)
            .expect("the current key is inserted by the constructor and never removed");
        let nonce = Nonce::try_generate().map_err(|_| StoreError::Key(KeyError::Rng))?;
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| StoreError::Encrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok((self.current.clone(), out))
    }

    /// Decrypts bytes written by [`Keyring::seal`] with the key named `key_id`.
    pub(crate) fn open(
        &self,
        key_id: &str,
        stored: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let cipher = KeyId::new(key_id)
            .ok()
            .and_then(|id| self.keys.get(&id))
            .ok_or_else(|| StoreError::UnknownKey {
                key_id: key_id.to_owned(),
            })?;
        let decrypt_error = || StoreError::Decrypt {
            key_id: key_id.to_owned(),
        };
        let (format, rest) = stored.split_first().ok_or_else(decrypt_error)?;
        if *format != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(decrypt_error());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| decrypt_error())?;
        cipher
            .decrypt(&nonce, Payload { msg: sealed, aad })
            .map(Zeroizing::new)
            .map_err(|_| decrypt_error())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.as_str())
            .field(
                "keys",
                &self.keys.keys().map(KeyId::as_str).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn cipher(key: &EncryptionKey) -> Aes256Gcm {
    let bytes: &[u8; 32] = &key.0;
    Aes256Gcm::new(bytes.into())
}

/// Which token a ciphertext holds; part of the associated data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenField {
    Access,
    Refresh,
}

/// Associated data binding a token ciphertext to its credential and field.
pub(crate) fn token_aad(user_id: &str, nino: &str, field: TokenField) -> Vec<u8> {
    let field: &[u8] = match field {
        TokenField::Access => b"access",
        TokenField::Refresh => b"refresh",
    };
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + user_id.len() + nino.len() + 32);
    for part in [AAD_DOMAIN, user_id.as_bytes(), nino.as_bytes(), field] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(id: &str) -> Keyring {
        Keyring::new(id, EncryptionKey::generate().expect("rng")).expect("valid id")
    }

    #[test]
    fn sealed_bytes_open_with_the_same_key_and_associated_data() {
        let ring = keyring("k1");
        let aad = token_aad("user-1", "AA123456A", TokenField::Access);
        let (id, sealed) = ring.seal(b"token", &aad).expect("seal");
        assert_eq!(id.as_str(), "k1");
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(
            ring.open("k1", &sealed, &aad).expect("open").as_slice(),
            b"token"
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let ring = keyring("k1");
        let (_, a) = ring.seal(b"token", b"aad").expect("seal");
        let (_, b) = ring.seal(b"token", b"aad").expect("seal");
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
    }

    #[test]
    fn other_associated_data_or_a_flipped_bit_fails_to_open() {
        let ring = keyring("k1");
        let aad = token_aad("user-1", "AA123456A", TokenField::Access);
        let (_, mut sealed) = ring.seal(b"token", &aad).expect("seal");
        for other in [
            token_aad("user-2", "AA123456A", TokenField::Access),
            token_aad("user-1", "AA123456B", TokenField::Access),
            token_aad("user-1", "AA123456A", TokenField::Refresh),
        ] {
            assert!(matches!(
                ring.open("k1", &sealed, &other),
                Err(StoreError::Decrypt { .. })
            ));
        }
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            ring.open("k1", &sealed, &aad),
            Err(StoreError::Decrypt { .. })
        ));
    }

    #[test]
    fn associated_data_is_unambiguous_about_field_boundaries() {
        assert_ne!(
            token_aad("ab", "c", TokenField::Access),
            token_aad("a", "bc", TokenField::Access)
        );
    }

    #[test]
    fn a_key_id_missing_from_the_keyring_is_named_in_the_error() {
        let (_, sealed) = keyring("old").seal(b"token", b"aad").expect("seal");
        let err = keyring("new")
            .open("old", &sealed, b"aad")
            .expect_err("unknown key");
        assert!(matches!(&err, StoreError::UnknownKey { key_id } if key_id == "old"));
        assert!(err.to_string().contains("\"old\""), "{err}");
    }

    #[test]
    fn spec_parsing_rejects_bad_input_with_clear_errors() {
        let key = EncryptionKey::generate().expect("rng").expose_base64();
        assert!(matches!(Keyring::from_spec(""), Err(KeyError::EmptySpec)));
        assert!(matches!(
            Keyring::from_spec("nocolon"),
            Err(KeyError::MalformedSpec)
        ));
        assert!(matches!(
            Keyring::from_spec("k1:!!!"),
            Err(KeyError::NotBase64)
        ));
        assert!(matches!(
            Keyring::from_spec("k1:c2hvcnQ="),
            Err(KeyError::WrongLength(5))
        ));
        assert!(matches!(
            Keyring::from_spec(&format!("bad id:{}", key.as_str())),
            Err(KeyError::InvalidKeyId(_))
        ));
        assert!(matches!(
            Keyring::from_spec(&format!("k1:{0},k1:{0}", key.as_str())),
            Err(KeyError::DuplicateKeyId(_))
        ));
        let ring = Keyring::from_spec(&format!(" k2:{0} , k1:{0} ", key.as_str())).expect("valid");
        assert_eq!(ring.current_key_id().as_str(), "k2");
        assert_eq!(ring.key_ids().count(), 2);
    }

    #[test]
    fn key_errors_never_echo_key_material() {
        let err = Keyring::from_spec("k1:c2VjcmV0LWtleS1tYXRlcmlhbA==").expect_err("too short");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    }
}
