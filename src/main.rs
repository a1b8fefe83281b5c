fn main() -> std::process::ExitCode {
    flamegate::commands::main("flamegate", std::env::args_os().collect())
}
