//! The test harness of the binaries whose tests need a service, a browser or
//! a program (`harness = false` in `examples/Cargo.toml`, run by
//! `libtest-mimic`).
//!
//! A test that needs something it cannot reach is reported as ignored, with
//! what it needs and where it looked; it never counts as passed. When the run
//! requires services (`CI` set to anything but empty, `false` or `0`, or
//! `CI_REQUIRE_SERVICES=1`), the same test fails instead, naming the service,
//! its variable and the address. Tests that need nothing run as usual.

#![allow(dead_code, reason = "each test binary uses what it needs")]

use std::future::Future;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// The headless browser the browser test drives.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
/// The `WebDriver` server that drives [`CHROMIUM`].
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the probe of a service waits for its TCP port.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Something a test needs from outside the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// PostgreSQL at `DATABASE_URL`.
    Postgres,
    /// Redis at `REDIS_URL`.
    Redis,
    /// MySQL or MariaDB at `MYSQL_URL`.
    MariaDb,
    /// Chromium and chromedriver at [`CHROMIUM`] and [`CHROMEDRIVER`].
    Browser,
    /// A program on `PATH`, such as `redis-server`.
    Program(&'static str),
}

impl Need {
    /// The service's name in messages.
    fn name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Redis => "Redis",
            Self::MariaDb => "MariaDB",
            Self::Browser => "Chromium and chromedriver",
            Self::Program(program) => program,
        }
    }

    /// The variable that names the service, and the URL used without it.
    fn variable(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Postgres => Some(("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")),
            Self::Redis => Some(("REDIS_URL", "redis://127.0.0.1:6379")),
            Self::MariaDb => Some(("MYSQL_URL", "mysql://root@127.0.0.1:3306/test")),
            Self::Browser | Self::Program(_) => None,
        }
    }

    /// The service's URL: its variable, or the standard loopback address.
    ///
    /// # Panics
    ///
    /// For a need that is not a service.
    pub(crate) fn url(self) -> String {
        let (variable, default) = self
            .variable()
            .unwrap_or_else(|| panic!("{} has no URL", self.name()));
        std::env::var(variable)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| default.to_owned())
    }

    /// `Ok` when the need is met; otherwise what is needed and why it is not
    /// there, as one line.
    fn probe(self) -> Result<(), String> {
        match self {
            Self::Browser => {
                let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
                    .into_iter()
                    .filter(|path| !Path::new(path).is_file())
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "needs {}: {} not found (apt-get install chromium chromium-driver)",
                        self.name(),
                        missing.join(" and ")
                    ))
                }
            }
            Self::Program(program) => {
                if on_path(program) {
                    Ok(())
                } else {
                    Err(format!("needs {program}: not found on PATH"))
                }
            }
            Self::Postgres | Self::Redis | Self::MariaDb => {
                let (variable, _) = self.variable().unwrap_or_default();
                let url = self.url();
                reachable(&url)
                    .map_err(|why| format!("needs {}: {variable}={url} {why}", self.name()))
            }
        }
    }
}

/// Whether the run must fail rather than ignore a test whose need is not met.
fn services_required() -> bool {
    let set = |variable| {
        std::env::var(variable)
            .is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false" | "FALSE" | "False"))
    };
    set("CI") || set("CI_REQUIRE_SERVICES")
}

/// Whether `program` is an executable file in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|directory| {
        let candidate = directory.join(program);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            candidate.is_file()
        }
    })
}

/// Connects to the host and port of `url` (`scheme://[user@]host[:port]/...`)
/// within [`PROBE_TIMEOUT`].
fn reachable(url: &str) -> Result<(), String> {
    let (host, port) = host_and_port(url).ok_or_else(|| "is not a URL with a host".to_owned())?;
    let addresses = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("does not resolve: {error}"))?;
    let mut last = "resolves to no address".to_owned();
    for address in addresses {
        match TcpStream::connect_timeout(&address, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(error) => last = format!("is unreachable: {error}"),
        }
    }
    Err(last)
}

/// The host and port of a service URL; the port defaults to the scheme's.
fn host_and_port(url: &str) -> Option<(&str, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let default_port = match scheme {
        "postgres" | "postgresql" => 5432,
        "redis" | "rediss" => 6379,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then_some((host, port))
}

/// One test of a binary: its name, what it needs, and its body.
pub(crate) struct Test {
    name: &'static str,
    needs: Vec<Need>,
    body: Box<dyn FnOnce() + Send>,
}

/// A test whose body is plain code.
pub(crate) fn test(name: &'static str, body: fn()) -> Test {
    Test {
        name,
        needs: Vec::new(),
        body: Box::new(body),
    }
}

/// A test whose body runs on a tokio runtime of its own (current thread,
/// as `#[tokio::test]`).
pub(crate) fn tokio_test<F>(name: &'static str, body: fn() -> F) -> Test
where
    F: Future<Output = ()> + 'static,
{
    Test {
        name,
        needs: Vec::new(),
        body: Box::new(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(body());
        }),
    }
}

/// A test whose body runs on a multi-threaded tokio runtime of its own with
/// `workers` threads (as `#[tokio::test(flavor = "multi_thread")]`).
pub(crate) fn tokio_test_threads<F>(name: &'static str, workers: usize, body: fn() -> F) -> Test
where
    F: Future<Output = ()> + 'static,
{
    Test {
        name,
        needs: Vec::new(),
        body: Box::new(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(body());
        }),
    }
}

impl Test {
    /// The test needs `need` as well.
    #[must_use]
    pub(crate) fn needs(mut self, need: Need) -> Self {
        self.needs.push(need);
        self
    }

    fn into_trial(self, required: bool) -> Trial {
        let Self { name, needs, body } = self;
        Trial::ignorable_test(name, move || {
            let unmet: Vec<String> = needs.iter().filter_map(|need| need.probe().err()).collect();
            if unmet.is_empty() {
                body();
                Ok(Completion::Completed)
            } else if required {
                Err(Failed::from(format!(
                    "{}; this run requires services (CI or CI_REQUIRE_SERVICES is set)",
                    unmet.join("; ")
                )))
            } else {
                Ok(Completion::ignored_with(unmet.join("; ")))
            }
        })
    }
}

/// Runs `tests` as the test binary's `main`, taking the usual test flags
/// (a name filter, `--list`, `--test-threads`, `--exact`, ...).
pub(crate) fn run(tests: Vec<Test>) -> ! {
    let arguments = Arguments::from_args();
    let required = services_required();
    let trials = tests
        .into_iter()
        .map(|test| test.into_trial(required))
        .collect();
    libtest_mimic::run(&arguments, trials).exit()
}
