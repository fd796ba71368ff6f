//! Compiled templates, kept per process and bounded both in number
//! ([`Limits::cache_size`]) and in memory ([`Limits::cache_bytes`]). A template's memory is
//! estimated from its source: the source is kept three times (the block's copy, the
//! environment's, the compiled instructions' constants) plus a fixed overhead; measured on
//! 1 MB templates, private memory grows by about 4 bytes per source byte.
//!
//! Templates leave the cache least recently used first. One the cache let go may still be in
//! use by the block being rendered, so it leaves the environment only at a later compile, once
//! nothing holds it: a block keeps every template it planned until it has run them all.

use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use minijinja::Environment;

use super::{compile_new, environment, Compiled, Limits};

/// Memory a template of `source_len` bytes is counted as.
pub fn cost_of(source_len: usize) -> usize {
    source_len.saturating_mul(4).saturating_add(2048)
}

/// The fewest evicted templates a sweep waits for.
const SWEEP_MIN: usize = 64;

struct Engine {
    env: Arc<Environment<'static>>,
    limits: Limits,
    cache: LruCache<String, Arc<Compiled>>,
    /// What the cached templates cost in all.
    bytes: usize,
    /// Templates let go by the cache, still in the environment.
    evicted: Vec<Arc<Compiled>>,
    /// How many evicted templates make the next compile sweep them: twice what the last
    /// sweep left, so that a block holding thousands of them costs linear time, not quadratic.
    sweep_at: usize,
    next_id: u64,
    /// Counts the templates let go: what holds compiled templates outside the cache (a
    /// cached parsed block, `crate::block::cache`) lets them go when it changes.
    released: u64,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn capacity(limits: &Limits) -> NonZeroUsize {
    NonZeroUsize::new(limits.cache_size.max(1)).unwrap_or(NonZeroUsize::MIN)
}

impl Engine {
    fn new(limits: &Limits) -> Engine {
        Engine {
            env: Arc::new(environment::build(limits)),
            limits: *limits,
            cache: LruCache::new(capacity(limits)),
            bytes: 0,
            evicted: Vec::new(),
            sweep_at: SWEEP_MIN,
            next_id: 0,
            released: 0,
        }
    }

    /// Applies changed settings.
    fn adjust(&mut self, limits: &Limits) {
        if self.limits.fuel != limits.fuel {
            Arc::make_mut(&mut self.env).set_fuel(limits.fuel);
        }
        self.limits = *limits;
        // `resize` would drop what does not fit without telling; let go of it first.
        while self.cache.len() > capacity(limits).get() {
            match self.cache.pop_lru() {
                Some((_, old)) => self.let_go(old),
                None => break,
            }
        }
        self.cache.resize(capacity(limits));
        self.shrink(0, 0);
    }

    /// Lets go of templates, least recently used first, until `adding` more templates of
    /// `room` bytes fit. Without one to add, the most recent stays whatever it costs.
    fn shrink(&mut self, room: usize, adding: usize) {
        let keep = usize::from(adding == 0);
        while self.cache.len() > keep
            && (self.cache.len() + adding > self.cache.cap().get()
                || self.bytes.saturating_add(room) > self.limits.cache_bytes)
        {
            match self.cache.pop_lru() {
                Some((_, old)) => self.let_go(old),
                None => break,
            }
        }
    }

    fn let_go(&mut self, old: Arc<Compiled>) {
        self.released += 1;
        self.bytes = self.bytes.saturating_sub(old.cost);
        self.evicted.push(old);
    }

    /// Removes from the environment the templates nothing holds any more.
    fn sweep(&mut self) {
        if self.evicted.len() < self.sweep_at {
            return;
        }
        self.sweep_at = (2 * self.evicted.len()).max(SWEEP_MIN);
        if !self.evicted.iter().any(|c| Arc::strong_count(c) == 1) {
            return;
        }
        let env = Arc::make_mut(&mut self.env);
        self.evicted.retain(|c| {
            if Arc::strong_count(c) > 1 {
                return true;
            }
            if let Ok(name) = &c.body {
                env.remove_template(name);
            }
            false
        });
        self.sweep_at = (2 * self.evicted.len()).max(SWEEP_MIN);
    }

    fn compile(&mut self, source: &str) -> Arc<Compiled> {
        if let Some(hit) = self.cache.get(source) {
            return hit.clone();
        }
        self.sweep();
        self.shrink(cost_of(source.len()), 1);
        self.next_id += 1;
        let name = format!("noetl_vars#{}", self.next_id);
        let compiled = Arc::new(compile_new(Arc::make_mut(&mut self.env), &name, source));
        self.bytes = self.bytes.saturating_add(compiled.cost);
        if let Some((_, old)) = self.cache.push(source.to_string(), compiled.clone()) {
            if !Arc::ptr_eq(&old, &compiled) {
                self.let_go(old);
            }
        }
        compiled
    }
}

fn with_engine<R>(limits: &Limits, f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engine = slot.get_or_insert_with(|| Engine::new(limits));
        if engine.limits != *limits {
            engine.adjust(limits);
        }
        f(engine)
    })
}

/// The compiled form of `source`, from the cache when it was seen before.
pub fn compile(source: &str, limits: &Limits) -> Arc<Compiled> {
    with_engine(limits, |engine| engine.compile(source))
}

/// The environment the cached templates live in.
pub fn environment(limits: &Limits) -> Arc<Environment<'static>> {
    with_engine(limits, |engine| engine.env.clone())
}

/// Changes whenever the cache lets a template go: a holder of compiled
/// templates that are not counted here lets them go when it sees this change, so that the
/// environment can drop them.
pub fn generation(limits: &Limits) -> u64 {
    with_engine(limits, |engine| engine.released)
}

/// How many templates the cache holds and what they cost (for tests).
#[cfg(test)]
pub fn usage(limits: &Limits) -> (usize, usize, usize) {
    with_engine(limits, |e| (e.cache.len(), e.bytes, e.evicted.len()))
}
