//! Dedicated OS threads that own a model each, fed by one bounded queue.
//!
//! Models never run on the async runtime: a libtorch forward pass blocks for milliseconds to
//! seconds. Each worker loads its own copy of the model on its own thread (rust-bert models are
//! not `Sync`), takes jobs from a bounded channel, groups whatever is already waiting into one
//! batch, and answers each job through its own oneshot channel. A job whose deadline has passed
//! or whose caller has gone is dropped before it runs.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use super::{panic_message, ModelError};
use crate::error::PrecisError;
use crate::telemetry;

/// A model that a worker owns and runs in batches.
pub trait ModelEngine: 'static {
    type Input: Send + 'static;
    type Output: Send + 'static;

    /// Runs one batch. Returns exactly one result per input, in input order.
    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>>;

    /// How much work one input carries, so a batch stays within `max_batch_cost`.
    fn cost(_input: &Self::Input) -> usize {
        1
    }
}

/// How a pool is shaped. All of it comes from configuration.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// A name for threads, logs and metrics, e.g. "embeddings".
    pub name: String,
    pub workers: usize,
    /// Jobs waiting beyond this are refused at once with `Overloaded`.
    pub queue_capacity: usize,
    /// The most work (sum of `ModelEngine::cost`) grouped into one batch.
    pub max_batch_cost: usize,
    /// libtorch intra-op threads per worker.
    pub torch_threads: usize,
}

struct Job<E: ModelEngine> {
    input: E::Input,
    deadline: Option<Instant>,
    enqueued_at: Instant,
    reply: oneshot::Sender<Result<E::Output, PrecisError>>,
    span: tracing::Span,
}

/// What happened to a submitted job before it ran. Counted for metrics and tests.
#[derive(Debug, Default)]
pub struct PoolCounters {
    pub completed: AtomicUsize,
    pub dropped_deadline: AtomicUsize,
    pub dropped_caller_gone: AtomicUsize,
    pub rejected_full: AtomicUsize,
}

/// A pool of workers owning one kind of model.
pub struct WorkerPool<E: ModelEngine> {
    config: PoolConfig,
    sender: Option<Sender<Job<E>>>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<PoolCounters>,
    load_time: Duration,
}

