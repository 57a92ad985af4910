//! jalin's workers: what turns configuration and data into delivered messages. This crate is
//! where the engine (storage, segments), the templates and the channels meet.

pub mod context;
pub mod delivery;
pub mod links;
pub mod project;
pub mod queue;
pub mod scheduler;
pub mod settings;
pub mod wiring;
