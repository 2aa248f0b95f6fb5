//! Helpers shared by the AWS adapter tests: the endpoint check, unique names and the local
//! Invoke API server (from `stepwise-testkit`, which the Lambda tests use too), incompressible
//! filler, and receiving a queue's messages.
#![allow(dead_code, unused_imports)]

use std::time::{Duration, Instant};
use stepwise_runtime::ports::{Message, Queue};

pub use stepwise_testkit::{endpoint, invoke_server, unique, Reply};

/// `len` characters that deflate poorly (a linear congruential generator over 64 letters).
pub fn noise(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ALPHABET[(x >> 58) as usize] as char
        })
        .collect()
}

/// Receives from `queue` until `want` messages arrived or `within` passed.
pub async fn receive_all<Q: Queue>(q: &Q, queue: &str, want: usize, within: Duration) -> Vec<Message> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let batch = q.receive(queue, 10, Duration::from_secs(30)).await.expect("receive");
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got.extend(batch);
    }
    got
}
