//! The control service's HTTP endpoints (the sockets are in their own files).

use crate::devices::ConnectedDevice;
use crate::Control;
use actix_web::{get, web, HttpResponse};
use srs_common::auth::Caller;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(list_devices)
        .service(crate::commands::send)
        .service(crate::commands::history)
        .service(crate::device_socket::device_socket)
        .service(crate::live_socket::live_socket)
        .service(crate::status_socket::status_socket);
}

/// The devices whose sockets are open, with their last status (any user).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), responses((status = 200, body = Vec<ConnectedDevice>)))]
#[get("/api/v1/devices")]
pub async fn list_devices(control: web::Data<Control>, _caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(control.devices.list())
}
