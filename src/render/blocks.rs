//! blocks rendering: to be written.
