//! The MongoDB store: production. Kept thin — documents are the model structs plus `_id`, the
//! invariants live in unique indexes created at start-up — and covered entirely by the shared
//! contract suite (run when `SRS_TEST_MONGODB_URI` is set). Writes use write concern majority
//! with journaling, so an acknowledged write survives a failover.

#[macro_use]
mod transaction;
mod alerts;
mod samples;

use self::transaction::Attempt;
use super::{ExperimentUpdate, InsertOutcome, Store, StoreError, StoreResult, NOT_ACTIVE};
use crate::model::*;
use crate::time::{to_ns, Timestamp};
use async_trait::async_trait;
use futures_util::stream::{BoxStream, TryStreamExt};
use mongodb::bson::{self, doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{Acknowledgment, DatabaseOptions, IndexOptions, ReturnDocument, WriteConcern};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use serde::Serialize;

const DUPLICATE_KEY: i32 = 11000;

/// Majority, journaled: an acknowledged write survives a failover.
fn write_concern() -> WriteConcern {
    WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build()
}

/// The one document holding the active experiment and its running recording. Every change of
/// either writes it, so concurrent switches and starts conflict instead of both succeeding.
const STATE: &str = "state";
const ACTIVE: &str = "active";

#[derive(Clone)]
pub struct MongoStore {
    client: mongodb::Client,
    db: Database,
}

impl MongoStore {
    /// Connects and creates the indexes (idempotent). Transactions need a replica set (a
    /// single-node one will do).
    pub async fn connect(uri: &str, database: &str) -> StoreResult<Self> {
        let client = mongodb::Client::with_uri_str(uri).await.map_err(map_error)?;
        let db = client.database_with_options(database, DatabaseOptions::builder().write_concern(write_concern()).build());
        let store = Self { client, db };
        store.create_indexes().await?;
        Ok(store)
    }

    /// The database, for tests that need to drop it.
    pub fn database(&self) -> &Database {
        &self.db
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        let unique = |keys: Document| IndexModel::builder().keys(keys).options(IndexOptions::builder().unique(true).build()).build();
        let plain = |keys: Document| IndexModel::builder().keys(keys).build();
        let indexes = [
            ("users", unique(doc! {"username": 1})),
            ("device_tokens", unique(doc! {"token_hash": 1})),
            ("refresh_tokens", plain(doc! {"family_id": 1})),
            ("refresh_tokens", plain(doc! {"user_id": 1})),
            ("logbook", plain(doc! {"experiment_id": 1, "_id": 1})),
            ("commands", plain(doc! {"sensor_id": 1, "sent_ns": -1})),
            ("device_holders", plain(doc! {"replica": 1})),
            ("progress", plain(doc! {"experiment_id": 1})),
            ("exports", plain(doc! {"experiment_id": 1})),
            ("recordings", plain(doc! {"experiment_id": 1})),
            (
                "recordings",
                IndexModel::builder()
                    .keys(doc! {"running": 1})
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .partial_filter_expression(doc! {"running": true})
                            .name("one_running".to_string())
                            .build(),
                    )
                    .build(),
            ),
            ("samples", unique(doc! {"sensor": 1, "dk": 1})),
            ("samples", plain(doc! {"exp": 1, "ts": 1, "_id": 1})),
            ("samples", plain(doc! {"rec": 1})),
            ("exports", plain(doc! {"status": 1})),
            (
                alerts::ALERTS,
                IndexModel::builder()
                    .keys(doc! {"rule": 1, "subject": 1})
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .partial_filter_expression(doc! {"state": "firing"})
                            .name("one_firing".to_string())
                            .build(),
                    )
                    .build(),
            ),
            (alerts::ALERTS, plain(doc! {"state": 1, "_id": -1})),
            (alerts::DELIVERIES, plain(doc! {"status": 1, "next_attempt_ns": 1})),
            (alerts::DELIVERIES, plain(doc! {"alert_id": 1})),
        ];
        for (collection, index) in indexes {
            self.db.collection::<Document>(collection).create_index(index).await.map_err(map_error)?;
        }
        Ok(())
    }

    fn docs(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    async fn insert<T: Serialize>(&self, collection: &str, id: &str, value: &T, what: &str) -> StoreResult<()> {
        self.docs(collection).insert_one(with_id(value, id)?).await.map_err(duplicate_as(what))?;
        Ok(())
    }

    async fn replace<T: Serialize>(&self, collection: &str, id: &str, value: &T, what: &str) -> StoreResult<()> {
        let result = self.docs(collection).replace_one(doc! {"_id": id}, with_id(value, id)?).await.map_err(duplicate_as(what))?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound(what.to_string()));
        }
        Ok(())
    }

    async fn find_one<T: DeserializeOwned>(&self, collection: &str, filter: Document) -> StoreResult<Option<T>> {
        self.docs(collection).find_one(filter).await.map_err(map_error)?.map(from_doc).transpose()
    }

    async fn find_all<T: DeserializeOwned>(&self, collection: &str, filter: Document, sort: Document) -> StoreResult<Vec<T>> {
        let cursor = self.docs(collection).find(filter).sort(sort).await.map_err(map_error)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        docs.into_iter().map(from_doc).collect()
    }
}

