//! The store traits of SqliteStore, one file per aggregate.

mod alerts;
mod devices;
mod experiments;
mod exports;
mod recordings;
mod samples;
mod sensor_configs;
mod users;
