//! `cargo run -p longpoll-example-custom -- --listen 127.0.0.1:3000`
//!
//! The longpoll echo server without tokio: protocol v1 at `/longpoll`; echoes every message;
//! `close-me` closes with 4000. Ctrl-C closes every session (1001), answers held polls, exits.

use clap::Parser;
use longpoll_example_custom::{Args, MOUNT_PATH, spawn};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = spawn(args)?;
    eprintln!(
        "longpoll echo (no tokio) listening: http://{}{MOUNT_PATH}",
        server.local_addr()
    );
    let stop = server.stop_handle();
    ctrlc::set_handler(move || {
        eprintln!("shutting down: closing every session");
        stop.stop();
    })?;
    server.wait()?;
    eprintln!("bye");
    Ok(())
}
