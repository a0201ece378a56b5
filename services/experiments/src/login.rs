//! Login throttling and the constant-time answer for unknown users. Attempts are limited per
//! account (a guessed password) and per client address (one client trying many accounts);
//! beyond either limit the answer is 429 with `Retry-After`.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use srs_common::ApiError;
use std::num::NonZeroU32;
use tokio::sync::OnceCell;

/// Keyed limiters prune idle keys once they hold this many.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub per_account_per_minute: u32,
    pub per_address_per_minute: u32,
}

impl LoginLimits {
    pub fn from_settings(settings: &srs_common::Settings) -> Self {
        Self {
            per_account_per_minute: settings.auth.login_attempts_per_account_per_minute,
            per_address_per_minute: settings.auth.login_attempts_per_address_per_minute,
        }
    }
}

pub struct LoginState {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<String>,
    /// A real argon2id hash verified for unknown usernames, so a login for a user that does
    /// not exist takes as long as one with a wrong password.
    dummy_hash: OnceCell<String>,
}

fn limiter(per_minute: u32) -> DefaultKeyedRateLimiter<String> {
    RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN)))
}

impl LoginState {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            per_account: limiter(limits.per_account_per_minute),
            per_address: limiter(limits.per_address_per_minute),
            dummy_hash: OnceCell::new(),
        }
    }

    /// Counts an attempt for the account and the address; 429 if either is over its limit.
    pub fn attempt(&self, username: &str, address: &str) -> Result<(), ApiError> {
        for (limiter, key, what) in
            [(&self.per_address, address.to_owned(), "this address"), (&self.per_account, username.to_lowercase(), "this account")]
        {
            if limiter.len() > PRUNE_AT {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = u32::try_from(wait.as_secs()).unwrap_or(u32::MAX).saturating_add(1);
                return Err(ApiError::too_many_requests(format!("too many login attempts for {what}; retry in {secs} s"), secs));
            }
        }
        Ok(())
    }

    pub async fn dummy_hash(&self) -> Result<String, ApiError> {
        self.dummy_hash
            .get_or_try_init(|| srs_common::auth::password::hash("not a real password".into()))
            .await
            .cloned()
            .map_err(|e| ApiError::internal(e.to_string()))
    }
}
