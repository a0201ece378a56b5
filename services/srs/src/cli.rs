//! Command-line interface. Every command reads the same settings as the services
//! (`config/`, `SRS__SECTION__KEY`), with `--data-dir` and `--listen` on top.

use anyhow::Context;
use clap::{Parser, Subcommand};
use srs_common::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "srs", version, about = "SRS — Sensor Recording System: all services in one process, and the admin CLI")]
pub struct Cli {
    /// Data directory (SQLite database, generated JWT keys, exports); overrides `data.dir`.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process on one port.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Run only these services, e.g. `ingest,exporter` (default: all of them).
        #[arg(long, value_name = "LIST")]
        services: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Export an experiment offline into DIR/{experiment}/{export}/ (Parquet + metadata JSON).
    Export {
        #[arg(long, value_name = "ID")]
        experiment: String,
        /// Only this participant (by code); repeat for several.
        #[arg(long = "participant", value_name = "CODE")]
        participants: Vec<String>,
        /// First day, YYYY-MM-DD (UTC, inclusive).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (UTC, inclusive).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Only this sensor type; repeat for several.
        #[arg(long = "sensor-type", value_name = "TYPE")]
        sensor_types: Vec<String>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Load an export directory (DIR/{experiment}/{export}) back into the configured store;
    /// importing the same export again stores nothing new.
    Import {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Write a backup of all metadata (users, configs, experiments, recordings, logbook,
    /// progress, export records) to FILE.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into the configured store (which must be empty unless --force).
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Write over a store that already holds data: records with the same id are replaced
        /// (users, configs, experiments, progress, export records) or kept (history).
        #[arg(long)]
        force: bool,
    },
    /// Manage JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user in the configured store.
    Add {
        #[arg(long)]
        username: String,
        /// admin, experimenter or operator.
        #[arg(long)]
        role: srs_common::model::Role,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Write a new Ed25519 JWT key pair (private.pem, public.pem) into DIR.
    Generate {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Every command reads (and checks) the sections of every service: one settings file
    // serves them all.
    let mut settings = Settings::load(&srs_common::service::sections(crate::serve::ALL))?;
    if let Some(dir) = cli.data_dir {
        settings.data.dir = dir;
    }
    match cli.command {
        Command::Serve { listen, services } => {
            if let Some(listen) = listen {
                settings.server.listen = listen;
            }
            let services = crate::serve::chosen(services.as_deref())?;
            crate::serve::serve(settings, &services).await
        }
        Command::User { command: UserCommand::Add { username, role, email, password_stdin } } => {
            crate::users::add(&settings, username, role, email, password_stdin).await
        }
        Command::Export { experiment, participants, from, to, sensor_types, out } => {
            let args = crate::export::ExportArgs { experiment, participants, from, to, sensor_types };
            crate::export::export(&settings, args, &out).await
        }
        Command::Import { dir } => crate::export::import(&settings, &dir).await,
        Command::Backup { out } => crate::backup::backup(&settings, &out).await,
        Command::Restore { file, force } => crate::backup::restore(&settings, &file, force).await,
        Command::Keys { command: KeysCommand::Generate { out } } => {
            let (private, public) = (out.join("private.pem"), out.join("public.pem"));
            if private.exists() || public.exists() {
                anyhow::bail!("{} already holds a key pair; refusing to overwrite it", out.display());
            }
            srs_common::auth::keys::write_pair(&private, &public).with_context(|| format!("cannot write keys to {}", out.display()))?;
            println!("wrote {} and {}", private.display(), public.display());
            Ok(())
        }
    }
}
