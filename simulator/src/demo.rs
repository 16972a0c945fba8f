//! The built-in demo scenario (`scenarios/demo.toml`, embedded).

use crate::scenario::{ResolvedScenario, Scenario, ScenarioError};

/// The demo scenario's TOML.
pub const DEMO_TOML: &str = include_str!("../scenarios/demo.toml");

/// The parsed demo scenario.
pub fn scenario() -> Result<ResolvedScenario, ScenarioError> {
    Scenario::from_toml_str(DEMO_TOML, std::path::Path::new("."))
}
