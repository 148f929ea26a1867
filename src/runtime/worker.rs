//! Dedicated OS threads that own a model each, fed by one bounded, fair queue.
//!
//! Models never run on the async runtime: a libtorch forward pass blocks for milliseconds to
//! seconds. Each worker loads the model on its own thread (rust-bert models are not `Sync`: each
//! worker holds its own copy, except where a backend shares read-only weights, as `torch-bf16`
//! embeddings do through `embeddings::SharedWeights`), takes jobs from a bounded queue, groups whatever is already waiting into one
//! batch, and answers each job through its own oneshot channel. A job whose deadline has passed
//! or whose caller has gone is dropped before it runs.
//!
//! The queue is fair between requests (issue #14): a request that sends its work in pieces
//! through a [`Flow`] is served by fair queueing on each piece's cost (`ModelEngine::share`):
//! every job gets a virtual start tag (the later of the scheduler's virtual time and its flow's
//! previous finish tag) and a finish tag (start + cost), and the job with the smallest finish
//! tag runs next. A 3 KB article arriving while 256 KB ones run therefore waits for the piece
//! in service, not for the big articles' backlog; big articles share the workers evenly among
//! themselves. Jobs submitted without a flow share one default flow, so they stay first in,
//! first out among themselves (as the summarizer and translation pools rely on).
//!
//! Plain fair queueing gives a request that arrives beside three busy ones a quarter of the
//! workers for as long as it has work queued: a small article queued in pieces took up to four
//! times as long as alone (session 9, measured). A flow may therefore get a **head start**
//! ([`WorkerPool::flow_with_head_start`]): its tags start up to that much share behind the
//! scheduler's virtual time, so its first work runs before that of flows already being served,
//! which then go on sharing fairly. As with a scheduler's credit for a thread that wakes up,
//! the head start is bounded: each flow that starts (or comes back after falling that far
//! behind) can put at most that much work ahead of the others.
//!
//! Each flow's head start is bounded, but a stream of new flows is not: short requests arriving
//! back to back, each with its own head start, would keep a long request's pieces waiting for as
//! long as the stream lasts (taking a newcomer's job never moves the virtual time, since its
//! tags start behind it). So once a job beyond its flow's head start has waited
//! [`HELD_BACK_AFTER`], its flow counts as **held back** for the rest of its life, and while a
//! held-back flow has work queued and head starts have taken more than [`CREDIT_CAP`] of the
//! recent work, the fairest job of a held-back flow runs next. One short caller beside long
//! articles on a box with CPU to spare does not hold them back that long (measured: nothing
//! reordered), so the order there is the one above; a long request beside a saturating stream
//! of short ones keeps about the rest of the workers.
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

    /// What one input costs in compute, for fairness between requests (e.g. padded tokens).
    fn share(input: &Self::Input) -> usize {
        Self::cost(input)
    }

    /// The most `share` one batch groups (the first job always runs, however big): a small
    /// request never waits for more than this much of other requests' work in service.
    const MAX_BATCH_SHARE: usize = usize::MAX;
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
    /// The submitting flow's time sheet, when it keeps one.
    times: Option<Arc<Mutex<FlowTimes>>>,
}

/// Where one flow's jobs spent their time in the pool, for debug logs and tests: how long
/// batches holding them ran, and when the last one was answered (the rest of a caller's wait
/// was other flows' work ahead of it).
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowTimes {
    /// Jobs of the flow that ran.
    pub jobs: usize,
    /// Run time of the batches that held the flow's jobs (a batch shared with other flows
    /// counts whole).
    pub service: Duration,
    /// The longest a job of the flow waited in the queue.
    pub longest_queued: Duration,
    /// When the worker answered the flow's latest job.
    pub last_answer: Option<Instant>,
}

/// A flow's scheduling state.
#[derive(Debug, Default, Clone, Copy)]
struct FlowState {
    /// The finish tag of the flow's last job.
    last_finish: u64,
    /// How far behind the virtual time the flow's tags may start (see the module doc).
    head_start: u64,
    /// The virtual time when the flow last took its head start: its jobs starting before it
    /// run on credit.
    credit_until: u64,
    /// Its jobs in the queue: a flow takes a head start only when it has none (it starts, or
    /// comes back), never while it waits with work queued.
    queued: usize,
    /// A job of it beyond its head start waited [`HELD_BACK_AFTER`] (see the module doc).
    held_back: bool,
}

