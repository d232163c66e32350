//! cloudtrail: to be written.