impl MongoStore {
    async fn state(&self) -> StoreResult<Option<Document>> {
        self.docs(STATE).find_one(doc! {"_id": ACTIVE}).await.map_err(map_error)
    }

    /// Inside a transaction: the experiment must be the active one with nothing recording.
    async fn start_in(&self, session: &mut ClientSession, recording: &Recording, document: Document) -> Result<(), Attempt> {
        let idle_and_active = doc! {"_id": ACTIVE, "experiment_id": &recording.experiment_id, "recording_id": bson::Bson::Null};
        let claimed =
            self.docs(STATE).update_one(idle_and_active, doc! {"$set": {"recording_id": &recording.id}}).session(&mut *session).await?;
        if claimed.matched_count == 0 {
            let state = self.docs(STATE).find_one(doc! {"_id": ACTIVE}).session(&mut *session).await?;
            let active = state.as_ref().and_then(|s| s.get_str("experiment_id").ok());
            return Err(Attempt::Store(if active == Some(recording.experiment_id.as_str()) {
                StoreError::Conflict("a recording is already running".into())
            } else {
                StoreError::Conflict(NOT_ACTIVE.into())
            }));
        }
        self.docs("recordings").insert_one(document).session(&mut *session).await?;
        Ok(())
    }

    /// Inside a transaction: marks the recording stopped and frees the state document.
    async fn stop_in(&self, session: &mut ClientSession, id: &str, at: Timestamp) -> Result<Recording, Attempt> {
        let stopped = self
            .docs("recordings")
            .find_one_and_update(doc! {"_id": id, "running": true}, doc! {"$set": {"running": false, "stopped_at": to_bson(&at)?}})
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(stopped) = stopped else {
            let exists = self.docs("recordings").find_one(doc! {"_id": id}).session(&mut *session).await?.is_some();
            return Err(Attempt::Store(if exists {
                StoreError::Conflict("the recording has already stopped".into())
            } else {
                StoreError::NotFound("recording".into())
            }));
        };
        self.docs(STATE)
            .update_one(doc! {"_id": ACTIVE, "recording_id": id}, doc! {"$set": {"recording_id": bson::Bson::Null}})
            .session(&mut *session)
            .await?;
        Ok(from_doc(stopped)?)
    }
}

/// The value as a document with `_id` set to its id.
fn with_id<T: Serialize>(value: &T, id: &str) -> StoreResult<Document> {
    let mut document = bson::to_document(value).map_err(|e| StoreError::Internal(format!("encode document: {e}")))?;
    document.insert("_id", id);
    Ok(document)
}

/// A command's document, with its send time in nanoseconds to sort by (RFC 3339 strings with
/// varying fractions do not sort as times).
fn command_doc(command: &DeviceCommand) -> StoreResult<Document> {
    let mut document = with_id(command, &command.id)?;
    document.insert("sent_ns", to_ns(&command.sent_at));
    Ok(document)
}

