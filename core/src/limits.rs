//! Limits on the work one call may do, and their defaults: the bottom layer, used by every
//! module that bounds something.

/// How deep a value built by a template (and a vars block) may nest before it is refused.
/// PostgreSQL's own `jsonb` code recurses per level as well; this keeps recursion far from
/// the end of any stack.
pub(crate) const MAX_DEPTH: usize = 512;

/// Limits for one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// minijinja fuel per template (instructions plus bytes produced); `None` is unlimited.
    pub fuel: Option<u64>,
    /// How many compiled templates a process keeps.
    pub cache_size: usize,
    /// How much memory the compiled templates a process keeps may take, in bytes (estimated
    /// from their source by the template cache).
    pub cache_bytes: usize,
    /// The largest text a template may render, in bytes.
    pub max_value_bytes: usize,
    /// Stack the host's own code may use on the evaluation stack (PostgreSQL's
    /// `max_stack_depth`, which it checks itself); reserved on top of what the fuel needs.
    pub host_stack: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel: Some(DEFAULT_FUEL),
            cache_size: DEFAULT_CACHE_SIZE,
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            host_stack: DEFAULT_HOST_STACK,
        }
    }
}

/// Enough for loops over tens of thousands of items; each unit of fuel reserves
/// `crate::stack::BYTES_PER_FUEL` bytes of evaluation stack (64 MB at this default).
pub const DEFAULT_FUEL: u64 = 100_000;
pub const DEFAULT_CACHE_SIZE: usize = 1024;
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// PostgreSQL's default `max_stack_depth` (2 MB) and a margin.
pub(crate) const DEFAULT_HOST_STACK: usize = 3 << 20;

thread_local! {
    static TEXT_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(DEFAULT_MAX_VALUE_BYTES) };
}

/// The longest text (and the most nodes) a template may build in the renders that follow:
/// `noetl_vars.max_value_bytes`, set by each run.
pub(crate) fn set_text_limit(bytes: usize) {
    TEXT_LIMIT.set(bytes);
}

pub(crate) fn text_limit() -> usize {
    TEXT_LIMIT.get()
}

thread_local! {
    static VISITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Starts a walk over a template value (Python text, tojson, conversion for storing).
pub(crate) fn walk_begin() {
    VISITS.set(0);
}

/// Counts one node of the current walk: polls the host every 4096 and fails once there are
/// more than [`text_limit`] (each node is at least a byte of output, and a value that shares
/// its parts can be exponentially larger than the work that built it).
pub(crate) fn walk_visit() -> crate::error::Result<()> {
    let n = VISITS.get() + 1;
    VISITS.set(n);
    if n.is_multiple_of(4096) {
        crate::interrupt::poll();
    }
    if n > text_limit() {
        return Err(crate::error::Error::new(
            crate::error::ErrorKind::ValueTooLarge,
            format!(
                "a value has more than noetl_vars.max_value_bytes ({}) parts",
                text_limit()
            ),
        ));
    }
    Ok(())
}
