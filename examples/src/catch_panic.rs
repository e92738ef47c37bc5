//! A panic in a handler still gets an answer: the middleware turns it into
//! the app's `500` page instead of a dropped connection.
//!
//! It sits outside the session layer, so the panic unwinds through the
//! layer, which then saves nothing: a request that panicked changes no
//! session.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// Runs the rest of the stack; a panic becomes `render(request headers)`,
/// and its message goes to the log.
pub async fn catch_panic(
    request: Request,
    next: Next,
    render: fn(&HeaderMap) -> Response,
) -> Response {
    let headers = request.headers().clone();
    match CatchUnwind(Box::pin(next.run(request))).await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(panic = message(panic.as_ref()), "a handler panicked");
            render(&headers)
        }
    }
}

/// What a panic said, when it said it with a string.
fn message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// A future that reports a panic while it is polled instead of unwinding.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        // The future is dropped right after a panic and never polled again,
        // so no broken state of it can be observed.
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
