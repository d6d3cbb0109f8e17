/// mimalloc: the server's writer thread allocates what the tokio workers free; glibc's
/// arenas took a lock for that on every message (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    termim::cli::main()
}
