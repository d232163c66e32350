//! Placeholder until the memory graph lands: the terminal sparkline only.

use crate::evidence::probes::MemorySeries;

/// One terminal line for the series.
pub fn sparkline(series: &MemorySeries) -> String {
    format!("{} points from {}", series.points.len(), series.source)
}

/// Placeholder: no image yet.
pub fn png(_series: &MemorySeries, _title: &str) -> Result<Vec<u8>, String> {
    Err("the memory graph is not drawn yet".to_string())
}