/// A job in the queue with its fair-queueing tags.
struct Queued<E: ModelEngine> {
    flow: u64,
    start: u64,
    finish: u64,
    /// It starts within its flow's head start: it runs on credit, ahead of flows already
    /// being served.
    credited: bool,
    /// Submission order: equal finish tags run first in, first out.
    sequence: u64,
    job: Job<E>,
}

impl<E: ModelEngine> Queued<E> {
    fn key(&self) -> (u64, u64) {
        (self.finish, self.sequence)
    }
}

impl<E: ModelEngine> PartialEq for Queued<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E: ModelEngine> Eq for Queued<E> {}

impl<E: ModelEngine> PartialOrd for Queued<E> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl<E: ModelEngine> Ord for Queued<E> {
    /// Reversed: the binary heap pops the smallest finish tag first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.key().cmp(&self.key())
    }
}

/// The flow of jobs submitted without one.
const DEFAULT_FLOW: u64 = 0;

/// The largest part of the recent work that may run on head-start credit while a held-back flow
/// waits (see the module doc): three quarters, so a long request beside a saturating stream of
/// short ones still gets a quarter of the workers.
const CREDIT_CAP: f64 = 0.75;

/// How long a job beyond its flow's head start may wait before its flow counts as held back:
/// far above a piece's wait while the workers are shared fairly (tens of milliseconds).
const HELD_BACK_AFTER: Duration = Duration::from_secs(1);

/// How many recent jobs the credit share is measured over (an exponential average: each job
/// taken weighs its share, older ones fade by this many jobs).
const CREDIT_WINDOW_JOBS: f64 = 32.0;

struct FairQueue<E: ModelEngine> {
    jobs: BinaryHeap<Queued<E>>,
    /// Each live flow's tags.
    flows: HashMap<u64, FlowState>,
    /// The start tag of the job most recently taken by a worker.
    virtual_time: u64,
    next_sequence: u64,
    next_flow: u64,
    /// The recent work taken (by share, fading over [`CREDIT_WINDOW_JOBS`]) and how much of it
    /// ran on head-start credit.
    recent_work: f64,
    recent_credited_work: f64,
    /// See [`HELD_BACK_AFTER`]; a field so tests can set it.
    held_back_after: Duration,
    /// Jobs of held-back flows taken ahead of fairer ones because head starts were over
    /// [`CREDIT_CAP`].
    capped_jobs: u64,
    /// No more jobs: workers stop once the queue is empty.
    closed: bool,
}

impl<E: ModelEngine> FairQueue<E> {
    fn new() -> Self {
        Self {
            jobs: BinaryHeap::new(),
            flows: HashMap::from([(DEFAULT_FLOW, FlowState::default())]),
            virtual_time: 0,
            next_sequence: 0,
            next_flow: DEFAULT_FLOW + 1,
            recent_work: 0.0,
            recent_credited_work: 0.0,
            held_back_after: HELD_BACK_AFTER,
            capped_jobs: 0,
            closed: false,
        }
    }

    fn push(&mut self, flow: u64, job: Job<E>) {
        let mut state = self.flows.get(&flow).copied().unwrap_or_default();
        let earliest = self.virtual_time.saturating_sub(state.head_start);
        if earliest > state.last_finish && state.queued == 0 {
            // The flow starts, or comes back from far enough behind: it takes its head start.
            state.credit_until = self.virtual_time;
        }
        let start = earliest.max(state.last_finish);
        let finish = start + E::share(&job.input).max(1) as u64;
        state.last_finish = finish;
        state.queued += 1;
        if let Some(live) = self.flows.get_mut(&flow) {
            *live = state;
        }
        self.next_sequence += 1;
        self.jobs.push(Queued {
            flow,
            start,
            finish,
            credited: start < state.credit_until,
            sequence: self.next_sequence,
            job,
        });
    }

    fn open_flow(&mut self, head_start: u64) -> u64 {
        let id = self.next_flow;
        self.next_flow += 1;
        self.flows.insert(
            id,
            FlowState {
                head_start,
                ..FlowState::default()
            },
        );
        id
    }

    /// Head starts have taken their cap of the recent work.
    fn credit_capped(&self) -> bool {
        self.recent_credited_work > CREDIT_CAP * self.recent_work
    }

