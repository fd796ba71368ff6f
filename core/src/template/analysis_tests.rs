//! What the syntax tree says a template is and reads.

use super::*;

fn shape(text: &str) -> Inspection {
    match inspect(text, &|e| {
        Error::new(ErrorKind::TemplateSyntax, e.to_string())
    }) {
        Ok(s) => s,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn names(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

#[test]
fn one_expression_is_an_expression_and_anything_more_is_text() {
    assert!(matches!(
        shape("{{ a + 1 }}").evaluation,
        Evaluation::Expression
    ));
    assert!(matches!(
        shape("{{- a + 1 -}}").evaluation,
        Evaluation::Expression
    ));
    for text in [
        "{{ 1 }}-{{ 2 }}",
        "{{ a }}{{ b }}",
        "x {{ a }}",
        "{{ a }}{# c #}",
        "{% if a %}{{ b }}{% endif %}",
    ] {
        assert!(matches!(shape(text).evaluation, Evaluation::Text), "{text}");
    }
}

#[test]
fn pure_paths_are_recognised_from_the_tree() {
    let Evaluation::Path(p) = shape("{{ result.users[0]['id'] }}").evaluation else {
        panic!("not a path");
    };
    assert_eq!(p.root, "result");
    assert_eq!(
        p.segs,
        vec![
            Seg::Key("users".into()),
            Seg::Index(0),
            Seg::Key("id".into())
        ]
    );
    let Evaluation::Path(p) = shape("{{ items[-1] }}").evaluation else {
        panic!("not a path");
    };
    assert_eq!(p.segs, vec![Seg::Index(-1)]);
    for text in [
        "{{ a | length }}",
        "{{ a.b() }}",
        "{{ a[b] }}",
        "{{ none }}",
        "{{ 'x' }}",
    ] {
        assert!(
            !matches!(shape(text).evaluation, Evaluation::Path(_)),
            "{text}"
        );
    }
}

#[test]
fn reads_are_exact_for_constant_names_and_whole_for_run_time_ones() {
    let r = shape("{{ vars.a + vars['b c'] + vars.get('d') + vars.get('e', 0) + x.vars }}").reads;
    assert_eq!(names(&r.vars), ["a", "b c", "d", "e"]);
    assert!(!r.all_vars);
    for text in [
        "{{ vars[result.k] }}",
        "{{ vars.get(result.k) }}",
        "{{ vars.items() | list }}",
        "{{ vars | length }}",
        "{% for k in vars %}{{ k }}{% endfor %}",
        "{% set v = vars %}{{ v.a }}",
        "{{ vars.values() | sum }}",
    ] {
        assert!(shape(text).reads.all_vars, "{text}");
    }
    // A variable that is really called `get` is read as one.
    assert_eq!(names(&shape("{{ vars.get }}").reads.vars), ["get"]);
    // Reads inside statements, filters and tests count.
    let r = shape("{% for i in vars.list if i > vars.min %}{{ i | default(vars.d) is divisibleby(vars.n) }}{% endfor %}").reads;
    assert_eq!(names(&r.vars), ["d", "list", "min", "n"]);
}

#[test]
fn long_chains_are_refused_before_parsing() {
    let deep = format!("{{{{ x{} }}}}", ".a".repeat(MAX_CHAIN + 1));
    let err = inspect(&deep, &|_| unreachable!()).map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooComplex);
    // Long flat lists and many short expressions are fine.
    let flat = format!("{{{{ [{}] }}}}", vec!["a.b"; MAX_CHAIN * 2].join(", "));
    assert!(inspect(&flat, &|_| unreachable!()).is_ok());
}

#[test]
fn members_of_the_set_scopes_are_reads_of_their_scope() {
    let r = shape("{{ ctx.a + step.b + iter['c'] + workflow.get('d') + global.e }}").reads;
    assert_eq!(names(&r.vars), ["a"]);
    let scoped: Vec<(&str, &str)> = r
        .scoped
        .iter()
        .map(|(s, n)| (s.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        scoped,
        [
            ("global", "e"),
            ("iter", "c"),
            ("step", "b"),
            ("workflow", "d")
        ]
    );
    assert!(r.scoped_all.is_empty() && !r.all_vars);
}

#[test]
fn a_set_scope_used_as_a_whole_is_read_whole() {
    for (text, scope) in [
        ("{{ step | length }}", "step"),
        ("{{ iter[result.k] }}", "iter"),
        ("{{ workflow.items() | list }}", "workflow"),
        ("{% for k in global %}{{ k }}{% endfor %}", "global"),
    ] {
        let r = shape(text).reads;
        assert!(r.scoped_all.contains(scope), "{text}");
    }
    assert!(shape("{{ ctx | length }}").reads.all_vars);
    assert!(shape("{{ ctx[result.k] }}").reads.all_vars);
}

#[test]
fn a_name_with_a_nul_is_no_read_of_any_scope() {
    let r = shape("{{ ctx['\\x00global\\x00n'] | default(0) }}").reads;
    assert!(r.vars.is_empty() && r.scoped.is_empty(), "{r:?}");
}
