//! Object-level access, shared by every service that serves an experiment's data. An
//! experiment and everything under it is visible to admins, its owner and its assigned
//! operators; to anyone else it does not exist (404, so ids do not leak). Changing its
//! definition (tasks, operators, activation) is for its owner and admins (403 to an assigned
//! operator, who can see it).

use crate::auth::Caller;
use crate::model::Experiment;
use crate::{ApiError, AppContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See it and run sessions: admin, owner, assigned operator.
    Run,
    /// Change its definition: admin or owner.
    Manage,
}

pub fn can_see(caller: &Caller, experiment: &Experiment) -> bool {
    caller.is_admin() || experiment.owner_id == caller.id || experiment.operators.contains(&caller.id)
}

pub fn check(caller: &Caller, experiment: &Experiment, need: Need) -> Result<(), ApiError> {
    if !can_see(caller, experiment) {
        return Err(not_found(&experiment.id));
    }
    if need == Need::Manage && !(caller.is_admin() || experiment.owner_id == caller.id) {
        return Err(ApiError::forbidden("only the experiment's owner or an admin may do this"));
    }
    Ok(())
}

/// The experiment, if it exists and the caller has `need` on it.
pub async fn experiment(context: &AppContext, caller: &Caller, id: &str, need: Need) -> Result<Experiment, ApiError> {
    let experiment = context.store.get_experiment(id).await?.ok_or_else(|| not_found(id))?;
    check(caller, &experiment, need)?;
    Ok(experiment)
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no experiment {id}"))
}
