//! What the example binaries read from the environment.

/// The port to listen on: `PORT`, or `default` when it is not set.
///
/// # Errors
///
/// A message naming the variable when `PORT` is not a port number.
pub fn port(default: u16) -> Result<u16, String> {
    match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}")),
        Err(_) => Ok(default),
    }
}

/// The value of `variable`, unless it is unset or empty.
#[must_use]
pub fn configured(variable: &str) -> Option<String> {
    std::env::var(variable)
        .ok()
        .filter(|value| !value.is_empty())
}