    /// Marks the flows whose jobs beyond their head start have waited too long as held back
    /// (a scan of the bounded queue, once per batch).
    fn mark_held_back(&mut self, now: Instant) {
        for queued in self.jobs.iter() {
            if !queued.credited
                && now.saturating_duration_since(queued.job.enqueued_at) >= self.held_back_after
            {
                if let Some(flow) = self.flows.get_mut(&queued.flow) {
                    flow.held_back = true;
                }
            }
        }
    }

    fn is_held_back(&self, queued: &Queued<E>) -> bool {
        self.flows
            .get(&queued.flow)
            .is_some_and(|flow| flow.held_back)
    }

    /// The job [`pop`](Self::pop) takes next: the smallest finish tag, or, while head starts
    /// are over their cap, the fairest job of a held-back flow.
    fn peek(&self) -> Option<&Queued<E>> {
        let fairest = self.jobs.peek()?;
        if self.credit_capped() && !self.is_held_back(fairest) {
            // `Queued`'s order is reversed for the heap: the greatest is the fairest.
            let held_back = self
                .jobs
                .iter()
                .filter(|queued| self.is_held_back(queued))
                .max();
            if let Some(held_back) = held_back {
                return Some(held_back);
            }
        }
        Some(fairest)
    }

    fn pop(&mut self) -> Option<Job<E>> {
        let key = self.peek()?.key();
        let queued = if self.jobs.peek().is_some_and(|fairest| fairest.key() == key) {
            self.jobs.pop()?
        } else {
            self.capped_jobs += 1;
            let mut jobs = std::mem::take(&mut self.jobs).into_vec();
            let index = jobs.iter().position(|queued| queued.key() == key)?;
            let queued = jobs.swap_remove(index);
            self.jobs = BinaryHeap::from(jobs);
            queued
        };
        if let Some(flow) = self.flows.get_mut(&queued.flow) {
            flow.queued = flow.queued.saturating_sub(1);
        }
        self.virtual_time = self.virtual_time.max(queued.start);
        let share = E::share(&queued.job.input).max(1) as f64;
        let fade = 1.0 - 1.0 / CREDIT_WINDOW_JOBS;
        self.recent_work = self.recent_work * fade + share;
        self.recent_credited_work =
            self.recent_credited_work * fade + if queued.credited { share } else { 0.0 };
        Some(queued.job)
    }
}

struct Shared<E: ModelEngine> {
    queue: Mutex<FairQueue<E>>,
    /// Signalled when a job is queued or the queue closes.
    waiting: Condvar,
}

impl<E: ModelEngine> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, FairQueue<E>> {
        // A panic never happens while the lock is held (model work runs outside it); recover
        // the queue anyway rather than poisoning the pool.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What happened to a submitted job before it ran. Counted for metrics and tests.
#[derive(Debug, Default)]
pub struct PoolCounters {
    pub completed: AtomicUsize,
    pub dropped_deadline: AtomicUsize,
    pub dropped_caller_gone: AtomicUsize,
    pub rejected_full: AtomicUsize,
}

/// One request's share of a pool: the jobs submitted through it are scheduled fairly against
/// other flows' (see the module doc). Its scheduling state goes when it is dropped.
pub struct Flow<'pool, E: ModelEngine> {
    pool: &'pool WorkerPool<E>,
    id: u64,
    times: Arc<Mutex<FlowTimes>>,
}

