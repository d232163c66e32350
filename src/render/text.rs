//! text rendering: to be written.
