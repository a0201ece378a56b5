use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Experimenter,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Experimenter => "experimenter",
            Role::Operator => "operator",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "admin" => Ok(Role::Admin),
            "experimenter" => Ok(Role::Experimenter),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role \"{other}\" (expected admin, experimenter or operator)")),
        }
    }
}

/// A person who signs in. `password_hash` is an argon2id PHC string and never leaves the services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A sensor's device token; only the SHA-256 of the token is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceToken {
    pub id: String,
    pub sensor_id: String,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A named selection of the sensors file's sensors, each enabled or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorConfig {
    pub id: String,
    pub name: String,
    pub sensors: Vec<ConfiguredSensor>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every update; the store refuses a write based on an older version.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConfiguredSensor {
    pub id: String,
    #[serde(rename = "type")]
    pub sensor_type: String,
    pub name: String,
    pub enabled: bool,
}

/// One issued refresh token. Every refresh marks the presented token used and issues the next
/// one in the same family; presenting a used token again means it was stolen or replayed, so
/// the whole family (that login's every token) is revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// It was current: it is now used, and the next one is stored.
    Rotated,
    /// It was already used or revoked: its whole family is now revoked.
    Reused,
}
