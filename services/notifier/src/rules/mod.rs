//! The rules: what makes an alert, each in its own file. Exports and devices are told by
//! lifecycle events (`lifecycle.rs`); silence and disk space are judged by timers.

pub mod devices;
pub mod disk;
pub mod exports;
pub mod silence;
