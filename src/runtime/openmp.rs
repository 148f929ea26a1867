//! libtorch's intra-op threads are GNU OpenMP's (libgomp, shipped in the torch wheel). By
//! default an idle OpenMP thread spins for a while before it sleeps; with two intra-op threads
//! on a busy two-core box the spinning thread holds a core the working one needs. Measured with
//! the `torch-bf16` engine, the shared sample Digest, one caller, two threads, load average 5-7:
//! 365-686 ms of server CPU per call with the default policy against 96 ms with
//! `OMP_WAIT_POLICY=PASSIVE` (README, Session 11). ONNX Runtime's own threads already sleep
//! (`with_intra_op_spinning(false)`, session 8).
//!
//! libgomp reads its environment once, when the library loads, before `main` runs: the policy
//! cannot be set from inside the process. [`sleep_between_parallel_regions`] therefore starts
//! the program again, in place (same process id), with `OMP_WAIT_POLICY=PASSIVE` added, unless
//! the environment already sets a policy (an operator's choice wins).
use std::ffi::OsString;

/// The variable libgomp reads its wait policy from.
pub const WAIT_POLICY: &str = "OMP_WAIT_POLICY";

/// Re-executes this program with `OMP_WAIT_POLICY=PASSIVE` when the environment sets no wait
/// policy; returns only when it does not re-execute (the policy is set, or `exec` failed: then
/// the error, and the program runs on with OpenMP's default).
pub fn sleep_between_parallel_regions() -> Result<(), String> {
    if std::env::var_os(WAIT_POLICY).is_some() {
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
        .env(WAIT_POLICY, "PASSIVE")
        .exec();
    Err(format!(
        "cannot restart with {WAIT_POLICY}=PASSIVE ({error}); idle OpenMP threads will spin"
    ))
}
