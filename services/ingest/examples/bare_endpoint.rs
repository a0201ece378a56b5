//! The HTTP ceiling for the ingest benchmark (scripts/bench-ingest.sh): a bare actix-web
//! endpoint that reads and parses the same JSON body as ingest and answers 204 — no checks,
//! no store. Usage: `bare_endpoint 127.0.0.1:18081`.

use actix_web::{web, App, HttpResponse, HttpServer};

async fn samples(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".into());
    let server =
        HttpServer::new(|| App::new().app_data(web::PayloadConfig::new(4 << 20)).route("/api/v1/samples", web::post().to(samples)))
            .bind(&listen)?;
    println!("bare endpoint listening on http://{listen}");
    server.run().await
}
