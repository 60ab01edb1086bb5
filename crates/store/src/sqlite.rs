//! SQLite implementation of [`crate::Store`] (placeholder; being written).
pub struct SqliteStore;
