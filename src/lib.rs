//! The `jalin` binary's library half: the command line and the HTTP server, so integration
//! tests can drive both in-process.

pub mod cli;
mod html;
mod server;
