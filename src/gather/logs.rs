//! logs: to be written.
