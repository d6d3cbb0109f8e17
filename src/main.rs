fn main() -> std::process::ExitCode {
    termim::cli::main()
}
