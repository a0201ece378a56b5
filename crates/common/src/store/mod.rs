//! The `Store`: every piece of state SRS keeps, behind one trait per aggregate (their sum is
//! `Store`) with two real backends — SQLite (embedded default) and MongoDB (production). One
//! contract test suite (`tests/store_contract.rs`) runs against both, so services never depend
//! on the backend.

pub mod backup;
mod block_merge;
mod blocks;
mod error;
pub mod mongo;
pub mod sqlite;

pub use error::StoreError;

use crate::model::*;
use crate::time::Timestamp;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use std::sync::Arc;

pub type StoreResult<T> = Result<T, StoreError>;

/// The `Conflict` text of an action that needs the experiment to be the active one.
pub const NOT_ACTIVE: &str = "the experiment is not the active one";

/// An update applied to an experiment inside the store's optimistic-concurrency loop. It may
/// run more than once when updates race, so it must only depend on the experiment it is given.
pub type ExperimentUpdate<'a> = &'a (dyn Fn(&mut Experiment) -> StoreResult<()> + Send + Sync);

/// What became of one sample of a batched insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFate {
    Stored,
    /// A stored sample has the same sensor and id (or, without an id, the same sensor and `ts`).
    Duplicate,
    /// Attributed to the running recording, but none ran at commit or the sensor is disabled
    /// in its experiment's config: the sample feeds the live view only.
    NotRecorded,
}

/// What one batched sample insert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// One fate per input sample, in order.
    pub fates: Vec<SampleFate>,
    /// The recording that ran at commit (for samples without a stamp of their own).
    pub recording_id: Option<String>,
}

impl InsertOutcome {
    pub fn stored_count(&self) -> usize {
        self.count(SampleFate::Stored)
    }
    pub fn duplicate_count(&self) -> usize {
        self.count(SampleFate::Duplicate)
    }
    fn count(&self, fate: SampleFate) -> usize {
        self.fates.iter().filter(|f| **f == fate).count()
    }
}

/// How many samples a time-ordered read returns per chunk; bounds memory of streaming reads.
pub const SAMPLE_CHUNK: usize = 8_192;

/// Everything SRS keeps: one trait per aggregate, so a part of the store (the sample path
/// above all) can change without touching the rest. `DynStore` calls any of their methods.
#[async_trait]
pub trait Store:
    UserStore
    + SensorConfigStore
    + ExperimentStore
    + RecordingStore
    + DeviceStore
    + AlertStore
    + ExportStore
    + SampleStore
    + Send
    + Sync
    + 'static
{
    /// "sqlite" or "mongodb", for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Cheap round trip; `/readyz` calls it.
    async fn ping(&self) -> StoreResult<()>;
}

/// The store of users, refresh tokens and device tokens.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replaces the user with the same id; `NotFound` or `Duplicate` (username taken).
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    async fn delete_user(&self, id: &str) -> StoreResult<()>;
    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Atomically: if `used_id` is current, marks it used and stores `next` (`Rotated`);
    /// if it was already used or revoked, revokes its family (`Reused`); `NotFound` if unknown.
    async fn rotate_refresh_token(&self, used_id: &str, next: &RefreshToken, at: Timestamp) -> StoreResult<RefreshRotation>;
    /// Revokes every refresh token of the user (deletion, password or role change).
    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: Timestamp) -> StoreResult<()>;
    /// Forgets the user's refresh tokens that expired before `before` (they can never be
    /// accepted again) and returns how many.
    async fn prune_refresh_tokens(&self, user_id: &str, before: Timestamp) -> StoreResult<u64>;
    async fn insert_device_token(&self, token: &DeviceToken) -> StoreResult<()>;
    async fn find_device_token(&self, token_hash: &str) -> StoreResult<Option<DeviceToken>>;
    async fn list_device_tokens(&self) -> StoreResult<Vec<DeviceToken>>;
    /// Marks the token revoked; `NotFound` unless it exists for that sensor.
    async fn revoke_device_token(&self, sensor_id: &str, id: &str, at: Timestamp) -> StoreResult<()>;
}

