//! `UserStore` on SQLite: users, refresh tokens and device tokens.

use super::super::*;
use crate::store::UserStore;

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let (id, username, doc) = (user.id.clone(), user.username.clone(), to_doc(user)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO users (id, username, doc) VALUES (?1, ?2, ?3)", params![id, username, doc])
                .map_err(duplicate_as("user"))?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM users WHERE id = ?1", [id])).await
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM users WHERE username = ?1", [username])).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| query_docs(c, "SELECT doc FROM users ORDER BY key", [])).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let (id, username, doc) = (user.id.clone(), user.username.clone(), to_doc(user)?);
        self.transact(move |tx| {
            let changed = tx
                .execute("UPDATE users SET username = ?2, doc = ?3 WHERE id = ?1", params![id, username, doc])
                .map_err(duplicate_as("user"))?;
            expect_changed(changed, "user")
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.transact(move |tx| expect_changed(tx.execute("DELETE FROM users WHERE id = ?1", [id]).map_err(map_error)?, "user")).await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let (id, family, user, doc) = (token.id.clone(), token.family_id.clone(), token.user_id.clone(), to_doc(token)?);
        self.transact(move |tx| {
            tx.execute("INSERT INTO refresh_tokens (id, family_id, user_id, doc) VALUES (?1, ?2, ?3, ?4)", params![id, family, user, doc])
                .map_err(duplicate_as("refresh token"))?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh_token(&self, used_id: &str, next: &RefreshToken, at: Timestamp) -> StoreResult<RefreshRotation> {
        let (used_id, next, at) = (used_id.to_owned(), next.clone(), to_doc(&at)?);
        self.transact(move |tx| {
            let found: Option<RefreshToken> = query_doc(tx, "SELECT doc FROM refresh_tokens WHERE id = ?1", [&used_id])?;
            let used = found.ok_or_else(|| StoreError::NotFound("refresh token".into()))?;
            if used.used_at.is_some() || used.revoked_at.is_some() {
                tx.execute(
                    "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked_at', json(?2))
                     WHERE family_id = ?1 AND json_extract(doc, '$.revoked_at') IS NULL",
                    params![used.family_id, at],
                )
                .map_err(map_error)?;
                return Ok(RefreshRotation::Reused);
            }
            tx.execute("UPDATE refresh_tokens SET doc = json_set(doc, '$.used_at', json(?2)) WHERE id = ?1", params![used_id, at])
                .map_err(map_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (id, family_id, user_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![next.id, next.family_id, next.user_id, to_doc(&next)?],
            )
            .map_err(duplicate_as("refresh token"))?;
            Ok(RefreshRotation::Rotated)
        })
        .await
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: Timestamp) -> StoreResult<()> {
        let (user_id, at) = (user_id.to_owned(), to_doc(&at)?);
        self.transact(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET doc = json_set(doc, '$.revoked_at', json(?2))
                 WHERE user_id = ?1 AND json_extract(doc, '$.revoked_at') IS NULL",
                params![user_id, at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn prune_refresh_tokens(&self, user_id: &str, before: Timestamp) -> StoreResult<u64> {
        let (user_id, before) = (user_id.to_owned(), before.timestamp());
        self.transact(move |tx| {
            let deleted = tx
                .execute(
                    "DELETE FROM refresh_tokens WHERE user_id = ?1 AND unixepoch(json_extract(doc, '$.expires_at')) < ?2",
                    params![user_id, before],
                )
                .map_err(map_error)?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn insert_device_token(&self, token: &DeviceToken) -> StoreResult<()> {
        let (id, sensor, hash, doc) = (token.id.clone(), token.sensor_id.clone(), token.token_hash.clone(), to_doc(token)?);
        self.transact(move |tx| {
            tx.execute(
                "INSERT INTO device_tokens (id, sensor_id, token_hash, doc) VALUES (?1, ?2, ?3, ?4)",
                params![id, sensor, hash, doc],
            )
            .map_err(duplicate_as("device token"))?;
            Ok(())
        })
        .await
    }

    async fn find_device_token(&self, token_hash: &str) -> StoreResult<Option<DeviceToken>> {
        let hash = token_hash.to_owned();
        self.read(move |c| query_doc(c, "SELECT doc FROM device_tokens WHERE token_hash = ?1", [hash])).await
    }

    async fn list_device_tokens(&self) -> StoreResult<Vec<DeviceToken>> {
        self.read(|c| query_docs(c, "SELECT doc FROM device_tokens ORDER BY key", [])).await
    }

    async fn revoke_device_token(&self, sensor_id: &str, id: &str, at: Timestamp) -> StoreResult<()> {
        let (sensor_id, id) = (sensor_id.to_owned(), id.to_owned());
        self.transact(move |tx| {
            let found: Option<DeviceToken> =
                query_doc(tx, "SELECT doc FROM device_tokens WHERE id = ?1 AND sensor_id = ?2", [&id, &sensor_id])?;
            let mut token = found.ok_or_else(|| StoreError::NotFound("device token".into()))?;
            token.revoked_at.get_or_insert(at);
            tx.execute("UPDATE device_tokens SET doc = ?2 WHERE id = ?1", params![id, to_doc(&token)?]).map_err(map_error)?;
            Ok(())
        })
        .await
    }
}
