//! Waiting for a condition with a deadline: the one polling loop of the tests and the bench.
//! A check is an async closure; the loop sleeps between tries and gives up at the deadline
//! with an error that names what it waited for.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long the tests wait for anything a federation does (ingest, push, incidents).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Poll `check` every `every` until it yields `Some`, for at most `deadline`; its value, or
/// an error naming `what`.
pub async fn until_some<T, F, Fut>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() >= end {
            return Err(format!("timed out after {} s waiting for: {what}", deadline.as_secs()));
        }
        tokio::time::sleep(every).await;
    }
}

/// Poll `check` every `every` until it holds, for at most `deadline`.
pub async fn until<F, Fut>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut check: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(what, deadline, every, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// [`until`] with the tests' defaults: every 200 ms for [`DEADLINE`]; panics when it times
/// out (a test's failure).
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if let Err(e) = until(what, DEADLINE, Duration::from_millis(200), check).await {
        panic!("{e}");
    }
}

/// The blocking form, for code without a runtime: poll `check` every `every` for at most
/// `deadline`.
pub fn blocking_until(
    deadline: Duration,
    every: Duration,
    mut check: impl FnMut() -> bool,
) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(every);
    }
}
