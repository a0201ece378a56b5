//! The store traits of MongoStore, one file per aggregate.

mod alerts;
mod devices;
mod experiments;
mod exports;
mod recordings;
mod samples;
mod sensor_configs;
mod users;
