//! Page cursors: opaque to clients, checked when they come back. A cursor is the base64url
//! of a version byte, the position in the list (a row id, or an app's name) and the first
//! 12 bytes of an HMAC over the list's name, the version and the position. A cursor the
//! server did not make, one made for another list or one that was edited is a 422 naming
//! `cursor`, never an empty page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use crate::secrets::SecretBox;

const VERSION: u8 = 1;
const TAG_LEN: usize = 12;
/// An app name is at most 48 bytes; nothing longer is a cursor.
const MAX_LEN: usize = 128;

/// The paginated lists, each with cursors of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// `GET /v1/apps`, by name.
    Apps,
    /// `GET /v1/apps/{app}/deployments`, by id.
    Deployments,
    /// `GET /v1/apps/{app}/events`, by id.
    Timeline,
    /// `GET /v1/events`, by id.
    Audit,
    /// `GET /v1/users/self/security-events`, by id.
    SecurityEvents,
}

impl Listing {
    fn name(self) -> &'static [u8] {
        match self {
            Listing::Apps => b"apps",
            Listing::Deployments => b"deployments",
            Listing::Timeline => b"timeline",
            Listing::Audit => b"audit",
            Listing::SecurityEvents => b"security-events",
        }
    }
}

/// The cursor of `position` in `list`.
pub fn encode(secrets: &SecretBox, list: Listing, position: &[u8]) -> String {
    let tag = secrets.tag(&[list.name(), &[VERSION], position]);
    let mut bytes = Vec::with_capacity(1 + position.len() + TAG_LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(position);
    bytes.extend_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a cursor of `list` stands for; 422 on `cursor` for anything else.
pub fn decode(secrets: &SecretBox, list: Listing, cursor: &str) -> Result<Vec<u8>, ApiError> {
    let refused = || {
        ApiError::invalid(
            "cursor",
            "is not a cursor from this list; pass `next_cursor` as it was given",
        )
    };
    if cursor.len() > MAX_LEN {
        return Err(refused());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
    let [version, rest @ ..] = bytes.as_slice() else {
        return Err(refused());
    };
    if *version != VERSION || rest.len() < TAG_LEN {
        return Err(refused());
    }
    let (position, tag) = rest.split_at(rest.len() - TAG_LEN);
    let expected = secrets.tag(&[list.name(), &[VERSION], position]);
    if !bool::from(expected[..TAG_LEN].ct_eq(tag)) {
        return Err(refused());
    }
    Ok(position.to_vec())
}

/// The cursor of a row id.
pub fn of_id(secrets: &SecretBox, list: Listing, id: Uuid) -> String {
    encode(secrets, list, id.as_bytes())
}

/// The row id a cursor stands for.
pub fn id_of(secrets: &SecretBox, list: Listing, cursor: &str) -> Result<Uuid, ApiError> {
    let position = decode(secrets, list, cursor)?;
    Uuid::from_slice(&position).map_err(|_| {
        ApiError::invalid(
            "cursor",
            "is not a cursor from this list; pass `next_cursor` as it was given",
        )
    })
}

/// The text (an app name) a cursor stands for.
pub fn text_of(secrets: &SecretBox, list: Listing, cursor: &str) -> Result<String, ApiError> {
    let position = decode(secrets, list, cursor)?;
    String::from_utf8(position).map_err(|_| {
        ApiError::invalid(
            "cursor",
            "is not a cursor from this list; pass `next_cursor` as it was given",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let secrets = SecretBox::new(&[3u8; 32]);
        let id = Uuid::now_v7();
        let cursor = of_id(&secrets, Listing::Deployments, id);
        assert_eq!(id_of(&secrets, Listing::Deployments, &cursor).unwrap(), id);
        // Another list, another key, an edit, plain ids and junk are all refused.
        assert!(id_of(&secrets, Listing::Timeline, &cursor).is_err());
        assert!(id_of(&SecretBox::new(&[4u8; 32]), Listing::Deployments, &cursor).is_err());
        let mut edited = cursor.clone().into_bytes();
        edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
        assert!(id_of(&secrets, Listing::Deployments, &String::from_utf8(edited).unwrap()).is_err());
        assert!(id_of(&secrets, Listing::Deployments, &id.to_string()).is_err());
        for junk in ["", "zzz", "AQ", "====", &"A".repeat(500)] {
            assert!(decode(&secrets, Listing::Apps, junk).is_err(), "{junk}");
        }
        let name = encode(&secrets, Listing::Apps, b"web-1");
        assert_eq!(text_of(&secrets, Listing::Apps, &name).unwrap(), "web-1");
    }
}
