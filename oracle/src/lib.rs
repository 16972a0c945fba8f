//! oracle
pub mod density;
pub mod geometry;
pub mod reward_units;