/// The store of sensor configs.
#[async_trait]
pub trait SensorConfigStore: Send + Sync {
    async fn insert_sensor_config(&self, config: &SensorConfig) -> StoreResult<()>;
    async fn get_sensor_config(&self, id: &str) -> StoreResult<Option<SensorConfig>>;
    async fn list_sensor_configs(&self) -> StoreResult<Vec<SensorConfig>>;
    /// Replaces the config if its stored `version` is still `config.version`, and bumps the
    /// version; `Conflict` when someone else changed it since it was read (no lost updates).
    async fn update_sensor_config(&self, config: &SensorConfig) -> StoreResult<SensorConfig>;
}

/// The store of experiments, the active one, logbook and progress.
#[async_trait]
pub trait ExperimentStore: Send + Sync {
    async fn insert_experiment(&self, experiment: &Experiment) -> StoreResult<()>;
    async fn get_experiment(&self, id: &str) -> StoreResult<Option<Experiment>>;
    async fn list_experiments(&self) -> StoreResult<Vec<Experiment>>;
    /// Applies `update` atomically (optimistic concurrency on `version`) and returns the result.
    async fn update_experiment(&self, id: &str, update: ExperimentUpdate<'_>) -> StoreResult<Experiment>;
    /// Makes `id` the one active experiment (or none), returning the previously active id.
    /// `Conflict` while a recording runs: checked in the same transaction as the switch.
    async fn set_active_experiment(&self, id: Option<&str>) -> StoreResult<Option<String>>;
    /// Deactivates `id` if it is the active experiment and nothing records; `Conflict`
    /// (`NOT_ACTIVE` or a running recording) otherwise — checked and done atomically.
    async fn deactivate_experiment(&self, id: &str) -> StoreResult<()>;
    async fn active_experiment_id(&self) -> StoreResult<Option<String>>;
    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()>;
    /// Oldest first.
    async fn list_log(&self, experiment_id: &str) -> StoreResult<Vec<LogEntry>>;
    /// Inserts or replaces the progress of (experiment, participant, task).
    async fn put_progress(&self, progress: &Progress) -> StoreResult<()>;
    async fn list_progress(&self, experiment_id: &str) -> StoreResult<Vec<Progress>>;
}

/// The store of recordings.
#[async_trait]
pub trait RecordingStore: Send + Sync {
    /// Stores a running recording if its experiment is the active one (`Conflict` with
    /// [`NOT_ACTIVE`] otherwise) and no other runs (`Conflict`) — checked in one transaction.
    async fn start_recording(&self, recording: &Recording) -> StoreResult<()>;
    /// Stops a running recording; `NotFound`, or `Conflict` if it already stopped.
    async fn stop_recording(&self, id: &str, at: Timestamp) -> StoreResult<Recording>;
    async fn get_recording(&self, id: &str) -> StoreResult<Option<Recording>>;
    async fn running_recording(&self) -> StoreResult<Option<Recording>>;
    async fn list_recordings(&self, experiment_id: &str) -> StoreResult<Vec<Recording>>;
}

/// The store of device commands and which control replica holds each device.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Records a command as sent.
    async fn insert_command(&self, command: &DeviceCommand) -> StoreResult<()>;
    /// Writes a sent command's outcome, unless it already has one (a late or duplicate ack
    /// changes nothing); returns the command as stored afterwards.
    async fn finish_command(&self, command: &DeviceCommand) -> StoreResult<DeviceCommand>;
    /// A device's most recent commands, newest first.
    async fn list_commands(&self, sensor_id: &str, limit: usize) -> StoreResult<Vec<DeviceCommand>>;
    /// Records that control replica `replica` holds the socket of `device` until `until`; a
    /// newer socket (on any replica) takes over whoever held it.
    async fn hold_device(&self, device: &ConnectedDevice, replica: &str, until: Timestamp) -> StoreResult<()>;
    /// Rewrites the held device (its last status), if `replica` still holds it.
    async fn update_held_device(&self, device: &ConnectedDevice, replica: &str) -> StoreResult<()>;
    /// The devices whose holds last beyond `now`, by sensor id.
    async fn list_held_devices(&self, now: Timestamp) -> StoreResult<Vec<ConnectedDevice>>;
    /// Extends every hold of `replica` to `until` (it lives).
    async fn renew_device_holds(&self, replica: &str, until: Timestamp) -> StoreResult<()>;
    /// Forgets `replica`'s hold on `sensor_id`, if the hold is still its.
    async fn release_device(&self, sensor_id: &str, replica: &str) -> StoreResult<()>;
    /// The replica holding `sensor_id`'s socket, if its hold lasts beyond `now`.
    async fn device_holder(&self, sensor_id: &str, now: Timestamp) -> StoreResult<Option<String>>;
}

