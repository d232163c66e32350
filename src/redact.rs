//! Secret redaction: to be written.
