//! The `llmb` binary: parse the command line, run it on a tokio runtime, print errors as
//! one line and map them to exit codes. The only place that exits.

mod cli;
mod commands;
mod live;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.first().is_some_and(cli::llmb_run::invoked_as_llmb_run) {
        argv = cli::llmb_run::rewrite(argv);
    }
    let argv = match cli::aiperf::check(&argv).and_then(|()| cli::vllm::normalize(argv)) {
        Ok(a) => a,
        Err(message) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {message}");
            }
            return ExitCode::from(llmb_settings::exit::INVALID);
        }
    };
    let cli = cli::Cli::parse_from(argv);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: cannot start the async runtime: {e}");
            }
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(commands::dispatch(cli));
    // Do not wait for lingering tasks (open sockets of a dead server, for example).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code.0),
        Err(e) => {
            let code = if llmb_settings::is_invalid(&e) {
                llmb_settings::exit::INVALID
            } else {
                llmb_settings::exit::ERROR
            };
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}