/// The store of the notifier's alerts and their outbox.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Records `alert` with a pending delivery of its "fired" message per channel of `outbox`,
    /// in one step — unless an alert with its id exists or, for a firing one, an alert of the
    /// same rule and subject is firing: then nothing changes and this is false (it was already
    /// reported). An alert recorded resolved is a notice (an export's outcome): it has no
    /// condition to clear and no "resolved" message.
    async fn open_alert(&self, alert: &Alert, outbox: &Outbox) -> StoreResult<bool>;
    /// Marks the firing alert of `rule` and `subject` resolved at `at`, with a pending delivery
    /// of its "resolved" message per channel, in one step; `None` when none is firing.
    async fn resolve_alert(&self, rule: &str, subject: &str, at: Timestamp, outbox: &Outbox) -> StoreResult<Option<Alert>>;
    async fn get_alert(&self, id: &str) -> StoreResult<Option<Alert>>;
    /// Alerts newest first, `state` only when given, each with its deliveries.
    async fn list_alerts(&self, state: Option<AlertState>, limit: usize) -> StoreResult<Vec<(Alert, Vec<Delivery>)>>;
    /// Hands up to `max` pending deliveries that are due at `now_ns` and held by nobody (or by
    /// a lapsed lease) to `owner` until `lease_until_ns`, soonest due first. Each goes to one
    /// caller only, however many replicas ask at once.
    async fn claim_deliveries(&self, owner: &str, now_ns: i64, lease_until_ns: i64, max: usize) -> StoreResult<Vec<Delivery>>;
    /// Writes a claimed delivery's outcome (delivered, failed, or pending again with its next
    /// attempt) and releases it; `Conflict` when `owner` no longer holds it.
    async fn finish_delivery(&self, delivery: &Delivery, owner: &str) -> StoreResult<()>;
}

/// The store of export records and their claims.
#[async_trait]
pub trait ExportStore: Send + Sync {
    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()>;
    async fn update_export(&self, export: &ExportRecord) -> StoreResult<()>;
    /// Atomically makes `claim.owner` the one worker running the export: succeeds when the job
    /// is queued, or running under a lease that expired before `claim.now` (its worker died);
    /// counts the attempt and sets the lease. [`ExportClaim::Busy`] while another worker's lease
    /// runs, [`ExportClaim::Finished`] once done or failed.
    async fn claim_export(&self, claim: &ClaimRequest) -> StoreResult<ExportClaim>;
    /// Replaces the record only while `owner` still holds it (status running, same owner);
    /// `Conflict` when another attempt took it over — that worker must stop at once.
    async fn update_claimed_export(&self, export: &ExportRecord, owner: &str) -> StoreResult<()>;
    async fn get_export(&self, id: &str) -> StoreResult<Option<ExportRecord>>;
    /// Newest first.
    async fn list_exports(&self, experiment_id: Option<&str>) -> StoreResult<Vec<ExportRecord>>;
    /// Every export job whose status is `running`, of every experiment.
    async fn list_running_exports(&self) -> StoreResult<Vec<ExportRecord>>;
}

