//! `cargo flamegate ...`: cargo runs `cargo-flamegate flamegate ...` for
//! it, so the subcommand's own name is dropped before parsing. Run directly
//! (`cargo-flamegate check`) it behaves as `flamegate`.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|first| first == "flamegate") {
        args.remove(1);
    }
    flamegate::commands::main("cargo flamegate", args)
}
