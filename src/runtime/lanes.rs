//! Two lanes for a request's own CPU work (segmentation, quotes, the ranking: everything that is
//! not model work, which the model workers' fair queue shares out). Requests up to a cost
//! threshold run on the server's async runtime, as before; costlier ones (long articles) run on a
//! second runtime whose threads, async and blocking alike, run at a lower OS priority (a higher
//! nice value). A long article's stages then never hold one of the threads that serve short
//! calls, and when the cores are busy the kernel gives the short calls' stages and the model
//! workers the CPU first (issue #14, session 9).
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::PrecisError;

/// The cost (article bytes) above which a request's CPU work runs in the low-priority lane: a
/// long read, eight times the length of a typical news story.
pub const LONG_REQUEST_BYTES: usize = 32 * 1024;

/// How much lower the long lane's threads run than the server: nice +10 weighs about a tenth of
/// a normal thread in Linux's scheduler.
pub const LONG_REQUEST_NICENESS: i32 = 10;

pub struct CpuLanes {
    threshold: usize,
    niceness: i32,
    /// Started on the first long request, so a server or CLI that never sees one has no
    /// extra threads.
    long_lane: OnceLock<Result<Runtime, String>>,
}

impl CpuLanes {
    pub fn new(threshold: usize, niceness: i32) -> Self {
        Self {
            threshold,
            niceness,
            long_lane: OnceLock::new(),
        }
    }

    /// Whether work of this cost goes to the low-priority lane.
    pub fn is_long(&self, cost: usize) -> bool {
        cost > self.threshold
    }

    /// Runs `work` in the lane its cost picks and waits for it. Dropping the returned future
    /// (a cancelled call) aborts the work in either lane.
    pub async fn run<F>(&self, cost: usize, work: F) -> Result<F::Output, PrecisError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if !self.is_long(cost) {
            return Ok(work.await);
        }
        let task = AbortOnDrop(self.long_lane()?.spawn(work));
        task.await.map_err(|error| {
            PrecisError::Internal(format!("a long request's task failed: {error}"))
        })
    }

    fn long_lane(&self) -> Result<&Runtime, PrecisError> {
        let niceness = self.niceness;
        self.long_lane
            .get_or_init(|| {
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    // Blocking work of long requests (text analysis) waits for a thread rather
                    // than starting one per request.
                    .max_blocking_threads(threads * 2)
                    .thread_name("long-requests")
                    .on_thread_start(move || lower_this_thread(niceness))
                    .enable_all()
                    .build()
                    .map_err(|error| format!("the long-request runtime did not start: {error}"))
            })
            .as_ref()
            .map_err(|error| PrecisError::Internal(error.clone()))
    }
}

impl Drop for CpuLanes {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which tokio forbids inside async code (where the pipeline
        // may be dropped); its tasks belong to calls that are gone by now.
        if let Some(Ok(runtime)) = self.long_lane.take() {
            runtime.shutdown_background();
        }
    }
}

/// A spawned task that is aborted when its waiter goes away.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(context)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The calling thread's nice value (Linux schedules threads one by one; elsewhere 0).
pub fn this_thread_niceness() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and getpriority only read the calling thread's own scheduling state.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, thread)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// The process's nice value: its main thread's.
pub fn process_niceness() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: getpid and getpriority only read scheduling state.
    unsafe {
        libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// Sets the calling thread `niceness` below the process (at most 19). Relative to the process,
/// not to the thread: a thread inherits its creator's value, and a blocking thread started by
/// an already lowered one must not sink further. Lowering one's own priority needs no
/// privilege; on failure the thread just keeps its priority.
fn lower_this_thread(niceness: i32) {
    #[cfg(target_os = "linux")]
    {
        let target = (process_niceness() + niceness).min(19);
        // SAFETY: setpriority on the calling thread's own id changes only its scheduling.
        let result = unsafe {
            let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, thread, target)
        };
        if result != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "could not lower a long-request thread's priority"
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the async thread and of a blocking thread a request's work runs on.
    async fn where_work_runs() -> (i32, i32) {
        let on_async = this_thread_niceness();
        let on_blocking = tokio::task::spawn_blocking(this_thread_niceness)
            .await
            .unwrap();
        (on_async, on_blocking)
    }

    #[test]
    fn a_long_requests_work_runs_at_a_lower_priority_and_a_short_ones_does_not() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let lanes = CpuLanes::new(1000, 10);
        let normal = process_niceness();
        let lowered = (normal + 10).min(19);
        runtime.block_on(async {
            let short = lanes.run(1000, where_work_runs()).await.unwrap();
            assert_eq!(
                short,
                (normal, normal),
                "a short request stays in the normal lane"
            );
            let long = lanes.run(1001, where_work_runs()).await.unwrap();
            assert_eq!(
                long,
                (lowered, lowered),
                "a long request's threads are lowered"
            );
            // Blocking threads started from a lowered thread sink no further.
            let again = lanes.run(5000, where_work_runs()).await.unwrap();
            assert_eq!(again, (lowered, lowered));
            assert_eq!(
                this_thread_niceness(),
                normal,
                "the caller's thread is untouched"
            );
        });
        drop(lanes);
    }

    #[test]
    fn a_dropped_long_request_is_aborted() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let lanes = CpuLanes::new(0, 10);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (_never_tx, never_rx) = tokio::sync::oneshot::channel::<()>();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        /// Reports when the task holding it is dropped (aborted).
        struct Witness(std::sync::mpsc::Sender<()>);
        impl Drop for Witness {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        runtime.block_on(async {
            let call = lanes.run(1, async move {
                let _witness = Witness(dropped_tx);
                let _ = started_tx.send(());
                let _ = never_rx.await;
            });
            tokio::select! {
                _ = call => panic!("the work cannot finish"),
                _ = started_rx => {}
            }
        });
        // The call's future was dropped when select! returned: the task must be gone.
        dropped_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the long request's task was aborted");
    }
}