impl<E: ModelEngine> Flow<'_, E> {
    /// Queues one input of this flow, like [`WorkerPool::submit`].
    pub fn submit(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<oneshot::Receiver<Result<E::Output, PrecisError>>, PrecisError> {
        self.pool
            .submit_in(self.id, input, deadline, Some(Arc::clone(&self.times)))
    }

    /// Queues one input of this flow now and returns the wait for its answer: a full queue is
    /// refused here, before anything waits.
    pub fn queue(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<impl std::future::Future<Output = Result<E::Output, PrecisError>> + '_, PrecisError>
    {
        let receiver = self.submit(input, deadline)?;
        Ok(self.pool.answer(receiver))
    }

    /// Where this flow's jobs spent their time so far.
    pub fn times(&self) -> FlowTimes {
        *self
            .times
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Submits one input of this flow and waits, from async code.
    pub async fn run(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<E::Output, PrecisError> {
        let receiver = self.submit(input, deadline)?;
        self.pool.answer(receiver).await
    }
}

impl<E: ModelEngine> Drop for Flow<'_, E> {
    fn drop(&mut self) {
        self.pool.shared.lock().flows.remove(&self.id);
    }
}

/// A pool of workers owning one kind of model.
pub struct WorkerPool<E: ModelEngine> {
    config: PoolConfig,
    shared: Arc<Shared<E>>,
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
        let shared = Arc::new(Shared {
            queue: Mutex::new(FairQueue::new()),
            waiting: Condvar::new(),
        });
        let load = Arc::new(load);
        let counters = Arc::new(PoolCounters::default());
        let mut threads = Vec::with_capacity(config.workers);
        let mut ready = Vec::with_capacity(config.workers);
        for index in 0..config.workers.max(1) {
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), ModelError>>(1);
            let shared = Arc::clone(&shared);
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
                            run_worker(engine, &shared, &worker_config, &counters);
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
        let mut pool = Self {
            config,
            shared,
            threads,
            counters,
            load_time: Duration::ZERO,
        };
        for ready_rx in ready {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                // Dropping the pool closes the queue and joins the workers that did load.
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(ModelError::Thread("a worker exited while loading".into())),
            }
        }
        pool.load_time = started.elapsed();
        Ok(pool)
    }

    /// A new flow: one request's jobs, scheduled fairly against other requests'.
    pub fn flow(&self) -> Flow<'_, E> {
        self.flow_with_head_start(0)
    }

    /// A new flow whose first `head_start` of share (see [`ModelEngine::share`]) runs ahead of
    /// the flows already being served (see the module doc).
    pub fn flow_with_head_start(&self, head_start: usize) -> Flow<'_, E> {
        let id = self.shared.lock().open_flow(head_start as u64);
        Flow {
            pool: self,
            id,
            times: Arc::default(),
        }
    }

    /// Queues one input. Refuses at once when the queue is full; the returned receiver answers
    /// when the work is done, or with `DeadlineExceeded` if it could not start in time.
    pub fn submit(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<oneshot::Receiver<Result<E::Output, PrecisError>>, PrecisError> {
        self.submit_in(DEFAULT_FLOW, input, deadline, None)
    }

    fn submit_in(
        &self,
        flow: u64,
        input: E::Input,
        deadline: Option<Instant>,
        times: Option<Arc<Mutex<FlowTimes>>>,
    ) -> Result<oneshot::Receiver<Result<E::Output, PrecisError>>, PrecisError> {
        let (reply, receiver) = oneshot::channel();
        let job = Job {
            input,
            deadline,
            enqueued_at: Instant::now(),
            reply,
            span: tracing::Span::current(),
            times,
        };
        let depth = {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(PrecisError::Unavailable(format!(
                    "{} workers stopped",
                    self.config.name
                )));
            }
            if queue.jobs.len() >= self.config.queue_capacity.max(1) {
                drop(queue);
                self.counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                return Err(PrecisError::Overloaded(format!(
                    "the {} queue is full ({} jobs waiting); retry later",
                    self.config.name, self.config.queue_capacity
                )));
            }
            queue.push(flow, job);
            queue.jobs.len()
        };
        self.shared.waiting.notify_one();
        telemetry::record_queue_depth(&self.config.name, depth);
        Ok(receiver)
    }

    async fn answer(
        &self,
        receiver: oneshot::Receiver<Result<E::Output, PrecisError>>,
    ) -> Result<E::Output, PrecisError> {
        receiver.await.unwrap_or_else(|_| {
            Err(PrecisError::EngineFailure(format!(
                "a {} worker died",
                self.config.name
            )))
        })
    }

    /// Submits and waits, from async code.
    pub async fn run(
        &self,
        input: E::Input,
        deadline: Option<Instant>,
    ) -> Result<E::Output, PrecisError> {
        let receiver = self.submit(input, deadline)?;
        self.answer(receiver).await
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
        self.shared.lock().jobs.len()
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
        // Closing the queue ends each worker's loop once it is empty.
        self.shared.lock().closed = true;
        self.shared.waiting.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Waits for the next batch: the fairest job first, then whatever else is already waiting, in
/// fair order, up to the batch budgets; never waits for more. Expired and abandoned jobs are
/// dropped here, under the lock, so an empty queue means every earlier job was taken or dropped.
/// `None` when the pool is closing and the queue is empty.
fn next_batch<E: ModelEngine>(
    shared: &Shared<E>,
    config: &PoolConfig,
    counters: &PoolCounters,
    worked_since_trim: &mut bool,
) -> Option<(Vec<Job<E>>, usize)> {
    let mut queue = shared.lock();
    loop {
        if queue.jobs.is_empty() {
            if queue.closed {
                return None;
            }
            if *worked_since_trim {
                let (guard, timeout) = shared
                    .waiting
                    .wait_timeout(queue, IDLE_BEFORE_TRIM)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                queue = guard;
                if timeout.timed_out() && queue.jobs.is_empty() {
                    drop(queue);
                    release_free_memory();
                    *worked_since_trim = false;
                    queue = shared.lock();
                }
            } else {
                queue = shared
                    .waiting
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            continue;
        }
        queue.mark_held_back(Instant::now());
        let mut batch = Vec::new();
        let (mut cost, mut share) = (0usize, 0usize);
        while let Some(next) = queue.peek() {
            let next_share = E::share(&next.job.input);
            if !batch.is_empty()
                && (cost >= config.max_batch_cost
                    || share.saturating_add(next_share) > E::MAX_BATCH_SHARE)
            {
                break;
            }
            let capped_before = queue.capped_jobs;
            let job = queue.pop().expect("peeked");
            if queue.capped_jobs > capped_before {
                telemetry::record_credit_capped_job(&config.name);
            }
            if let Some(job) = admit(job, counters) {
                cost += E::cost(&job.input);
                share += next_share;
                batch.push(job);
            }
        }
        if batch.is_empty() {
            continue;
        }
        *worked_since_trim = true;
        return Some((batch, queue.jobs.len()));
    }
}

fn run_worker<E: ModelEngine>(
    mut engine: E,
    shared: &Shared<E>,
    config: &PoolConfig,
    counters: &PoolCounters,
) {
    let pool = config.name.clone();
    let mut worked_since_trim = false;
    while let Some((batch, depth)) = next_batch(shared, config, counters, &mut worked_since_trim) {
        telemetry::record_queue_depth(&pool, depth);
        let waits: Vec<Duration> = batch.iter().map(|job| job.enqueued_at.elapsed()).collect();
        telemetry::record_batch_start(&pool, waits.iter().copied());
        let mut inputs = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for (job, waited) in batch.into_iter().zip(waits) {
            inputs.push(job.input);
            replies.push((job.reply, job.span, job.times, waited));
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
        let ran = started.elapsed();
        telemetry::record_batch_run(&pool, ran);
        let answered = Instant::now();
        let mut results = results.into_iter();
        for (reply, span, times, waited) in replies {
            if let Some(times) = times {
                let mut times = times
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                times.jobs += 1;
                times.service += ran;
                times.longest_queued = times.longest_queued.max(waited);
                times.last_answer = Some(answered);
            }
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
        /// Every input, in the order the worker ran them.
        ran: Arc<Mutex<Vec<u32>>>,
    }

    impl ModelEngine for Doubler {
        type Input = u32;
        type Output = u32;
        fn run_batch(&mut self, inputs: Vec<u32>) -> Vec<Result<u32, PrecisError>> {
            let _ = self.entered.send(inputs.len());
            let _ = self.gate.lock().unwrap().recv();
            self.batches.lock().unwrap().push(inputs.len());
            self.ran.lock().unwrap().extend(&inputs);
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
        ran: Arc<Mutex<Vec<u32>>>,
        pool: WorkerPool<Doubler>,
    }

    impl Gated {
        fn start(queue: usize) -> Self {
            Self::start_with_batch(queue, 8)
        }

        fn start_with_batch(queue: usize, max_batch_cost: usize) -> Self {
            let (open, gate) = mpsc::channel();
            let gate = Arc::new(Mutex::new(gate));
            let (entered_tx, entered) = mpsc::channel();
            let batches = Arc::new(Mutex::new(Vec::new()));
            let engine_batches = Arc::clone(&batches);
            let ran = Arc::new(Mutex::new(Vec::new()));
            let engine_ran = Arc::clone(&ran);
            let config = PoolConfig {
                name: "test".into(),
                workers: 1,
                queue_capacity: queue,
                max_batch_cost,
                torch_threads: 1,
            };
            let pool = WorkerPool::start(config, move || {
                Ok(Doubler {
                    entered: entered_tx.clone(),
                    gate: Arc::clone(&gate),
                    batches: Arc::clone(&engine_batches),
                    ran: Arc::clone(&engine_ran),
                })
            })
            .unwrap();
            Self {
                open,
                entered,
                batches,
                ran,
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
    fn a_request_arriving_behind_a_backlog_runs_after_one_piece_of_it() {
        let gated = Gated::start_with_batch(16, 1);
        let busy = gated.hold_worker_busy();
        // A big request queues three pieces, then a small one queues its only piece.
        let big = gated.pool.flow();
        let big_pieces: Vec<_> = (1..=3).map(|x| big.submit(x, None).unwrap()).collect();
        let small = gated.pool.flow();
        let small_piece = small.submit(100, None).unwrap();
        // And a job without a flow, queued last.
        let plain = gated.pool.submit(200, None).unwrap();
        gated.open_gate(6);
        busy.blocking_recv().unwrap().unwrap();
        for piece in big_pieces {
            piece.blocking_recv().unwrap().unwrap();
        }
        assert_eq!(small_piece.blocking_recv().unwrap().unwrap(), 200);
        plain.blocking_recv().unwrap().unwrap();
        // The small request waited for one piece of the big one, not for all three; the job
        // without a flow was charged for the busy job of its default flow, so it comes after
        // the big request's second piece.
        assert_eq!(*gated.ran.lock().unwrap(), vec![0, 1, 100, 2, 200, 3]);
        assert_eq!(gated.pool.queue_len(), 0);
    }

    #[test]
    fn a_flow_with_a_head_start_runs_before_the_backlog_of_flows_being_served() {
        let gated = Gated::start_with_batch(16, 1);
        let busy = gated.hold_worker_busy();
        // A big request queues six pieces; the worker takes three of them, one at a time, so the
        // scheduler's virtual time moves on to the third piece's start.
        let big = gated.pool.flow();
        let big_pieces: Vec<_> = (1..=6).map(|x| big.submit(x, None).unwrap()).collect();
        for _ in 0..3 {
            gated.open_gate(1);
            assert_eq!(gated.wait_for_batch_start(), 1);
        }
        // Now a small request with a head start of two pieces, and one without any.
        let small = gated.pool.flow_with_head_start(2);
        let small_pieces: Vec<_> = [100, 101]
            .into_iter()
            .map(|x| small.submit(x, None).unwrap())
            .collect();
        let plain = gated.pool.flow();
        let plain_pieces: Vec<_> = [200, 201]
            .into_iter()
            .map(|x| plain.submit(x, None).unwrap())
            .collect();
        gated.open_gate(8);
        busy.blocking_recv().unwrap().unwrap();
        for piece in big_pieces
            .into_iter()
            .chain(small_pieces)
            .chain(plain_pieces)
        {
            piece.blocking_recv().unwrap().unwrap();
        }
        // The head-started request ran both pieces before the big one's backlog; the one without
        // a head start took turns with it.
        assert_eq!(
            *gated.ran.lock().unwrap(),
            vec![0, 1, 2, 3, 100, 101, 200, 4, 201, 5, 6]
        );
        let times = small.times();
        assert_eq!(times.jobs, 2);
        assert!(times.last_answer.is_some());
        assert_eq!(plain.times().jobs, 2);
        assert_eq!(big.times().jobs, 6);
    }

    /// A job for the queue alone (no worker): nobody waits for its answer.
    fn queued_job(input: u32) -> Job<Doubler> {
        Job {
            input,
            deadline: None,
            enqueued_at: Instant::now(),
            reply: oneshot::channel().0,
            span: tracing::Span::none(),
            times: None,
        }
    }

    /// A queue whose virtual time has moved on: 20 jobs of another flow have run. Its flows
    /// count as held back as soon as a job beyond their head start is queued at all.
    fn queue_after_warm_up() -> FairQueue<Doubler> {
        let mut queue = FairQueue::<Doubler>::new();
        queue.held_back_after = Duration::ZERO;
        let earlier = queue.open_flow(0);
        for _ in 0..20 {
            queue.push(earlier, queued_job(2000));
            queue.pop().expect("queued");
        }
        queue
    }

    /// What a worker does before each job: mark held-back flows, take the next job.
    fn take(queue: &mut FairQueue<Doubler>) -> Job<Doubler> {
        queue.mark_held_back(Instant::now());
        queue.pop().expect("queued")
    }

    /// Long-request pieces are below 1000, short-request pieces from 1000.
    fn is_long(input: u32) -> bool {
        input < 1000
    }

    /// Short callers each keep one request of two pieces queued (a new flow with a head start of
    /// two pieces each time) and ask again when it is answered, so the workers never idle; a
    /// long request (`long_head_start`) keeps two pieces queued. The long request's part of
    /// the last 1,000 of 2,000 jobs taken.
    fn long_share_beside_short_callers(
        mut queue: FairQueue<Doubler>,
        long_head_start: u64,
        callers: usize,
    ) -> f64 {
        let long = queue.open_flow(long_head_start);
        for piece in 0..2 {
            queue.push(long, queued_job(piece));
        }
        let ask = |queue: &mut FairQueue<Doubler>, caller: usize| {
            let flow = queue.open_flow(2);
            for _ in 0..2 {
                queue.push(flow, queued_job(1000 + caller as u32));
            }
        };
        let mut pieces_left = vec![2; callers];
        for caller in 0..callers {
            ask(&mut queue, caller);
        }
        let mut taken = Vec::new();
        for _ in 0..2000 {
            let job = take(&mut queue);
            if is_long(job.input) {
                queue.push(long, queued_job(1));
            } else {
                let caller = (job.input - 1000) as usize;
                pieces_left[caller] -= 1;
                if pieces_left[caller] == 0 {
                    ask(&mut queue, caller);
                    pieces_left[caller] = 2;
                }
            }
            taken.push(job.input);
        }
        let recent = &taken[1000..];
        recent.iter().filter(|&&input| is_long(input)).count() as f64 / recent.len() as f64
    }

    #[test]
    fn a_stream_of_head_starts_leaves_a_held_back_request_its_share() {
        // Without the cap every short piece would run first and the long request would wait for
        // as long as the stream lasts, whether or not it had a head start of its own.
        for long_head_start in [0, 2, 8] {
            for callers in [1, 4, 32] {
                let share = long_share_beside_short_callers(
                    queue_after_warm_up(),
                    long_head_start,
                    callers,
                );
                assert!(
                    (0.2..=0.3).contains(&share),
                    "{callers} callers, long head start {long_head_start}: the long request got {share} of the work"
                );
            }
        }
    }

    #[test]
    fn a_request_is_not_held_back_before_its_jobs_have_waited() {
        // The same stream, but the long request's jobs have not waited long enough to count
        // as held back: plain fair queueing with head starts, which serves the stream first.
        let mut queue = queue_after_warm_up();
        queue.held_back_after = Duration::from_secs(3600);
        assert_eq!(long_share_beside_short_callers(queue, 0, 4), 0.0);
    }

    #[test]
    fn below_the_cap_a_short_request_still_runs_first() {
        // A short request (two pieces, a head start of two) arrives once per six jobs taken
        // beside a long request keeping two pieces queued: head starts take a third of the
        // work, under the cap, so every short request runs the moment it is queued, as without
        // the cap.
        let mut queue = queue_after_warm_up();
        let long = queue.open_flow(0);
        for piece in 0..2 {
            queue.push(long, queued_job(piece));
        }
        for short in 0..100 {
            let flow = queue.open_flow(2);
            for piece in 0..2 {
                queue.push(flow, queued_job(1000 + 2 * short + piece));
            }
            let taken: Vec<u32> = (0..6)
                .map(|_| {
                    let job = take(&mut queue);
                    if is_long(job.input) {
                        queue.push(long, queued_job(1));
                    }
                    job.input
                })
                .collect();
            let first = 1000 + 2 * short;
            assert_eq!(taken[..2], [first, first + 1], "short request {short}");
            assert!(taken[2..].iter().all(|&input| is_long(input)));
        }
        assert_eq!(queue.capped_jobs, 0);
    }

    #[test]
    fn a_flow_dropped_leaves_no_scheduling_state() {
        let gated = Gated::start(4);
        let flows: Vec<_> = (0..3).map(|_| gated.pool.flow()).collect();
        assert_eq!(
            gated.pool.shared.lock().flows.len(),
            4,
            "the default flow and three"
        );
        drop(flows);
        assert_eq!(
            gated.pool.shared.lock().flows.len(),
            1,
            "only the default flow"
        );
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
