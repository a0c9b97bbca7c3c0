//! `drlab schema`: print the JSON Schema of the scenario format (the one
//! `docs/scenario.schema.json` holds), for editors and validators.

use anyhow::Result;

use super::out;
use crate::Outcome;

pub fn schema() -> Result<Outcome> {
    out(&drlab_scenarios::format::schema::schema_text());
    Ok(Outcome::Pass)
}
