//! Waking the hits that wait for their sync. A task on another thread's
//! runtime is woken with a syscall (that runtime is parked in
//! `epoll_wait`), so each I/O thread runs a relay task ([`Relays::here`]):
//! the log's appender hands it that thread's waiters of a group in one
//! message, and the relay wakes them locally. Waiters on threads without a
//! relay are told directly.

use std::cell::Cell;
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use crate::model::sync::lock;

/// A hit waiting for its row's sync, with the relay of its thread.
pub type Waiting = (Option<usize>, oneshot::Sender<bool>);

/// The waiters of one group on one thread, and whether their rows are on disk.
type Wakeups = (Vec<oneshot::Sender<bool>>, bool);

thread_local! {
    /// This thread's relay, if it runs one.
    static RELAY: Cell<Option<usize>> = const { Cell::new(None) };
}

/// One relay per I/O thread, by id.
#[derive(Default)]
pub struct Relays(Mutex<Vec<mpsc::UnboundedSender<Wakeups>>>);

impl Relays {
    /// The relay of the calling thread, if it runs one.
    pub fn current() -> Option<usize> {
        RELAY.with(Cell::get)
    }

    /// Start the calling thread's relay on its (current-thread) runtime.
    pub fn here(&self) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Wakeups>();
        let id = {
            let mut relays = lock(&self.0);
            relays.push(tx);
            relays.len() - 1
        };
        RELAY.with(|r| r.set(Some(id)));
        tokio::spawn(async move {
            while let Some((waiters, ok)) = rx.recv().await {
                for w in waiters {
                    let _ = w.send(ok);
                }
            }
        });
    }

    /// Tell a group's waiters: one message per relay, the others directly.
    pub fn wake(&self, waiters: Vec<Waiting>, ok: bool) {
        let relays = lock(&self.0);
        let mut by_relay: Vec<Vec<oneshot::Sender<bool>>> =
            (0..relays.len()).map(|_| Vec::new()).collect();
        for (relay, w) in waiters {
            match relay.and_then(|r| by_relay.get_mut(r)) {
                Some(batch) => batch.push(w),
                None => {
                    let _ = w.send(ok);
                }
            }
        }
        for (relay, batch) in relays.iter().zip(by_relay) {
            if batch.is_empty() {
                continue;
            }
            // A relay whose runtime is gone: tell its waiters directly.
            if let Err(mpsc::error::SendError((batch, ok))) = relay.send((batch, ok)) {
                for w in batch {
                    let _ = w.send(ok);
                }
            }
        }
    }
}
