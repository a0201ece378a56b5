use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The versioned envelope of every event and job on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Envelope version; bumped only for incompatible changes of the envelope itself.
    pub v: u32,
    /// Unique id; consumers use it to drop the rare duplicate of an at-least-once delivery.
    pub id: String,
    /// Dotted type, also the routing key: `recording.started`, `export.requested`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub time: Timestamp,
    pub payload: serde_json::Value,
}

impl Event {
    pub const VERSION: u32 = 1;

    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self { v: Self::VERSION, id: crate::model::new_id(), kind: kind.into(), time: crate::time::now(), payload }
    }

    /// Whether the event's type matches an AMQP topic pattern (`*` one word, `#` zero or more).
    pub fn matches(&self, pattern: &str) -> bool {
        topic_matches(&pattern.split('.').collect::<Vec<_>>(), &self.kind.split('.').collect::<Vec<_>>())
    }
}

fn topic_matches(pattern: &[&str], words: &[&str]) -> bool {
    match (pattern.first(), words.first()) {
        (None, None) => true,
        (Some(&"#"), _) => topic_matches(&pattern[1..], words) || (!words.is_empty() && topic_matches(pattern, &words[1..])),
        (Some(&"*"), Some(_)) => topic_matches(&pattern[1..], &words[1..]),
        (Some(p), Some(w)) if p == w => topic_matches(&pattern[1..], &words[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns_match_like_amqp() {
        let event = Event::new("recording.started", serde_json::json!({}));
        assert!(event.matches("recording.started"));
        assert!(event.matches("recording.*"));
        assert!(event.matches("#"));
        assert!(event.matches("recording.#"));
        assert!(event.matches("#.started"));
        assert!(!event.matches("recording"));
        assert!(!event.matches("export.*"));
        assert!(!event.matches("*"));
    }

    #[test]
    fn envelope_serializes_with_type_and_version() {
        let event = Event::new("export.completed", serde_json::json!({"export_id": "x"}));
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["v"], 1);
        assert_eq!(json["type"], "export.completed");
        assert_eq!(json["payload"]["export_id"], "x");
    }
}
