//! libtorch's intra-op threads are GNU OpenMP's (libgomp, shipped in the torch wheel). By
//! default an idle OpenMP thread spins for about 3 ms (300,000 spins) before it sleeps; with two
//! intra-op threads on a busy two-core box the spinning thread holds a core the working one
//! needs. Measured with the `torch-bf16` engine, the shared sample Digest, two threads (README,
//! Session 11): one caller at load 6-7, 532-712 ms of server CPU per call with the default
//! against 82 ms with threads that never spin (`OMP_WAIT_POLICY=PASSIVE`); but four callers on a
//! quieter box got only 8.6-11.7 Digests/s without spinning against 16.8-18.2 with a short spin
//! (`GOMP_SPINCOUNT=10000`, about 0.1 ms): waking a sleeping thread for every small op costs
//! more than the spin. ONNX Runtime's own threads already sleep (`with_intra_op_spinning`).
//!
//! libgomp reads its environment once, when the library loads, before `main` runs: the spin
//! cannot be set from inside the process. [`sleep_between_parallel_regions`] therefore starts
//! the program again, in place (same process id), with `GOMP_SPINCOUNT=10000` added, unless the
//! environment already sets a wait policy or a spin count (an operator's choice wins).
use std::ffi::OsString;

/// The variables libgomp reads how long idle threads spin from.
pub const WAIT_POLICY: &str = "OMP_WAIT_POLICY";
pub const SPIN_COUNT: &str = "GOMP_SPINCOUNT";

/// Spins before an idle OpenMP thread sleeps: about 0.1 ms.
pub const SHORT_SPIN: &str = "10000";

/// Re-executes this program with `GOMP_SPINCOUNT=10000` when the environment sets neither a
/// wait policy nor a spin count; returns only when it does not re-execute (one is set, or
/// `exec` failed: then the error, and the program runs on with OpenMP's default).
pub fn sleep_between_parallel_regions() -> Result<(), String> {
    if std::env::var_os(WAIT_POLICY).is_some() || std::env::var_os(SPIN_COUNT).is_some() {
        return Ok(());
    }
    let program = std::env::current_exe()
        .map_err(|error| format!("cannot find this program to restart it: {error}"))?;
    let mut args = std::env::args_os();
    let name = args.next().unwrap_or_else(|| OsString::from("precis"));
    use std::os::unix::process::CommandExt;
    let error = std::process::Command::new(program)
        .arg0(name)
        .args(args)
        .env(SPIN_COUNT, SHORT_SPIN)
        .exec();
    Err(format!(
        "cannot restart with {SPIN_COUNT}={SHORT_SPIN} ({error}); idle OpenMP threads will spin for about 3 ms"
    ))
}
