//! Tests of the evaluation stack.

use super::*;

fn depth(n: u64) -> u64 {
    // 256 bytes per level: 100,000 levels need about 25 MB, far past an 8 MB stack.
    let pad = std::hint::black_box([0u8; 256]);
    if n == 0 {
        u64::from(pad[0])
    } else {
        1 + depth(n - 1) + u64::from(pad[1])
    }
}

fn resident_below_kept() -> bool {
    deep_pages_resident().unwrap()
}

fn limits(fuel: u64) -> Limits {
    Limits {
        fuel: Some(fuel),
        ..Limits::default()
    }
}

#[test]
fn deep_recursion_runs_on_the_evaluation_stack() {
    assert_eq!(run(&limits(100_000), || depth(100_000)).unwrap(), 100_000);
    // Reused, not remapped.
    let first = REGION.get().map(|r| r.map as usize);
    assert_eq!(run(&limits(100_000), || depth(10)).unwrap(), 10);
    assert_eq!(REGION.get().map(|r| r.map as usize), first);
}

#[test]
fn the_reservation_grows_with_the_fuel() {
    let small = size_for(&limits(1_000));
    let large = size_for(&limits(1_000_000));
    assert!((FIXED..16 * MIB).contains(&small), "{small}");
    assert_eq!(
        large - small,
        (999_000 * BYTES_PER_FUEL).div_ceil(MIB) * MIB
    );
    run(&limits(1_000), || ()).unwrap();
    let before = REGION.get().map(|r| r.size()).unwrap();
    run(&limits(1_000_000), || ()).unwrap();
    let after = REGION.get().map(|r| r.size()).unwrap();
    assert!(after >= large && after > before, "{before} -> {after}");
}

#[test]
fn a_refused_reservation_is_an_error_not_a_smaller_stack() {
    // More address space than any machine has: mmap fails, and the closure never runs.
    let absurd = Limits {
        fuel: Some(u64::MAX / 2),
        ..Limits::default()
    };
    let mut ran = false;
    let err = run(&absurd, || ran = true).unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfMemory);
    assert!(err.message.contains("could not reserve"), "{}", err.message);
    assert!(!ran);
    // The thread can still evaluate afterwards.
    assert_eq!(run(&limits(1_000), || 7).unwrap(), 7);
}

#[test]
fn panics_cross_back_to_the_caller() {
    let caught = std::panic::catch_unwind(|| run(&limits(1_000), || panic!("inner")));
    assert!(caught.is_err());
    // And the stack is usable again afterwards.
    assert_eq!(run(&limits(1_000), || 7).unwrap(), 7);
}

#[test]
fn deep_use_is_given_back() {
    assert_eq!(run(&limits(100_000), || depth(100_000)).unwrap(), 100_000);
    assert!(
        !resident_below_kept(),
        "deep pages were kept after the evaluation"
    );
}

#[test]
fn under_a_guard_deep_use_is_given_back_when_it_ends() {
    let guard = release_at_end();
    assert_eq!(run(&limits(100_000), || depth(100_000)).unwrap(), 100_000);
    assert_eq!(run(&limits(100_000), || depth(10)).unwrap(), 10);
    assert!(resident_below_kept(), "released before the guard ended");
    let inner = release_at_end();
    drop(inner);
    assert!(resident_below_kept(), "an inner guard released");
    drop(guard);
    assert!(
        !resident_below_kept(),
        "deep pages were kept after the guard"
    );
}

#[test]
fn a_guard_ended_inside_an_evaluation_leaves_the_check_to_it() {
    let l = limits(100_000);
    let out = run(&l, || {
        let guard = release_at_end();
        let d = depth(100_000);
        // Nested: runs on the same stack; dropping the guard here must not release it.
        drop(guard);
        d + depth(10)
    });
    assert_eq!(out.unwrap(), 100_010);
    assert!(
        !resident_below_kept(),
        "deep pages were kept after the evaluation"
    );
}

#[test]
fn nested_evaluations_stay_on_the_same_stack() {
    let l = limits(10_000);
    assert_eq!(run(&l, || run(&l, || depth(1000)).unwrap()).unwrap(), 1000);
}