fn from_doc<T: DeserializeOwned>(document: Document) -> StoreResult<T> {
    bson::from_document(document).map_err(|e| StoreError::Internal(format!("decode document: {e}")))
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e.write_errors.iter().flatten().any(|w| w.code == DUPLICATE_KEY),
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

pub(super) fn map_error(error: mongodb::error::Error) -> StoreError {
    if is_duplicate_key(&error) {
        return StoreError::Duplicate("document".into());
    }
    match &*error.kind {
        ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. } => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Internal(error.to_string()),
    }
}

fn duplicate_as(what: &str) -> impl Fn(mongodb::error::Error) -> StoreError + '_ {
    move |error| match map_error(error) {
        StoreError::Duplicate(_) => StoreError::Duplicate(what.to_string()),
        other => other,
    }
}

fn to_bson<T: Serialize>(value: &T) -> StoreResult<bson::Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Internal(format!("encode value: {e}")))
}

#[async_trait]
impl Store for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.run_command(doc! {"ping": 1}).await.map_err(map_error)?;
        Ok(())
    }

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

    async fn insert_sensor_config(&self, config: &SensorConfig) -> StoreResult<()> {
        self.insert("sensor_configs", &config.id, config, "sensor config").await
    }
    async fn get_sensor_config(&self, id: &str) -> StoreResult<Option<SensorConfig>> {
        self.find_one("sensor_configs", doc! {"_id": id}).await
    }
    async fn list_sensor_configs(&self) -> StoreResult<Vec<SensorConfig>> {
        self.find_all("sensor_configs", doc! {}, doc! {"_id": 1}).await
    }
    async fn update_sensor_config(&self, config: &SensorConfig) -> StoreResult<SensorConfig> {
        let updated = SensorConfig { version: config.version + 1, ..config.clone() };
        // Configs written before versions existed have none: they count as version 0.
        let read_version = config.version as i64;
        let filter = if read_version == 0 {
            doc! {"_id": &config.id, "$or": [{"version": 0_i64}, {"version": {"$exists": false}}]}
        } else {
            doc! {"_id": &config.id, "version": read_version}
        };
        let result = self.docs("sensor_configs").replace_one(filter, with_id(&updated, &config.id)?).await.map_err(map_error)?;
        if result.matched_count == 1 {
            return Ok(updated);
        }
        match self.get_sensor_config(&config.id).await? {
            Some(_) => Err(StoreError::Conflict("the sensor config was changed meanwhile".into())),
            None => Err(StoreError::NotFound("sensor config".into())),
        }
    }

    async fn insert_experiment(&self, experiment: &Experiment) -> StoreResult<()> {
        self.insert("experiments", &experiment.id, experiment, "experiment").await
    }
    async fn get_experiment(&self, id: &str) -> StoreResult<Option<Experiment>> {
        self.find_one("experiments", doc! {"_id": id}).await
    }
    async fn list_experiments(&self) -> StoreResult<Vec<Experiment>> {
        self.find_all("experiments", doc! {}, doc! {"_id": 1}).await
    }
    async fn update_experiment(&self, id: &str, update: ExperimentUpdate<'_>) -> StoreResult<Experiment> {
        loop {
            let current: Experiment = self.get_experiment(id).await?.ok_or_else(|| StoreError::NotFound("experiment".into()))?;
            let mut updated = current.clone();
            update(&mut updated)?;
            updated.id = current.id.clone();
            updated.version = current.version + 1;
            let filter = doc! {"_id": id, "version": current.version as i64};
            let result = self.docs("experiments").replace_one(filter, with_id(&updated, id)?).await.map_err(map_error)?;
            if result.matched_count == 1 {
                return Ok(updated);
            }
        }
    }
    async fn set_active_experiment(&self, id: Option<&str>) -> StoreResult<Option<String>> {
        let state = self.docs(STATE);
        let idle = doc! {"_id": ACTIVE, "recording_id": bson::Bson::Null};
        let previous = match id {
            Some(id) => {
                if self.get_experiment(id).await?.is_none() {
                    return Err(StoreError::NotFound("experiment".into()));
                }
                // With a recording running the filter matches nothing and the upsert's insert
                // collides with the existing document: a duplicate key, i.e. a conflict.
                state
                    .find_one_and_update(idle, doc! {"$set": {"experiment_id": id, "recording_id": bson::Bson::Null}})
                    .upsert(true)
                    .return_document(ReturnDocument::Before)
                    .await
                    .map_err(|e| match map_error(e) {
                        StoreError::Duplicate(_) => StoreError::Conflict("a recording is running; stop it first".into()),
                        other => other,
                    })?
            }
            None => {
                let removed = state.find_one_and_delete(idle).await.map_err(map_error)?;
                if removed.is_none() && self.state().await?.is_some_and(|s| s.get_str("recording_id").is_ok()) {
                    return Err(StoreError::Conflict("a recording is running; stop it first".into()));
                }
                removed
            }
        };
        Ok(previous.and_then(|d| d.get_str("experiment_id").ok().map(str::to_owned)))
    }
    async fn deactivate_experiment(&self, id: &str) -> StoreResult<()> {
        let filter = doc! {"_id": ACTIVE, "experiment_id": id, "recording_id": bson::Bson::Null};
        if self.docs(STATE).find_one_and_delete(filter).await.map_err(map_error)?.is_some() {
            return Ok(());
        }
        match self.state().await? {
            Some(state) if state.get_str("experiment_id") == Ok(id) => {
                Err(StoreError::Conflict("a recording is running; stop it first".into()))
            }
            _ => Err(StoreError::Conflict(NOT_ACTIVE.into())),
        }
    }
    async fn active_experiment_id(&self) -> StoreResult<Option<String>> {
        Ok(self.state().await?.and_then(|d| d.get_str("experiment_id").ok().map(str::to_owned)))
    }

    async fn start_recording(&self, recording: &Recording) -> StoreResult<()> {
        if self.get_experiment(&recording.experiment_id).await?.is_none() {
            return Err(StoreError::NotFound("experiment".into()));
        }
        let mut document = with_id(recording, &recording.id)?;
        document.insert("running", recording.stopped_at.is_none());
        if recording.stopped_at.is_some() {
            // History (a restore or an import), not a start.
            return self.docs("recordings").insert_one(document).await.map(|_| ()).map_err(duplicate_as("recording"));
        }
        let mut session = self.client.start_session().await.map_err(map_error)?;
        let started: StoreResult<()> = in_transaction!(session, self.start_in(&mut session, recording, document.clone()));
        started.map_err(|e| match e {
            // The unique index on the running recording, if the state document missed one.
            StoreError::Duplicate(_) => StoreError::Conflict("a recording is already running".into()),
            other => other,
        })
    }
    async fn stop_recording(&self, id: &str, at: Timestamp) -> StoreResult<Recording> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.stop_in(&mut session, id, at))
    }
    async fn get_recording(&self, id: &str) -> StoreResult<Option<Recording>> {
        self.find_one("recordings", doc! {"_id": id}).await
    }
    async fn running_recording(&self) -> StoreResult<Option<Recording>> {
        self.find_one("recordings", doc! {"running": true}).await
    }
    async fn list_recordings(&self, experiment_id: &str) -> StoreResult<Vec<Recording>> {
        self.find_all("recordings", doc! {"experiment_id": experiment_id}, doc! {"_id": 1}).await
    }

    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
        self.insert("logbook", &entry.id, entry, "logbook entry").await
    }
    async fn insert_command(&self, command: &DeviceCommand) -> StoreResult<()> {
        self.docs("commands").insert_one(command_doc(command)?).await.map_err(duplicate_as("command"))?;
        Ok(())
    }
    async fn finish_command(&self, command: &DeviceCommand) -> StoreResult<DeviceCommand> {
        // Only a command still `sent` takes an outcome; the filter makes that one atomic step.
        let replaced = self
            .docs("commands")
            .find_one_and_replace(doc! {"_id": &command.id, "status": "sent"}, command_doc(command)?)
            .await
            .map_err(map_error)?;
        match replaced {
            Some(_) => Ok(command.clone()),
            None => self.find_one("commands", doc! {"_id": &command.id}).await?.ok_or_else(|| StoreError::NotFound("command".into())),
        }
    }
    async fn list_commands(&self, sensor_id: &str, limit: usize) -> StoreResult<Vec<DeviceCommand>> {
        let cursor = self
            .docs("commands")
            .find(doc! {"sensor_id": sensor_id})
            .sort(doc! {"sent_ns": -1, "_id": -1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_error)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        docs.into_iter().map(from_doc).collect()
    }
    async fn hold_device(&self, device: &ConnectedDevice, replica: &str, until: Timestamp) -> StoreResult<()> {
        let sensor_id = device.sensor_id.as_str();
        let held = bson::to_document(device).map_err(|e| StoreError::Internal(format!("encode document: {e}")))?;
        let holder = doc! {"_id": sensor_id, "replica": replica, "until_ns": to_ns(&until), "device": held};
        self.docs("device_holders").replace_one(doc! {"_id": sensor_id}, holder).upsert(true).await.map_err(map_error)?;
        Ok(())
    }
    async fn update_held_device(&self, device: &ConnectedDevice, replica: &str) -> StoreResult<()> {
        let held = bson::to_document(device).map_err(|e| StoreError::Internal(format!("encode document: {e}")))?;
        self.docs("device_holders")
            .update_one(doc! {"_id": device.sensor_id.as_str(), "replica": replica}, doc! {"$set": {"device": held}})
            .await
            .map_err(map_error)?;
        Ok(())
    }
    async fn list_held_devices(&self, now: Timestamp) -> StoreResult<Vec<ConnectedDevice>> {
        let filter = doc! {"until_ns": {"$gt": to_ns(&now)}, "device": {"$exists": true}};
        let cursor = self.docs("device_holders").find(filter).sort(doc! {"_id": 1}).await.map_err(map_error)?;
        let holders: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        holders
            .into_iter()
            .map(|holder| {
                let device = holder.get_document("device").map_err(|e| StoreError::Internal(format!("decode device: {e}")))?;
                from_doc(device.clone())
            })
            .collect()
    }
    async fn renew_device_holds(&self, replica: &str, until: Timestamp) -> StoreResult<()> {
        self.docs("device_holders")
            .update_many(doc! {"replica": replica}, doc! {"$set": {"until_ns": to_ns(&until)}})
            .await
            .map_err(map_error)?;
        Ok(())
    }
    async fn release_device(&self, sensor_id: &str, replica: &str) -> StoreResult<()> {
        self.docs("device_holders").delete_one(doc! {"_id": sensor_id, "replica": replica}).await.map_err(map_error)?;
        Ok(())
    }
    async fn device_holder(&self, sensor_id: &str, now: Timestamp) -> StoreResult<Option<String>> {
        let found =
            self.docs("device_holders").find_one(doc! {"_id": sensor_id, "until_ns": {"$gt": to_ns(&now)}}).await.map_err(map_error)?;
        Ok(found.and_then(|holder| holder.get_str("replica").ok().map(str::to_owned)))
    }
    async fn open_alert(&self, alert: &Alert, outbox: &Outbox) -> StoreResult<bool> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.open_alert_in(&mut session, alert, outbox))
    }
    async fn resolve_alert(&self, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>> {
        let mut session = self.client.start_session().await.map_err(map_error)?;
        in_transaction!(session, self.resolve_alert_in(&mut session, (rule, subject), at, outbox))
    }
    async fn get_alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        self.find_one(alerts::ALERTS, doc! {"_id": id}).await
    }
    async fn list_alerts(&self, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>> {
        self.list_alerts_with_deliveries(state, limit).await
    }
    async fn claim_deliveries(&self, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>> {
        self.claim_due_deliveries(owner, now_ns, lease_until_ns, max).await
    }
    async fn finish_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()> {
        self.finish_claimed_delivery(delivery, owner).await
    }
    async fn list_log(&self, experiment_id: &str) -> StoreResult<Vec<LogEntry>> {
        self.find_all("logbook", doc! {"experiment_id": experiment_id}, doc! {"_id": 1}).await
    }
    async fn put_progress(&self, progress: &Progress) -> StoreResult<()> {
        let id = format!("{}/{}/{}", progress.experiment_id, progress.participant_id, progress.task_id);
        self.docs("progress").replace_one(doc! {"_id": &id}, with_id(progress, &id)?).upsert(true).await.map_err(map_error)?;
        Ok(())
    }
    async fn list_progress(&self, experiment_id: &str) -> StoreResult<Vec<Progress>> {
        self.find_all("progress", doc! {"experiment_id": experiment_id}, doc! {"participant_id": 1, "task_id": 1}).await
    }

    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()> {
        self.insert("exports", &export.id, export, "export").await
    }
    async fn update_export(&self, export: &ExportRecord) -> StoreResult<()> {
        self.replace("exports", &export.id, export, "export").await
    }
    async fn get_export(&self, id: &str) -> StoreResult<Option<ExportRecord>> {
        self.find_one("exports", doc! {"_id": id}).await
    }
    async fn claim_export(&self, claim: &ClaimRequest) -> StoreResult<ExportClaim> {
        // Optimistic: decide on the record as read, write only if it is still what was read.
        // Each lost race means another claim landed; a few rounds settle it.
        for _ in 0..16 {
            let record = self.get_export(&claim.export_id).await?.ok_or_else(|| StoreError::NotFound("export".into()))?;
            let as_read = doc! {
                "_id": &record.id, "status": to_bson(&record.status)?, "owner": record.owner.as_deref(),
                "lease_until_ns": record.lease_until_ns, "attempts": i64::from(record.attempts),
            };
            let outcome = super::claim_outcome(record, claim);
            let ExportClaim::Claimed(claimed) = &outcome else { return Ok(outcome) };
            let result = self.docs("exports").replace_one(as_read, with_id(claimed, &claimed.id)?).await.map_err(map_error)?;
            if result.matched_count == 1 {
                return Ok(outcome);
            }
        }
        Err(StoreError::Conflict("the export job changed on every claim attempt".into()))
    }
    async fn update_claimed_export(&self, export: &ExportRecord, owner: &str) -> StoreResult<()> {
        let filter = doc! {"_id": &export.id, "status": "running", "owner": owner};
        let result = self.docs("exports").replace_one(filter, with_id(export, &export.id)?).await.map_err(map_error)?;
        if result.matched_count == 0 {
            return Err(StoreError::Conflict("another attempt runs this export now".into()));
        }
        Ok(())
    }
    async fn list_running_exports(&self) -> StoreResult<Vec<ExportRecord>> {
        self.find_all("exports", doc! {"status": "running"}, doc! {"_id": 1}).await
    }
    async fn list_exports(&self, experiment_id: Option<&str>) -> StoreResult<Vec<ExportRecord>> {
        let filter = experiment_id.map_or_else(|| doc! {}, |id| doc! {"experiment_id": id});
        self.find_all("exports", filter, doc! {"_id": -1}).await
    }

    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome> {
        samples::insert(self, &samples).await
    }
    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64> {
        self.docs("samples").count_documents(samples::filter(query)).await.map_err(map_error)
    }
    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64> {
        if self.get_recording(recording_id).await?.is_none() {
            return Err(StoreError::NotFound("recording".into()));
        }
        self.docs("samples").count_documents(doc! {"rec": recording_id}).await.map_err(map_error)
    }
    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>> {
        samples::stats(&self.docs("samples"), experiment_id).await
    }
    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>> {
        samples::stream(self.docs("samples"), query)
    }
    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64> {
        if self.get_experiment(experiment_id).await?.is_none() {
            return Err(StoreError::NotFound("experiment".into()));
        }
        // Not one transaction (a delete of millions of documents outgrows one): the caller
        // refuses while the experiment records, so nothing should arrive in between.
        if let Some(expected) = expected {
            let stored = self.docs("samples").count_documents(doc! {"exp": experiment_id}).await.map_err(map_error)?;
            if stored != expected {
                return Err(StoreError::Conflict(format!("the experiment has {stored} samples now, not {expected}")));
            }
        }
        let result = self.docs("samples").delete_many(doc! {"exp": experiment_id}).await.map_err(map_error)?;
        Ok(result.deleted_count)
    }
}
