//! The control service's HTTP endpoints (the sockets are in their own files).

use crate::devices::ConnectedDevice;
use actix_web::{get, web, HttpResponse};
use srs_common::auth::Caller;
use srs_common::{ApiError, AppContext};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(list_devices)
        .service(crate::commands::send)
        .service(crate::commands::history)
        .service(crate::device_socket::device_socket)
        .service(crate::live_socket::live_socket)
        .service(crate::status_socket::status_socket);
}

/// The devices whose sockets are open on any control replica, with their last status (any user).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), responses((status = 200, body = Vec<ConnectedDevice>)))]
#[get("/api/v1/devices")]
pub async fn list_devices(context: web::Data<AppContext>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    // Every replica's holds are in the store; a hold that lapsed (its replica died) is not listed.
    let devices: Vec<ConnectedDevice> = context.store.list_held_devices(srs_common::time::now()).await?;
    Ok(HttpResponse::Ok().json(devices))
}
