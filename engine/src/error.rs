//! The engine's error type.

use thiserror::Error;

/// What went wrong in the engine.
#[derive(Debug, Error)]
pub enum Error {
    /// The database could not be reached or opened.
    #[error("cannot open database {url}: {reason}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// Why.
        reason: String,
    },
    /// A query failed. (The driver's error is in the message, not the source chain, so
    /// `{:#}` does not print it twice.)
    #[error("database error while {context}: {cause}")]
    Database {
        /// What the engine was doing.
        context: String,
        /// The driver's error.
        cause: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Something the user asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input that cannot be used, with a message that says what and where.
    #[error("{0}")]
    Invalid(String),
    /// A batched write this request was part of failed (the database's error, as text: the
    /// whole batch shares it).
    #[error("{0}")]
    Batch(String),
}

impl Error {
    /// Wraps a driver error with what the engine was doing.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |cause| Error::Database { context, cause }
    }

    /// Wraps an I/O error with the path involved.
    pub fn io(path: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Whether this is the user's mistake (exit code 1) rather than an environment failure.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Database { .. } | Error::Batch(_))
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Migrate(e)
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
