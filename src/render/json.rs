//! json rendering: to be written.
