//! A model engine held at a gate, for tests that need jobs to wait in a pool's queue together:
//! the test decides when each batch runs, knows when the worker is inside one, and sees the
//! size of every batch the real engine behind the gate was given.
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use precis::error::PrecisError;
use precis::runtime::{ModelEngine, WorkerPool};
use tokio::sync::mpsc as async_mpsc;

use super::PATIENCE;

/// `inner` behind the gate.
pub struct Gated<E> {
    inner: E,
    hooks: GateHooks,
}

/// The engine's side of a gate; cloned into every worker's engine.
#[derive(Clone)]
pub struct GateHooks {
    entered: async_mpsc::UnboundedSender<usize>,
    gate: Arc<Mutex<mpsc::Receiver<()>>>,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl GateHooks {
    pub fn wrap<E>(&self, inner: E) -> Gated<E> {
        Gated {
            inner,
            hooks: self.clone(),
        }
    }
}

impl<E: ModelEngine> ModelEngine for Gated<E> {
    type Input = E::Input;
    type Output = E::Output;

    fn run_batch(&mut self, inputs: Vec<E::Input>) -> Vec<Result<E::Output, PrecisError>> {
        let _ = self.hooks.entered.send(inputs.len());
        // A closed gate (the test ended) lets the batch through rather than hang the worker.
        let _ = self.hooks.gate.lock().unwrap().recv();
        self.hooks.batches.lock().unwrap().push(inputs.len());
        self.inner.run_batch(inputs)
    }

    fn cost(input: &E::Input) -> usize {
        E::cost(input)
    }
}

/// The test's side of a gate. Drop it before the pool: that frees a worker held at the gate.
pub struct Gate {
    open: mpsc::Sender<()>,
    entered: async_mpsc::UnboundedReceiver<usize>,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl Gate {
    /// A closed gate and the hooks to build the engines with.
    pub fn new() -> (Gate, GateHooks) {
        let (open, gate) = mpsc::channel();
        let (entered_tx, entered) = async_mpsc::unbounded_channel();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let hooks = GateHooks {
            entered: entered_tx,
            gate: Arc::new(Mutex::new(gate)),
            batches: Arc::clone(&batches),
        };
        (
            Gate {
                open,
                entered,
                batches,
            },
            hooks,
        )
    }

    /// Waits until a worker has taken a batch and holds at the gate; returns the batch's size.
    /// A worker held there takes nothing more from the queue.
    pub async fn wait_for_batch_start(&mut self) -> usize {
        tokio::time::timeout(PATIENCE, self.entered.recv())
            .await
            .expect("a worker started a batch within the patience")
            .expect("the engine is alive")
    }

    /// Lets `count` batches through.
    pub fn open(&self, count: usize) {
        for _ in 0..count {
            self.open.send(()).unwrap();
        }
    }

    /// The size of every batch that went through, in order.
    pub fn batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
}

/// Waits until at least `length` jobs wait in the pool's queue; fails the test after the patience.
pub async fn wait_for_queue<E: ModelEngine>(pool: &WorkerPool<E>, length: usize) {
    let until = Instant::now() + PATIENCE;
    while pool.queue_len() < length {
        assert!(
            Instant::now() < until,
            "the queue never reached {length} (it holds {})",
            pool.queue_len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Waits until the workers have taken every job from the pool's queue; fails the test after the
/// patience.
pub async fn wait_for_empty_queue<E: ModelEngine>(pool: &WorkerPool<E>) {
    let until = Instant::now() + PATIENCE;
    while pool.queue_len() > 0 {
        assert!(
            Instant::now() < until,
            "the queue still holds {} jobs",
            pool.queue_len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Returns once `deadline` has passed (by `Instant`, the clock deadlines are checked with).
pub async fn wait_past(deadline: Instant) {
    while Instant::now() < deadline {
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    }
}
