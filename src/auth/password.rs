//! Argon2id password hashes, computed off the async threads, a bounded number at once, and
//! the policy a new password must meet.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::domain::Password;
use crate::error::ApiError;

/// Longest wait for a free hashing slot before answering 503.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// Waits for one of the `slots`: argon2 takes 19 MiB and a core's worth of time, so only so
/// many run at once; a request that cannot start within a second answers 503 with
/// `Retry-After` instead of queueing without bound.
async fn slot(slots: &Semaphore) -> Result<SemaphorePermit<'_>, ApiError> {
    match tokio::time::timeout(SLOT_WAIT, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) | Err(_) => Err(ApiError::Unavailable),
    }
}

/// Hashes a password (PHC string) on the blocking pool.
pub async fn hash(slots: &Semaphore, password: Password) -> Result<String, ApiError> {
    let _permit = slot(slots).await?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(ApiError::internal)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches `hash`. With no hash (unknown user, or an account without
/// a password) it still spends the time of one verification, so response times do not
/// tell which emails have accounts.
pub async fn verify(slots: &Semaphore, password: String, hash: Option<String>) -> Result<bool, ApiError> {
    let _permit = slot(slots).await?;
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or(DUMMY_HASH);
        let parsed = PasswordHash::new(stored).map_err(|e| ApiError::internal(e.to_string()))?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(matches && hash.is_some())
    })
    .await
    .map_err(ApiError::internal)?
}

/// The hash of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W8n4l3zx3cWbEcXzVdTc3zCp0Or6yR2oz8ES8Xj4Nkg";

/// The policy of a new password, after NIST SP 800-63B: 12 to 1024 characters, not built on
/// the address, and hard enough to guess (zxcvbn, told the email and the name, scores it 3
/// or 4 of 4). Existing passwords are not checked again.
pub fn policy(raw: String, email: &str, name: Option<&str>) -> Result<Password, String> {
    let count = raw.chars().count();
    if count < 12 {
        return Err("must be at least 12 characters".into());
    }
    let password = Password::parse(raw).map_err(str::to_owned)?;
    let local = email.split('@').next().unwrap_or(email).to_lowercase();
    if local.chars().count() >= 3 && password.expose().to_lowercase().contains(&local) {
        return Err("must not contain your email address".into());
    }
    let mut inputs = vec![email, local.as_str()];
    inputs.extend(name);
    let estimate = zxcvbn::zxcvbn(password.expose(), &inputs);
    if u8::from(estimate.score()) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "add more words or characters that are hard to guess".into());
        return Err(format!("is too easy to guess ({hint})"));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_matches() {
        let slots = Semaphore::new(1);
        let h = hash(&slots, Password::parse("correct horse battery".into()).unwrap())
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify(&slots, "correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify(&slots, "wrong password!".into(), Some(h)).await.unwrap());
        assert!(!verify(&slots, "anything at all".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_house_answers_503_after_a_second() {
        let slots = Semaphore::new(1);
        let _held = slots.acquire().await.unwrap();
        let started = std::time::Instant::now();
        let refused = verify(&slots, "whatever it is".into(), None).await;
        assert!(matches!(refused, Err(ApiError::Unavailable)));
        assert!(started.elapsed() >= SLOT_WAIT);
    }

    #[test]
    fn the_policy_refuses_short_guessable_and_personal_passwords() {
        let email = "ada.lovelace@example.com";
        for (weak, why) in [
            ("short one", "at least 12"),
            ("aaaaaaaaaaaaaaaa", "too easy"),
            ("123456789012", "too easy"),
            ("ada.lovelace@example.com", "email"),
            ("my ada.lovelace password", "email"),
        ] {
            let err = policy(weak.into(), email, None).unwrap_err();
            assert!(err.contains(why), "{weak}: {err}");
        }
        assert!(policy("correct horse battery staple".into(), email, None).is_ok());
        assert!(policy("x".repeat(1025), email, None).is_err());
    }
}