impl<E: ModelEngine> WorkerPool<E> {
    /// Starts the workers and waits until each has loaded its model.
    /// `load` runs once on every worker thread.
    pub fn start<L>(config: PoolConfig, load: L) -> Result<Self, ModelError>
    where
        L: Fn() -> Result<E, ModelError> + Send + Sync + 'static,
    {
        let started = Instant::now();
        let (sender, receiver) = crossbeam_channel::bounded::<Job<E>>(config.queue_capacity.max(1));
        let load = Arc::new(load);
        let counters = Arc::new(PoolCounters::default());
        let mut threads = Vec::with_capacity(config.workers);
        let mut ready = Vec::with_capacity(config.workers);
        for index in 0..config.workers.max(1) {
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), ModelError>>(1);
            let receiver = receiver.clone();
            let load = Arc::clone(&load);
            let counters = Arc::clone(&counters);
            let worker_config = config.clone();
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", config.name))
                .spawn(move || {
                    tch::set_num_threads(worker_config.torch_threads.max(1) as i32);
                    let loaded =
                        catch_unwind(AssertUnwindSafe(|| load())).unwrap_or_else(|panic| {
                            Err(ModelError::LoadPanicked(panic_message(&panic)))
                        });
                    match loaded {
                        Ok(engine) => {
                            let _ = ready_tx.send(Ok(()));
                            run_worker(engine, receiver, &worker_config, &counters);
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                        }
                    }
                })
                .map_err(|error| ModelError::Thread(error.to_string()))?;
            threads.push(thread);
            ready.push(ready_rx);
        }
        for ready_rx in ready {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(ModelError::Thread("a worker exited while loading".into())),
            }
        }
        Ok(Self {
            config,
            sender: Some(sender),
            threads,
            counters,
            load_time: started.elapsed(),
        })
    }

    /// Queues one input. Refuses at once when the queue is full; the returned receiver answers
    /// when the work is done, or with `DeadlineExceeded` if it could not start in time.
    pub fn submit(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<oneshot::Receiver<Result<E::Output, PrecisError>>, PrecisError> {
        let sender = self.sender.as_ref().ok_or_else(|| {
            PrecisError::Unavailable(format!("{} workers stopped", self.config.name))
        })?;
        let (reply, receiver) = oneshot::channel();
        let job = Job {
            input,
            deadline,
            enqueued_at: Instant::now(),
            reply,
            span: tracing::Span::current(),
        };
        match sender.try_send(job) {
            Ok(()) => {
                telemetry::record_queue_depth(&self.config.name, sender.len());
                Ok(receiver)
            }
            Err(TrySendError::Full(_)) => {
                self.counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                Err(PrecisError::Overloaded(format!(
                    "the {} queue is full ({} jobs waiting); retry later",
                    self.config.name, self.config.queue_capacity
                )))
            }
            Err(TrySendError::Disconnected(_)) => Err(PrecisError::Unavailable(format!(
                "{} workers stopped",
                self.config.name
            ))),
        }
    }

    /// Submits and waits, from async code.
    pub async fn run(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<E::Output, PrecisError> {
        let receiver = self.submit(input, deadline)?;
        receiver.await.unwrap_or_else(|_| {
            Err(PrecisError::EngineFailure(format!(
                "a {} worker died",
                self.config.name
            )))
        })
    }

    /// Submits and waits, from a plain thread (CLI, blocking callers).
    pub fn run_blocking(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<E::Output, PrecisError> {
        let receiver = self.submit(input, deadline)?;
        receiver.blocking_recv().unwrap_or_else(|_| {
            Err(PrecisError::EngineFailure(format!(
                "a {} worker died",
                self.config.name
            )))
        })
    }

    pub fn counters(&self) -> &PoolCounters {
        &self.counters
    }

    pub fn queue_len(&self) -> usize {
        self.sender.as_ref().map_or(0, |sender| sender.len())
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Wall time until every worker had loaded its model.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }
}

impl<E: ModelEngine> Drop for WorkerPool<E> {
    fn drop(&mut self) {
        // Closing the channel ends each worker's loop once the queue is empty.
        self.sender.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn run_worker<E: ModelEngine>(
    mut engine: E,
    receiver: Receiver<Job<E>>,
    config: &PoolConfig,
    counters: &PoolCounters,
) {
    let pool = config.name.clone();
    let mut worked_since_trim = false;
    loop {
        let first = if worked_since_trim {
            match receiver.recv_timeout(IDLE_BEFORE_TRIM) {
                Ok(job) => job,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    release_free_memory();
                    worked_since_trim = false;
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        worked_since_trim = true;
        let mut batch = Vec::new();
        let mut cost = 0;
        let mut next = Some(first);
        // Take what is already waiting, up to the batch budget; never wait for more.
        while let Some(job) = next.take() {
            if let Some(job) = admit(job, counters) {
                cost += E::cost(&job.input);
                batch.push(job);
            }
            if cost >= config.max_batch_cost {
                break;
            }
            next = receiver.try_recv().ok();
        }
        if batch.is_empty() {
            continue;
        }
        telemetry::record_queue_depth(&pool, receiver.len());
        telemetry::record_batch_start(&pool, batch.iter().map(|job| job.enqueued_at.elapsed()));
        let mut inputs = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            inputs.push(job.input);
            replies.push((job.reply, job.span));
        }
        let count = inputs.len();
        let started = Instant::now();
        let results =
            catch_unwind(AssertUnwindSafe(|| engine.run_batch(inputs))).unwrap_or_else(|panic| {
                let message = format!("the {pool} model panicked: {}", panic_message(&panic));
                (0..count)
                    .map(|_| Err(PrecisError::EngineFailure(message.clone())))
                    .collect()
            });
        telemetry::record_batch_run(&pool, started.elapsed());
        let mut results = results.into_iter();
        for (reply, span) in replies {
            let result = results.next().unwrap_or_else(|| {
                Err(PrecisError::EngineFailure(format!(
                    "the {pool} engine returned too few results"
                )))
            });
            span.in_scope(|| tracing::trace!(pool = %pool, ok = result.is_ok(), "job done"));
            counters.completed.fetch_add(1, Ordering::Relaxed);
            // The caller may have gone meanwhile; nothing to do then.
            let _ = reply.send(result);
        }
    }
}

/// How long a worker waits idle after a batch before handing freed memory back to the system.
const IDLE_BEFORE_TRIM: Duration = Duration::from_secs(2);

/// glibc keeps the memory a burst of batches freed (forward-pass buffers, tokenizer output) in
/// its arenas, so the server's RSS stays at its peak after load; `malloc_trim` returns the free
/// pages to the system. Called only when a worker has been idle a while, so no job waits on it.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory held by the allocator; it touches no
    // memory in use and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Lets a job through, or drops it because nobody waits for it or its time is up.
fn admit<E: ModelEngine>(job: Job<E>, counters: &PoolCounters) -> Option<Job<E>> {
    if job.reply.is_closed() {
        counters.dropped_caller_gone.fetch_add(1, Ordering::Relaxed);
        telemetry::record_dropped_job("caller_gone");
        return None;
    }
    if let Some(deadline) = job.deadline {
        if Instant::now() >= deadline {
            counters.dropped_deadline.fetch_add(1, Ordering::Relaxed);
            telemetry::record_dropped_job("deadline");
            let waited = job.enqueued_at.elapsed();
            let _ = job.reply.send(Err(PrecisError::DeadlineExceeded(waited)));
            return None;
        }
    }
    Some(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Mutex;

    /// Long enough for a loaded 2-core machine; a test that waits this long has failed anyway.
    const PATIENCE: Duration = Duration::from_secs(120);

    /// Doubles numbers. Reports each batch's size on `entered` as it starts, then blocks on
    /// `gate`, so a test knows the worker is busy inside a batch (and has stopped taking jobs).
    struct Doubler {
        entered: mpsc::Sender<usize>,
        gate: Arc<Mutex<mpsc::Receiver<()>>>,
        batches: Arc<Mutex<Vec<usize>>>,
    }

    impl ModelEngine for Doubler {
        type Input = u32;
        type Output = u32;
        fn run_batch(&mut self, inputs: Vec<u32>) -> Vec<Result<u32, PrecisError>> {
            let _ = self.entered.send(inputs.len());
            let _ = self.gate.lock().unwrap().recv();
            self.batches.lock().unwrap().push(inputs.len());
            inputs.into_iter().map(|x| Ok(x * 2)).collect()
        }
    }

    /// A one-worker pool of `Doubler`s and the handles that steer it.
    struct Gated {
        // Dropped before the pool (fields drop in order): a test failing half-way frees the
        // worker from the gate instead of hanging in the pool's join.
        open: mpsc::Sender<()>,
        entered: mpsc::Receiver<usize>,
        batches: Arc<Mutex<Vec<usize>>>,
        pool: WorkerPool<Doubler>,
    }

    impl Gated {
        fn start(queue: usize) -> Self {
            let (open, gate) = mpsc::channel();
            let gate = Arc::new(Mutex::new(gate));
            let (entered_tx, entered) = mpsc::channel();
            let batches = Arc::new(Mutex::new(Vec::new()));
            let engine_batches = Arc::clone(&batches);
            let config = PoolConfig {
                name: "test".into(),
                workers: 1,
                queue_capacity: queue,
                max_batch_cost: 8,
                torch_threads: 1,
            };
            let pool = WorkerPool::start(config, move || {
                Ok(Doubler {
                    entered: entered_tx.clone(),
                    gate: Arc::clone(&gate),
                    batches: Arc::clone(&engine_batches),
                })
            })
            .unwrap();
            Self {
                open,
                entered,
                batches,
                pool,
            }
        }

        /// Waits until the worker has started a batch (it then holds at the gate); its size.
        fn wait_for_batch_start(&self) -> usize {
            self.entered
                .recv_timeout(PATIENCE)
                .expect("the worker started a batch")
        }

        /// Submits a job and waits until the worker holds it at the gate: the jobs submitted
        /// next wait in the queue together.
        fn hold_worker_busy(&self) -> oneshot::Receiver<Result<u32, PrecisError>> {
            let busy = self.pool.submit(0, None).unwrap();
            assert_eq!(self.wait_for_batch_start(), 1, "the busy job runs alone");
            busy
        }

        fn open_gate(&self, batches: usize) {
            for _ in 0..batches {
                self.open.send(()).unwrap();
            }
        }

        fn batches(&self) -> Vec<usize> {
            self.batches.lock().unwrap().clone()
        }
    }

    #[test]
    fn jobs_waiting_together_run_as_one_batch_in_order() {
        let gated = Gated::start(16);
        let busy = gated.hold_worker_busy();
        let waiting: Vec<_> = (1..=3)
            .map(|x| gated.pool.submit(x, None).unwrap())
            .collect();
        gated.open_gate(2);
        assert_eq!(busy.blocking_recv().unwrap().unwrap(), 0);
        let answers: Vec<u32> = waiting
            .into_iter()
            .map(|r| r.blocking_recv().unwrap().unwrap())
            .collect();
        assert_eq!(answers, vec![2, 4, 6]);
        assert_eq!(gated.batches(), vec![1, 3]);
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let gated = Gated::start(1);
        let busy = gated.hold_worker_busy();
        let queued = gated.pool.submit(1, None).unwrap();
        let refused = gated.pool.submit(2, None).unwrap_err();
        assert!(matches!(refused, PrecisError::Overloaded(_)), "{refused:?}");
        assert_eq!(
            gated.pool.counters().rejected_full.load(Ordering::Relaxed),
            1
        );
        gated.open_gate(2);
        assert_eq!(busy.blocking_recv().unwrap().unwrap(), 0);
        assert_eq!(
            queued.blocking_recv().unwrap().unwrap(),
            2,
            "the queued job ran"
        );
    }

    #[test]
    fn expired_and_abandoned_jobs_are_dropped_before_they_run() {
        let gated = Gated::start(16);
        let busy = gated.hold_worker_busy();
        // Due the moment it is queued: past by the time the worker looks at it, on any machine.
        let expired = gated.pool.submit(1, Some(Instant::now())).unwrap();
        let abandoned = gated.pool.submit(2, None).unwrap();
        drop(abandoned);
        let kept = gated.pool.submit(3, None).unwrap();
        gated.open_gate(2);
        busy.blocking_recv().unwrap().unwrap();
        assert!(matches!(
            expired.blocking_recv().unwrap(),
            Err(PrecisError::DeadlineExceeded(_))
        ));
        assert_eq!(kept.blocking_recv().unwrap().unwrap(), 6);
        assert_eq!(gated.batches(), vec![1, 1], "only the live job ran");
        let counters = gated.pool.counters();
        assert_eq!(counters.dropped_deadline.load(Ordering::Relaxed), 1);
        assert_eq!(counters.dropped_caller_gone.load(Ordering::Relaxed), 1);
        assert_eq!(counters.completed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_failing_loader_is_reported_not_panicked() {
        let config = PoolConfig {
            name: "broken".into(),
            workers: 2,
            queue_capacity: 1,
            max_batch_cost: 1,
            torch_threads: 1,
        };
        let error = WorkerPool::<Doubler>::start(config, || panic!("no weights"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("no weights"), "{error}");
    }

    #[test]
    fn a_panicking_batch_answers_internal_and_the_worker_lives_on() {
        struct Fragile;
        impl ModelEngine for Fragile {
            type Input = u32;
            type Output = u32;
            fn run_batch(&mut self, inputs: Vec<u32>) -> Vec<Result<u32, PrecisError>> {
                assert!(inputs[0] != 13, "unlucky input");
                inputs.into_iter().map(Ok).collect()
            }
        }
        let config = PoolConfig {
            name: "fragile".into(),
            workers: 1,
            queue_capacity: 4,
            max_batch_cost: 1,
            torch_threads: 1,
        };
        let pool = WorkerPool::start(config, || Ok(Fragile)).unwrap();
        let error = pool.run_blocking(13, None).unwrap_err();
        assert!(
            matches!(error, PrecisError::EngineFailure(ref m) if m.contains("unlucky")),
            "{error:?}"
        );
        assert_eq!(pool.run_blocking(7, None).unwrap(), 7);
    }
}
