//! The `jalin` command: a thin shell over the engine, workers and HTTP server.

use std::process::ExitCode;

fn main() -> ExitCode {
    jalin::cli::main()
}
