//! The keys that encrypt sensitive variables (docs/encryption.md): read from the file
//! `noetl_vars.key_file` names, or printed by the program `noetl_vars.key_command` names. Both
//! settings belong to the server's configuration, so keys never pass through SQL, a statement
//! or a log line.
//!
//! Each session keeps the ring it read. A key file is read again when it changes (checked once
//! per transaction that needs a key); a key command runs again when its setting changes, when a value
//! names a key the ring does not hold, and for each rotation.

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use noetl_vars_core::sealed::KeyRing;
use noetl_vars_core::{Error, ErrorKind};
use pgrx::pg_sys;
use zeroize::Zeroizing;

use crate::backend::errors::Raise;
use crate::backend::guc;

/// How long a key command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a key ring may hold, in bytes (a ring of thousands of keys).
const MAX_RING_BYTES: u64 = 1 << 20;

/// Where the kept ring came from: it is read again when this differs.
#[derive(PartialEq, Eq, Clone)]
enum Source {
    File {
        path: String,
        modified: i64,
        modified_ns: i64,
        len: u64,
        inode: u64,
    },
    Command(String),
}

/// The ring a session keeps: where it came from, and the transaction (by its start time)
/// that last found that source unchanged.
struct Kept {
    source: Source,
    checked: pg_sys::TimestampTz,
    ring: Rc<KeyRing>,
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
    static ROTATING: Cell<bool> = const { Cell::new(false) };
}

/// While a rotation runs: its writes change no value, so they are not changes (no history,
/// watch delivery or NOTIFY). Ends when dropped, an error's unwinding included.
pub struct Rotating(());

impl Rotating {
    pub fn start() -> Rotating {
        ROTATING.with(|r| r.set(true));
        Rotating(())
    }
}

impl Drop for Rotating {
    fn drop(&mut self) {
        ROTATING.with(|r| r.set(false));
    }
}

/// Whether a rotation is rewriting values in this session now.
pub fn rotating() -> bool {
    ROTATING.with(Cell::get)
}

/// The key ring, read again if its file changed; an error when no key is configured or the
/// keys cannot be read.
pub fn ring() -> Rc<KeyRing> {
    // Within a transaction the kept ring is used as it is: a file is looked at once per
    // transaction, not once per value.
    // SAFETY: no preconditions; inside a transaction.
    let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    if let Some(ring) = KEPT.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|kept| kept.checked == now)
            .map(|kept| kept.ring.clone())
    }) {
        return ring;
    }
    let source = current_source();
    let kept = KEPT.with(|k| {
        let mut k = k.borrow_mut();
        let kept = k.as_mut().filter(|kept| kept.source == source)?;
        kept.checked = now;
        Some(kept.ring.clone())
    });
    kept.unwrap_or_else(|| load(source))
}

/// The key ring read afresh (a key command runs again): for a rotation, and for a value
/// sealed with a key the kept ring does not hold.
pub fn reloaded() -> Rc<KeyRing> {
    load(current_source())
}

fn load(source: Source) -> Rc<KeyRing> {
    let text = Zeroizing::new(match &source {
        Source::File { path, .. } => read_file(path),
        Source::Command(program) => run(program),
    });
    let ring = KeyRing::parse(&text).unwrap_or_else(|reason| {
        unavailable(format!(
            "the key ring of {} is not valid: {reason}",
            source.name()
        ))
        .raise()
    });
    let ring = Rc::new(ring);
    // SAFETY: no preconditions; inside a transaction.
    let checked = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    KEPT.with(|k| {
        *k.borrow_mut() = Some(Kept {
            source,
            checked,
            ring: ring.clone(),
        })
    });
    ring
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File { path, .. } => format!("noetl_vars.key_file \"{path}\""),
            Source::Command(program) => format!("noetl_vars.key_command \"{program}\""),
        }
    }
}

fn unavailable(message: String) -> Error {
    Error::new(ErrorKind::PrerequisiteState, message)
        .with_hint("see docs/encryption.md, \"Setting up keys\"")
}

fn current_source() -> Source {
    if let Some(path) = guc::key_file() {
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| {
            unavailable(format!(
                "noetl_vars.key_file \"{path}\" cannot be read: {e}"
            ))
            .raise()
        });
        return Source::File {
            path,
            modified: meta.mtime(),
            modified_ns: meta.mtime_nsec(),
            len: meta.len(),
            inode: meta.ino(),
        };
    }
    if let Some(program) = guc::key_command() {
        return Source::Command(program);
    }
    Error::new(
        ErrorKind::PrerequisiteState,
        "no encryption key is configured, so a sensitive variable cannot be stored or read",
    )
    .with_detail("Neither noetl_vars.key_file nor noetl_vars.key_command is set.")
    .with_hint("set one of them in postgresql.conf and reload; see docs/encryption.md, \"Setting up keys\"")
    .raise()
}

/// The file's text, once it is known to be the server user's alone.
fn read_file(path: &str) -> String {
    let refuse =
        |why: String| -> ! { unavailable(format!("noetl_vars.key_file \"{path}\" {why}")).raise() };
    let meta = std::fs::metadata(path).unwrap_or_else(|e| refuse(format!("cannot be read: {e}")));
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        refuse("does not belong to the server's operating system user".into());
    }
    if meta.mode() & 0o077 != 0 {
        refuse(format!(
            "may be read or written by other users (mode {:o}); chmod 600 it",
            meta.mode() & 0o777
        ));
    }
    if meta.len() > MAX_RING_BYTES {
        refuse(format!("is larger than {MAX_RING_BYTES} bytes"));
    }
    std::fs::read_to_string(path).unwrap_or_else(|e| refuse(format!("cannot be read: {e}")))
}

/// What `program` prints, run without a shell, arguments or input, within
/// [`COMMAND_TIMEOUT`].
fn run(program: &str) -> String {
    let fail = |why: String| -> ! {
        unavailable(format!("noetl_vars.key_command \"{program}\" {why}")).raise()
    };
    let mut child = Command::new(program)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail(format!("could not be started: {e}")));
    // Read both pipes beside the wait, so that a program printing more than a pipe holds
    // does not block; the threads touch nothing of PostgreSQL.
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(r) = r {
                let _ = r.take(MAX_RING_BYTES + 1).read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait(&mut child).unwrap_or_else(|why| fail(why));
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        let said = String::from_utf8_lossy(&err);
        let first = said
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        fail(format!("failed ({status}): {first}"));
    }
    if out.len() as u64 > MAX_RING_BYTES {
        fail(format!("printed more than {MAX_RING_BYTES} bytes"));
    }
    String::from_utf8(out).unwrap_or_else(|_| fail("printed text that is not UTF-8".into()))
}

/// The exit status of `child`, killed if it runs past [`COMMAND_TIMEOUT`] or the statement is
/// cancelled meanwhile (a cancel, `statement_timeout`, a terminate: the child is killed
/// before the interrupt is served, so none is left running).
fn wait(child: &mut std::process::Child) -> Result<std::process::ExitStatus, String> {
    let started = Instant::now();
    loop {
        // SAFETY: reads a flag the backend's signal handlers set.
        if unsafe { pg_sys::InterruptPending } != 0 {
            let _ = child.kill();
            let _ = child.wait();
            pgrx::check_for_interrupts!();
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "did not finish within {} s",
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    }
}
