//! `srs user add`: create a user directly in the configured store, with the same rules as
//! `POST /api/v1/users`.

use anyhow::Context;
use srs_common::model::Role;
use srs_common::Settings;
use srs_experiments::NewUser;
use std::io::BufRead;

pub async fn add(settings: &Settings, username: String, role: Role, email: Option<String>, password_stdin: bool) -> anyhow::Result<()> {
    let password = if password_stdin { read_stdin_password()? } else { prompt_password()? };
    let store = srs_common::store::open(settings).await.context("cannot open the store")?;
    let user = srs_experiments::create_user(&store, NewUser { username: username.trim().to_owned(), password, role, email })
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.detail()))?;
    println!("created {role} user {} ({})", user.username, user.id);
    Ok(())
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
    if first.chars().count() < srs_experiments::MIN_PASSWORD_CHARS {
        anyhow::bail!("the password must be at least {} characters", srs_experiments::MIN_PASSWORD_CHARS);
    }
    Ok(first)
}