/// The store of samples.
#[async_trait]
pub trait SampleStore: Send + Sync {
    /// Commits a batch in one transaction, skipping duplicates of stored samples (same sensor and
    /// `sample_id`, or without one, same sensor and `ts`), including duplicates inside the batch.
    /// Samples without a stamp go to the recording running at commit (see [`NewSample::stamp`]);
    /// a stamp naming an unknown recording fails the whole batch (`NotFound`).
    /// Takes the batch by value so the hot path never copies samples.
    async fn insert_samples(&self, samples: Vec<NewSample>) -> StoreResult<InsertOutcome>;
    /// The same insert as a plain function that blocks its thread, for a store whose insert is
    /// blocking work anyway (SQLite): a writer on a thread of its own then commits batch after
    /// batch with no hop to a blocking pool and back for each. `None` for an async store.
    fn blocking_sample_insert(&self) -> Option<BlockingSampleInsert> {
        None
    }
    async fn count_samples(&self, query: &SampleQuery) -> StoreResult<u64>;
    async fn count_recording_samples(&self, recording_id: &str) -> StoreResult<u64>;
    /// Counts per participant, UTC date and sensor type, sorted.
    async fn sample_stats(&self, experiment_id: &str) -> StoreResult<Vec<SampleStat>>;
    /// The query's samples in `ts` order, in chunks of at most [`SAMPLE_CHUNK`], with memory bounded
    /// by one chunk whatever the experiment's size.
    fn stream_samples(&self, query: SampleQuery) -> BoxStream<'static, StoreResult<Vec<StoredSample>>>;
    /// Deletes every sample of the experiment and returns how many. With `expected`, only if the
    /// experiment still has exactly that many (`Conflict` otherwise): samples that arrived after
    /// the caller checked what may be deleted are never deleted unchecked.
    async fn delete_samples(&self, experiment_id: &str, expected: Option<u64>) -> StoreResult<u64>;
}

pub type DynStore = Arc<dyn Store>;

/// See [`SampleStore::blocking_sample_insert`].
pub type BlockingSampleInsert = Arc<dyn Fn(Vec<NewSample>) -> StoreResult<InsertOutcome> + Send + Sync>;

/// What a claim does to `record` — the one rule both backends apply inside their atomic step.
pub(crate) fn claim_outcome(mut record: ExportRecord, claim: &ClaimRequest) -> ExportClaim {
    let lease_expired = record.lease_until_ns.is_none_or(|until| until < claim.now_ns);
    match record.status {
        ExportStatus::Done | ExportStatus::Failed => ExportClaim::Finished(record),
        ExportStatus::Running if !lease_expired => ExportClaim::Busy,
        ExportStatus::Queued | ExportStatus::Running => {
            record.status = ExportStatus::Running;
            record.owner = Some(claim.owner.clone());
            record.lease_until_ns = Some(claim.lease_until_ns);
            record.attempts += 1;
            record.rows_written = 0;
            ExportClaim::Claimed(record)
        }
    }
}

/// Opens the store the settings choose (creating schema and indexes as needed).
pub async fn open(settings: &crate::Settings) -> Result<DynStore, StoreError> {
    use crate::settings::StoreBackend;
    match settings.store.backend {
        StoreBackend::Sqlite => {
            Ok(Arc::new(sqlite::SqliteStore::open_with(&settings.sqlite_path(), settings.store.sqlite_synchronous).await?))
        }
        StoreBackend::Mongodb => {
            use secrecy::ExposeSecret;
            let store = mongo::MongoStore::connect(settings.store.mongodb_uri.expose_secret(), &settings.store.mongodb_database).await?;
            Ok(Arc::new(store))
        }
    }
}
