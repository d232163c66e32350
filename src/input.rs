//! Input documents for explain: to be written.
