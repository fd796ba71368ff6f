//! Compiling, caching and running templates.

use super::*;

fn limits() -> Limits {
    Limits::default()
}

/// Compiles on the evaluation stack, as the hosts do.
fn compiled(source: &str, limits: &Limits) -> Arc<Compiled> {
    crate::stack::run(limits, || compile(source, limits)).unwrap()
}

fn value_of(c: &Compiled, limits: &Limits) -> Value {
    match c.run(Value::from(()), limits) {
        Ok(Rendered::Value(v)) => v,
        Ok(Rendered::Text(t)) => panic!("expected a value, got text {t}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn detects_template_syntax() {
    assert!(has_template_syntax("{{ x }}"));
    assert!(has_template_syntax("a {% if x %}b{% endif %}"));
    assert!(has_template_syntax("{# note #}"));
    assert!(!has_template_syntax("plain { text }"));
}

#[test]
fn classifies_paths_expressions_and_text() {
    assert!(matches!(
        compiled("{{ result.id }}", &limits()).evaluation,
        Evaluation::Path(_)
    ));
    assert!(matches!(
        compiled("  {{ a + 1 }} ", &limits()).evaluation,
        Evaluation::Expression
    ));
    assert!(matches!(
        compiled("x {{ a }}", &limits()).evaluation,
        Evaluation::Text
    ));
    assert!(matches!(
        compiled("{{ 1 }}-{{ 2 }}", &limits()).evaluation,
        Evaluation::Text
    ));
}

#[test]
fn compiles_each_distinct_template_once() {
    let a = compiled("{{ cache_probe + 1 }}", &limits());
    let b = compiled("{{ cache_probe + 1 }}", &limits());
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn analysis_finds_vars_bare_names_and_whole_vars_use() {
    let c = compiled(
        "{{ vars.a + vars.b.c + counter + result.x }}{% set y = 1 %}{{ y }}",
        &limits(),
    );
    assert_eq!(
        c.reads.vars,
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(
        c.reads.names,
        ["counter"].iter().map(|s| s.to_string()).collect()
    );
    assert!(!c.reads.all_vars);
    assert!(compiled("{{ vars | length }}", &limits()).reads.all_vars);
}

#[test]
fn a_syntax_error_is_reported_when_run_with_the_spot_marked() {
    let c = compiled("{{ 1 + }}", &limits());
    let err = match c.run(Value::from(()), &limits()) {
        Err(e) => e,
        Ok(_) => panic!("expected a syntax error"),
    };
    assert_eq!(err.kind, ErrorKind::TemplateSyntax);
    let detail = err.detail.unwrap();
    assert!(
        detail.starts_with("at column 8 of the template:\n{{ 1 + }}\n       ^^"),
        "{detail}"
    );
}

#[test]
fn errors_show_the_text_the_user_wrote_not_the_rewritten_one() {
    let c = compiled("{{ '%d items' % n }} and {{ nope.x }}", &limits());
    let err = match c.run(Value::from(()), &limits()) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    };
    let detail = err.detail.unwrap();
    assert!(detail.contains("{{ '%d items' % n }}"), "{detail}");
    assert!(!detail.contains("format("), "{detail}");
}

#[test]
fn one_expression_is_rendered_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Debug)]
    struct Counted;
    impl minijinja::value::Object for Counted {
        fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
            (key.as_str() == Some("n")).then(|| {
                CALLS.fetch_add(1, Ordering::SeqCst);
                Value::from(1)
            })
        }
    }
    let ctx = Value::from_object(Counted);
    for (source, reads) in [("{{ n + 1 }}", 1), ("{{ n }}-{{ n }}", 2), ("x{{ n }}", 1)] {
        CALLS.store(0, Ordering::SeqCst);
        let c = compiled(source, &limits());
        crate::stack::run(&limits(), || c.run(ctx.clone(), &limits()).map(|_| ()))
            .unwrap()
            .unwrap();
        assert_eq!(CALLS.load(Ordering::SeqCst), reads, "{source}");
    }
}

#[test]
fn small_cache_evicts_without_breaking_later_renders() {
    let small = Limits {
        cache_size: 2,
        ..Limits::default()
    };
    let first = compiled("{{ 1 + 1 }}", &small);
    for i in 0..10 {
        compiled(&format!("{{{{ {i} * 2 }}}}"), &small);
    }
    // Still usable: the evicted body is only removed at a later compile, and recompiled.
    let again = compiled("{{ 1 + 1 }}", &small);
    assert_eq!(value_of(&again, &small), Value::from(2));
    drop(first);
}

#[test]
fn templates_held_by_a_block_survive_a_cache_smaller_than_the_block() {
    let tiny = Limits {
        cache_size: 1,
        ..Limits::default()
    };
    let planned: Vec<_> = (0..5)
        .map(|i| compiled(&format!("{{{{ {i} + 100 }}}}"), &tiny))
        .collect();
    compiled("{{ 'one more compile, which sweeps the evicted' }}", &tiny);
    for (i, template) in planned.iter().enumerate() {
        assert_eq!(value_of(template, &tiny), Value::from(i as i64 + 100));
    }
    drop(planned);
    // Once nothing holds them, a later compile removes them from the environment: sweeps run
    // when the evicted list has grown enough (amortized), so it stays below its threshold.
    for i in 0..200 {
        compiled(&format!("{{{{ 'and another {i}' }}}}"), &tiny);
    }
    let (_, _, left) = cache::usage(&tiny);
    assert!(left < 64, "{left} evicted templates still kept");
}

#[test]
fn the_cache_is_bounded_in_bytes() {
    let bounded = Limits {
        cache_bytes: 1 << 20,
        ..Limits::default()
    };
    for i in 0..40 {
        let big = format!("{{{{ {i} }}}}{}", "x".repeat(64 * 1024));
        compiled(&big, &bounded);
    }
    let (count, bytes, _) = cache::usage(&bounded);
    assert!(bytes <= 1 << 20, "{bytes} bytes in {count} templates");
    assert!(count < 40, "{count}");
}
