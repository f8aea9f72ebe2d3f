//! The accept loop: HTTP/1.1 connections on the API socket, each served by
//! hyper with upgrades (hijacked attach and exec), bounded as
//! `config::ApiLimits` says: at most `max_connections` served at once (over
//! it, accepting pauses and clients wait in the socket's backlog) and a
//! header read timeout (a connection that sends no request head in time is
//! closed, so idle connections cannot pile up).
//!
//! After each connection ends, malloc's free memory goes back to the kernel
//! (`pier_sys::mem::trim_heap`, at most one a second, off the async workers): a request's garbage
//! (a listing of hundreds of containers, a start's spec and bundle) is
//! freed below long-lived allocations, where glibc keeps it resident.
//!
//! Shutdown: stop accepting, ask every connection to finish its request
//! and close (long-lived streams end on the daemon's shutdown signal),
//! then wait until all are gone. Upgraded connections have left hyper and
//! are not waited for (their sessions end with their containers' streams).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::sync::{watch, Semaphore};
use tower_service::Service;

/// How long accepting pauses after an error such as `EMFILE`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bounds the loop enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain.
pub async fn serve<S>(
    listener: UnixListener,
    app: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let cap = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    let mut at_cap_logged = false;
    let trim = Arc::new(Throttle::new(std::time::Duration::from_secs(1)));
    loop {
        if slots.available_permits() == 0 && !at_cap_logged {
            tracing::warn!(max = cap, "API connection cap reached: new connections wait");
            at_cap_logged = true;
        }
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        if slots.available_permits() > cap / 2 {
            at_cap_logged = false;
        }
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or memory: back off, keep serving
                    // the connections there are.
                    tracing::warn!(error = %e, "accept API connection");
                    drop(slot);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let svc = hyper::service::service_fn({
            let app = app.clone();
            move |req: hyper::Request<Incoming>| {
                let mut app = app.clone();
                async move {
                    std::future::poll_fn(|cx| app.poll_ready(cx)).await?;
                    app.call(req.map(Body::new)).await
                }
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc).with_upgrades();
        let stop = stop_rx.clone();
        let trim = trim.clone();
        tokio::spawn(async move {
            let _slot = slot;
            {
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "API connection");
                        }
                    }
                    () = stopped(stop) => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            }
            // The connection and its buffers are freed: trim, at most once
            // a second and on a blocking thread (a trim takes about a
            // millisecond; on this worker it delayed the next request).
            if trim.due(std::time::Instant::now()) {
                tokio::task::spawn_blocking(pier_sys::mem::trim_heap);
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every slot back: every connection has ended.
    let _ = slots.acquire_many(u32::try_from(cap).unwrap_or(u32::MAX)).await;
    Ok(())
}

/// Resolves once the loop has stopped (or is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    use axum::routing::get;
    use axum::Router;

    /// A server with `limits` on a temp socket; returns its path and a
    /// handle that stops it.
    fn start(limits: Limits) -> (tempfile::TempDir, std::path::PathBuf, tokio::sync::oneshot::Sender<()>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let app = Router::new().route("/_ping", get(|| async { "OK" })).route(
            "/slow",
            get(|| async {
                // A long stream with nothing to send for a while (`logs -f`).
                let body = futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(1_500)).await;
                    Ok::<_, Infallible>("done")
                });
                Body::from_stream(body)
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async move {
            let _ = stopped.await;
        }));
        (dir, path, stop)
    }

    /// `GET /_ping` on a fresh connection, from a blocking thread.
    async fn ping(path: &std::path::Path) -> String {
        get_path(path, "/_ping").await
    }

    async fn get_path(path: &std::path::Path, target: &'static str) -> String {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut s = std::os::unix::net::UnixStream::connect(&path).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        })
        .await
        .expect("join")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_closed_after_the_header_timeout() {
        let (_dir, path, _stop) = start(Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_millis(300),
        });
        let p = path.clone();
        let closed_after = tokio::task::spawn_blocking(move || {
            let mut s = std::os::unix::net::UnixStream::connect(&p).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            // Half a request head, then nothing.
            s.write_all(b"GET /_ping HTTP/1.1\r\n").expect("write");
            let t = Instant::now();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            t.elapsed()
        })
        .await
        .expect("join");
        assert!(closed_after < Duration::from_secs(5), "closed after {closed_after:?}");
        assert!(ping(&path).await.contains("200 OK"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_response_is_not_cut_by_the_header_timeout() {
        let (_dir, path, _stop) = start(Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_millis(300),
        });
        let reply = get_path(&path, "/slow").await;
        assert!(reply.contains("200 OK") && reply.contains("done"), "{reply}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_the_cap_clients_wait_for_a_slot() {
        let (_dir, path, _stop) = start(Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_secs(60),
        });
        let idle: Vec<_> = (0..2)
            .map(|_| std::os::unix::net::UnixStream::connect(&path).expect("connect"))
            .collect();
        // Both slots taken by idle connections: a third is not served...
        let waiting = tokio::spawn({
            let path = path.clone();
            async move { ping(&path).await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "served over the cap");
        // ...until one of them leaves.
        drop(idle);
        let reply = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("served once a slot was free")
            .expect("join");
        assert!(reply.contains("200 OK"), "{reply}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_waits_for_requests_in_flight_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let app = Router::new().route("/_ping", get(|| async { "OK" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_secs(60),
        };
        let served = tokio::spawn(serve(listener, app, limits, async move {
            let _ = stopped.await;
        }));
        // An idle kept-alive connection does not hold the shutdown up.
        let _idle = std::os::unix::net::UnixStream::connect(&path).expect("connect");
        assert!(ping(&path).await.contains("200 OK"));
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .expect("drained")
            .expect("join")
            .expect("serve");
    }
}

/// Lets an action through at most once per `every`.
struct Throttle {
    every: std::time::Duration,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Throttle {
    fn new(every: std::time::Duration) -> Self {
        Throttle {
            every,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Whether the action may run at `now` (and, if so, it counts as run).
    fn due(&self, now: std::time::Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.every) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::Throttle;
    use std::time::{Duration, Instant};

    #[test]
    fn lets_one_through_per_period() {
        let t = Throttle::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(t.due(t0));
        assert!(!t.due(t0 + Duration::from_millis(500)));
        assert!(!t.due(t0 + Duration::from_millis(999)));
        assert!(t.due(t0 + Duration::from_millis(1000)));
        assert!(!t.due(t0 + Duration::from_millis(1500)));
        assert!(t.due(t0 + Duration::from_secs(3)));
    }
}
