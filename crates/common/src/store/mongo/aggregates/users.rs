//! `UserStore` on MongoDB: users, refresh tokens and device tokens.

use super::super::*;
use crate::store::UserStore;

#[async_trait]
impl UserStore for MongoStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.insert("users", &user.id, user, "user").await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.find_one("users", doc! {"_id": id}).await
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.find_one("users", doc! {"username": username}).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.find_all("users", doc! {}, doc! {"_id": 1}).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        self.replace("users", &user.id, user, "user").await
    }

    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        let result = self.docs("users").delete_one(doc! {"_id": id}).await.map_err(map_error)?;
        if result.deleted_count == 0 {
            return Err(StoreError::NotFound("user".into()));
        }
        Ok(())
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.insert("refresh_tokens", &token.id, token, "refresh token").await
    }

    async fn rotate_refresh_token(&self, used_id: &str, next: &RefreshToken, at: Timestamp) -> StoreResult<RefreshRotation> {
        let current = doc! {"_id": used_id, "used_at": bson::Bson::Null, "revoked_at": bson::Bson::Null};
        let claimed =
            self.docs("refresh_tokens").find_one_and_update(current, doc! {"$set": {"used_at": to_bson(&at)?}}).await.map_err(map_error)?;
        if claimed.is_some() {
            self.insert_refresh_token(next).await?;
            return Ok(RefreshRotation::Rotated);
        }
        let used: RefreshToken =
            self.find_one("refresh_tokens", doc! {"_id": used_id}).await?.ok_or_else(|| StoreError::NotFound("refresh token".into()))?;
        let family = doc! {"family_id": &used.family_id, "revoked_at": bson::Bson::Null};
        self.docs("refresh_tokens").update_many(family, doc! {"$set": {"revoked_at": to_bson(&at)?}}).await.map_err(map_error)?;
        Ok(RefreshRotation::Reused)
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: Timestamp) -> StoreResult<()> {
        let filter = doc! {"user_id": user_id, "revoked_at": bson::Bson::Null};
        self.docs("refresh_tokens").update_many(filter, doc! {"$set": {"revoked_at": to_bson(&at)?}}).await.map_err(map_error)?;
        Ok(())
    }

    async fn prune_refresh_tokens(&self, user_id: &str, before: Timestamp) -> StoreResult<u64> {
        // Expiry is kept as RFC 3339 text; whole-second precision is plenty for forgetting
        // tokens that can no longer be accepted, so compare on second-truncated text.
        let before = to_bson(&(before - chrono::Duration::seconds(1)))?;
        let result =
            self.docs("refresh_tokens").delete_many(doc! {"user_id": user_id, "expires_at": {"$lt": before}}).await.map_err(map_error)?;
        Ok(result.deleted_count)
    }

    async fn insert_device_token(&self, token: &DeviceToken) -> StoreResult<()> {
        self.insert("device_tokens", &token.id, token, "device token").await
    }

    async fn find_device_token(&self, token_hash: &str) -> StoreResult<Option<DeviceToken>> {
        self.find_one("device_tokens", doc! {"token_hash": token_hash}).await
    }

    async fn list_device_tokens(&self) -> StoreResult<Vec<DeviceToken>> {
        self.find_all("device_tokens", doc! {}, doc! {"_id": 1}).await
    }

    async fn revoke_device_token(&self, sensor_id: &str, id: &str, at: Timestamp) -> StoreResult<()> {
        let filter = doc! {"_id": id, "sensor_id": sensor_id};
        let found = self.docs("device_tokens").count_documents(filter.clone()).await.map_err(map_error)?;
        if found == 0 {
            return Err(StoreError::NotFound("device token".into()));
        }
        let mut not_revoked = filter;
        not_revoked.insert("revoked_at", bson::Bson::Null);
        self.docs("device_tokens").update_one(not_revoked, doc! {"$set": {"revoked_at": to_bson(&at)?}}).await.map_err(map_error)?;
        Ok(())
    }
}
