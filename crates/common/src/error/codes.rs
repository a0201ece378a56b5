//! Every error code an SRS service answers, with its HTTP status and title, in one place: a
//! handler names a code and the status follows from it, the problem `type` links to the
//! problems page, and that page and the OpenAPI schema list them all from this table.

use actix_web::http::StatusCode;

macro_rules! error_codes {
    ($( $variant:ident = ($code:literal, $status:ident, $title:literal, $meaning:literal), )*) => {
        /// A stable, machine-readable error code (the problem's `code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( #[doc = $meaning] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the problems page.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            pub const fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }

            /// A short, human-readable summary (the problem's `title`).
            pub const fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            /// When it is answered and what the client can do.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }
        }
    };
}

error_codes! {
    MalformedJson = ("malformed_json", BAD_REQUEST, "Malformed JSON", "The body is not valid JSON; `detail` names the line and column."),
    MalformedNdjson = ("malformed_ndjson", BAD_REQUEST, "Malformed NDJSON", "A line of the NDJSON body is not valid JSON; `errors` names the line."),
    TooDeep = ("too_deep", BAD_REQUEST, "Body nested too deeply", "The JSON body nests objects or arrays deeper than the service accepts."),
    InvalidBody = ("invalid_body", BAD_REQUEST, "Invalid body", "The body is valid JSON but not of the expected shape."),
    InvalidPath = ("invalid_path", BAD_REQUEST, "Invalid path parameter", "A path parameter is not of the expected type."),
    InvalidQuery = ("invalid_query", BAD_REQUEST, "Invalid query", "A query parameter is missing or not of the expected type."),
    Unauthorized = ("unauthorized", UNAUTHORIZED, "Not signed in", "No valid bearer token (or device token) came with the request; sign in or refresh the token."),
    InvalidCredentials = ("invalid_credentials", UNAUTHORIZED, "Wrong username or password", "The sign-in failed; the answer does not say which of the two was wrong."),
    Forbidden = ("forbidden", FORBIDDEN, "Not allowed", "The caller is signed in but their role or assignment does not allow this."),
    NotFound = ("not_found", NOT_FOUND, "Not found", "The resource does not exist, or the caller may not see it."),
    NotConnected = ("not_connected", NOT_FOUND, "Device not connected", "No socket of the device is open, so nothing was sent (commands are never queued for later)."),
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed", "The endpoint exists but not for this method; `Allow` lists those it takes."),
    Conflict = ("conflict", CONFLICT, "Conflict", "The request conflicts with the resource's current state; `detail` says how."),
    Duplicate = ("duplicate", CONFLICT, "Already exists", "A resource with this identity already exists."),
    DuplicateUsername = ("duplicate_username", CONFLICT, "Username taken", "Another user has this username (usernames are case-insensitive)."),
    DuplicateCode = ("duplicate_code", CONFLICT, "Participant code taken", "The experiment already has a participant with this code."),
    CannotDeleteSelf = ("cannot_delete_self", CONFLICT, "Cannot delete yourself", "An admin cannot delete their own account."),
    UserOwnsExperiments = ("user_owns_experiments", CONFLICT, "User owns experiments", "The user owns experiments; give them to someone else first."),
    StaleVersion = ("stale_version", CONFLICT, "Stale version", "The resource changed since the version the request was based on; read it again and retry."),
    ExperimentActive = ("experiment_active", CONFLICT, "Experiment is active", "The change is not allowed while the experiment is the active one."),
    ExperimentNotActive = ("experiment_not_active", CONFLICT, "Experiment is not active", "A recording can only start in the active experiment."),
    NotActive = ("not_active", CONFLICT, "Not active", "The experiment is not the active one, so there is nothing to deactivate."),
    RecordingRunning = ("recording_running", CONFLICT, "A recording is running", "Stop the running recording first."),
    AlreadyStopped = ("already_stopped", CONFLICT, "Recording already stopped", "The recording was stopped before."),
    UnexportedSamples = ("unexported_samples", CONFLICT, "Samples not exported", "Some samples are in no completed export; `errors` names them per participant, day and sensor type. Export them, or delete with force=true."),
    SamplesChanged = ("samples_changed", CONFLICT, "Samples changed", "Samples arrived or were deleted while the delete was being checked; retry."),
    ChannelOff = ("channel_off", CONFLICT, "Channel off", "The notification channel is not configured (its settings are empty), so nothing was sent."),
    ExportNotDone = ("export_not_done", CONFLICT, "Export not finished", "The export's files can be read once it has completed."),
    BodyTooLarge = ("body_too_large", PAYLOAD_TOO_LARGE, "Body too large", "The body is over the size limit; `detail` names it. Send smaller requests."),
    TooManySamples = ("too_many_samples", PAYLOAD_TOO_LARGE, "Too many samples", "One request carries more samples than the limit; split it."),
    UpgradeRequired = ("upgrade_required", UPGRADE_REQUIRED, "WebSocket upgrade required", "The endpoint is a WebSocket: connect with a WebSocket client (an HTTP/1.1 upgrade)."),
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported content type", "The Content-Type is not one the endpoint accepts; `detail` names those it does."),
    InvalidField = ("invalid_field", UNPROCESSABLE_ENTITY, "Invalid field", "A field is missing or its value is not allowed; `errors` names every field at once."),
    InvalidSample = ("invalid_sample", UNPROCESSABLE_ENTITY, "Invalid sample", "The sample does not match its sensor type; nothing was stored."),
    InvalidSamples = ("invalid_samples", UNPROCESSABLE_ENTITY, "Invalid samples", "Some samples do not match their sensor types; `errors` names each by index, and nothing of the request was stored."),
    UnknownId = ("unknown_id", UNPROCESSABLE_ENTITY, "Unknown reference", "The body refers to something that does not exist (a sensor, task, participant or config)."),
    UnknownCommand = ("unknown_command", UNPROCESSABLE_ENTITY, "Unknown command", "The sensor's type does not declare this command (see the sensors file)."),
    TooManyRequests = ("too_many_requests", TOO_MANY_REQUESTS, "Too many requests", "The client is over a limit (e.g. sign-in attempts); wait `Retry-After` seconds."),
    DeliveryFailed = ("delivery_failed", BAD_GATEWAY, "Delivery failed", "The channel's receiver (mail relay, Slack, webhook) did not take the message; `detail` gives its answer or why it could not be reached."),
    CommandTimeout = ("command_timeout", GATEWAY_TIMEOUT, "Command not acknowledged", "The device did not answer the command in time; `command_id` names it, and its history entry says `timeout`."),
    ServiceUnreachable = ("service_unreachable", BAD_GATEWAY, "Service unreachable", "The gateway could not reach any instance of the service behind this path; nothing was done. Retry after `Retry-After` seconds."),
    ServiceTimeout = ("service_timeout", GATEWAY_TIMEOUT, "Service timed out", "The service did not answer within the gateway's time limit; the request may or may not have taken effect (a retry with the same sample ids is safe)."),
    Internal = ("internal", INTERNAL_SERVER_ERROR, "Internal error", "Something failed inside the service; it has been logged. Nothing partial was stored."),
    StoreUnavailable = ("store_unavailable", SERVICE_UNAVAILABLE, "Store unavailable", "The store does not answer; retry after `Retry-After` seconds."),
    StoreFull = ("store_full", SERVICE_UNAVAILABLE, "Store full", "The store's disk is full; nothing was stored. The service recovers by itself once space is freed; retry after `Retry-After` seconds."),
    BusUnavailable = ("bus_unavailable", SERVICE_UNAVAILABLE, "Bus unavailable", "The message broker does not answer, so the request could not be handed on; retry after `Retry-After` seconds."),
    QueueFull = ("queue_full", SERVICE_UNAVAILABLE, "Queue full", "The service is at capacity; retry after `Retry-After` seconds."),
    ShuttingDown = ("shutting_down", SERVICE_UNAVAILABLE, "Shutting down", "The process is stopping; retry against another instance or after restart."),
    ServiceUnavailable = ("service_unavailable", SERVICE_UNAVAILABLE, "Service unavailable", "The gateway has no running instance of the service behind this path; retry after `Retry-After` seconds."),
    NotReady = ("not_ready", SERVICE_UNAVAILABLE, "Not ready", "A dependency (store or bus) is down; `detail` names it."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the problems page lists every code (the problem `type` is this path and `#code`).
pub const PROBLEMS_PATH: &str = "/api/v1/docs/problems";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_serialize_as_themselves() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(serde_json::to_value(code).expect("json"), code.as_str());
            assert!(code.status().is_client_error() || code.status().is_server_error(), "{code}");
        }
    }
}
