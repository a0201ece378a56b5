//! `srs user add`: create a user directly in the configured store.

use anyhow::Context;
use srs_common::model::{new_id, Role, User};
use srs_common::store::StoreError;
use srs_common::Settings;
use std::io::BufRead;

/// Passwords shorter than this are refused.
const MIN_PASSWORD_LEN: usize = 8;

pub async fn add(settings: &Settings, username: String, role: Role, email: Option<String>, password_stdin: bool) -> anyhow::Result<()> {
    let username = username.trim().to_owned();
    if username.is_empty() || username.len() > 64 {
        anyhow::bail!("--username must be 1-64 characters");
    }
    let password = if password_stdin { read_stdin_password()? } else { prompt_password()? };
    if password.chars().count() < MIN_PASSWORD_LEN {
        anyhow::bail!("the password must be at least {MIN_PASSWORD_LEN} characters");
    }
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    let password_hash = srs_common::auth::password::hash(password).await?;
    let user = User { id: new_id(), username: username.clone(), role, email, password_hash, created_at: srs_common::time::now() };
    match store.insert_user(&user).await {
        Ok(()) => {
            println!("created {role} user {username} ({})", user.id);
            Ok(())
        }
        Err(StoreError::Duplicate(_)) => anyhow::bail!("a user named {username} already exists"),
        Err(error) => Err(error.into()),
    }
}

fn read_stdin_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn prompt_password() -> anyhow::Result<String> {
    let first =
        rpassword::prompt_password("Password: ").context("cannot read the password (use --password-stdin when there is no terminal)")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        anyhow::bail!("the passwords do not match");
    }
    Ok(first)
}
