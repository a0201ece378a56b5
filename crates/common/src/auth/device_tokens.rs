//! Checking device tokens where a service requires them (ingest's sample posts, control's
//! device sockets): the presented token's SHA-256 is looked up in the store and remembered for
//! a while (so a sensor posting at 250 Hz does not cost a store read per request); a token
//! speaks only for the sensor it was issued for. Revocation takes effect within the cache time.

use super::device_token;
use crate::model::DeviceToken;
use crate::{ApiError, AppContext};
use std::time::{Duration, Instant};

const CACHE_CAPACITY: usize = 10_000;

pub struct DeviceTokens {
    required: bool,
    ttl: Duration,
    /// Token hash -> the stored token (or none) and when it was read.
    cache: quick_cache::sync::Cache<String, (Option<DeviceToken>, Instant)>,
}

impl DeviceTokens {
    pub fn new(required: bool, ttl: Duration) -> Self {
        Self { required, ttl, cache: quick_cache::sync::Cache::new(CACHE_CAPACITY) }
    }

    /// `None` when tokens are not required, else the sensor the `presented` token speaks for.
    pub async fn sensor_of(&self, context: &AppContext, presented: Option<&str>) -> Result<Option<String>, ApiError> {
        if !self.required {
            return Ok(None);
        }
        let token = presented.ok_or_else(|| ApiError::unauthorized("a device token is required (Authorization: Bearer <token>)"))?;
        let hash = device_token::hash(token);
        let found = match self.cache.get(&hash) {
            Some((found, read_at)) if read_at.elapsed() < self.ttl => found,
            _ => {
                let found = context.store.find_device_token(&hash).await?;
                self.cache.insert(hash, (found.clone(), Instant::now()));
                found
            }
        };
        match found {
            Some(token) if token.revoked_at.is_none() => Ok(Some(token.sensor_id)),
            Some(_) => Err(ApiError::unauthorized("this device token was revoked")),
            None => Err(ApiError::unauthorized("unknown device token")),
        }
    }
}
