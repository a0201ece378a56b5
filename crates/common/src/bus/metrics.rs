//! The bus's metrics on `/metrics`.

use crate::metrics::register;
use prometheus::IntCounter;
use std::sync::LazyLock;

static BUS_RECONNECTS: LazyLock<IntCounter> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // the options are constants; a bad one is a programming error caught by every test
    register(IntCounter::new("srs_bus_reconnects_total", "Times the bus connection was re-established").unwrap())
});

pub fn bus_reconnects() -> &'static IntCounter {
    &BUS_RECONNECTS
}

pub(crate) fn touch() {
    let _ = &*BUS_RECONNECTS;
}
