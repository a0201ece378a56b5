//! The MongoDB store: production. Kept thin — documents are the model structs plus `_id`, the
//! invariants live in unique indexes created at start-up — and covered entirely by the shared
//! contract suite (run when `SRS_TEST_MONGODB_URI` is set). Writes use write concern majority
//! with journaling, so an acknowledged write survives a failover.

#[macro_use]
mod transaction;
mod aggregates;
mod alerts;
mod sample_migration;
mod sample_reads;
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
    /// Connects, creates the collections and indexes (idempotent) and converts samples stored
    /// before buckets, if any. Transactions need a replica set (a single-node one will do).
    pub async fn connect(uri: &str, database: &str) -> StoreResult<Self> {
        let client = mongodb::Client::with_uri_str(uri).await.map_err(map_error)?;
        let db = client.database_with_options(database, DatabaseOptions::builder().write_concern(write_concern()).build());
        let store = Self { client, db };
        store.create_indexes().await?;
        // Written inside transactions, which must not race to create it.
        store.ensure_collection(samples::SENSORS).await?;
        let converted = sample_migration::convert_legacy_samples(&store).await?;
        if converted > 0 {
            tracing::info!(converted, "samples converted to buckets");
        }
        Ok(store)
    }

    async fn ensure_collection(&self, name: &str) -> StoreResult<()> {
        const NAMESPACE_EXISTS: i32 = 48;
        match self.db.create_collection(name).await {
            Err(error) if matches!(&*error.kind, ErrorKind::Command(e) if e.code == NAMESPACE_EXISTS) => Ok(()),
            other => other.map_err(map_error),
        }
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
            // The duplicate check seeks a sensor's buckets by end time; the export pages through
            // an experiment's in (min_ts, _id) order; counts per recording sum one's buckets.
            (samples::BUCKETS, plain(doc! {"sensor": 1, "max_ts": 1})),
            (samples::BUCKETS, plain(doc! {"exp": 1, "min_ts": 1, "_id": 1})),
            (samples::BUCKETS, plain(doc! {"rec": 1})),
            (samples::IDS, plain(doc! {"exp": 1})),
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
}
