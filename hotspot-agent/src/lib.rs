//! hotspot-agent
