//! Rendering a vars block end to end, without a database: the typing examples of docs/reference.md (`render_vars`),
//! typing rules, context names, dependency order, Jinja2 compatibility and limits.

use std::sync::Arc;

use noetl_vars_core::block;
use noetl_vars_core::context::{MemoryStore, Scope, VarsState};
use noetl_vars_core::doc::{DocRef, SerdeDoc};
use noetl_vars_core::limits::Limits;
use noetl_vars_core::output::OutValue;
use noetl_vars_core::render::{self, Settings};
use noetl_vars_core::validate::Phase;
use noetl_vars_core::{Error, ErrorKind};

fn doc(text: &str) -> DocRef {
    SerdeDoc::parse(text).unwrap_or_else(|| panic!("bad JSON in test: {text}"))
}

/// One variable's outcome: its name and its JSON text, or the error it raised.
type Outcome = (String, Result<String, Error>);

struct Run<'a> {
    config: &'a str,
    result: Option<&'a str>,
    context: &'a str,
    vars: Vec<(&'a str, &'a str)>,
    phase: Phase,
    extra: Vec<(&'a str, &'a str)>,
    limits: Limits,
    stop_on_error: bool,
}

impl<'a> Run<'a> {
    fn new(config: &'a str) -> Run<'a> {
        Run {
            config,
            result: None,
            context: "{}",
            vars: Vec::new(),
            phase: Phase::After,
            extra: Vec::new(),
            limits: Limits::default(),
            stop_on_error: true,
        }
    }
    fn result(mut self, r: &'a str) -> Self {
        self.result = Some(r);
        self
    }
    fn context(mut self, c: &'a str) -> Self {
        self.context = c;
        self
    }
    fn var(mut self, name: &'a str, value: &'a str) -> Self {
        self.vars.push((name, value));
        self
    }
    fn phase(mut self, p: Phase) -> Self {
        self.phase = p;
        self
    }
    fn extra(mut self, name: &'a str, value: &'a str) -> Self {
        self.extra.push((name, value));
        self
    }
    fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }
    fn skip_errors(mut self) -> Self {
        self.stop_on_error = false;
        self
    }

    /// Every outcome as (name, JSON text or error).
    fn outcomes(&self) -> Result<Vec<Outcome>, Error> {
        let store = MemoryStore::new(
            self.vars
                .iter()
                .map(|(n, v)| (n.to_string(), doc(v)))
                .collect(),
        );
        let vars = VarsState::new(Arc::new(store));
        let scope = Arc::new(Scope::new(
            4_611_686_018_427_387_904,
            "fetch",
            self.result.map(doc),
            Some(doc(self.context)),
            self.extra
                .iter()
                .map(|(n, v)| (n.to_string(), doc(v)))
                .collect(),
            vars,
        ));
        let entries = block::parse(Some(&doc(self.config)), self.phase, &self.limits)?;
        let plan = render::plan(entries, &scope);
        let settings = Settings {
            limits: self.limits,
            stop_on_error: self.stop_on_error,
        };
        Ok(render::evaluate(&plan, &scope, &settings)?
            .into_iter()
            .map(|o| (o.name, o.value.map(|v| v.to_json())))
            .collect())
    }

    /// The stored object, or the first error.
    fn stored(&self) -> Result<String, Error> {
        let mut parts = Vec::new();
        for (name, value) in self.outcomes()? {
            parts.push(format!("\"{name}\": {}", value?));
        }
        Ok(format!("{{{}}}", parts.join(", ")))
    }
}

/// The value `template` stores (as JSON text), given a result and variables.
fn value(template: &str, result: &str) -> Result<String, Error> {
    let config = serde_json::json!({ "v": template }).to_string();
    let out = Run::new(&config).result(result).outcomes()?;
    out.into_iter().next().map(|(_, v)| v).expect("one outcome")
}

fn ok(template: &str, result: &str) -> String {
    value(template, result).unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn err(template: &str, result: &str) -> Error {
    match value(template, result) {
        Ok(v) => panic!("{template}: expected an error, stored {v}"),
        Err(e) => e,
    }
}

// ---- the typing examples of docs/reference.md (render_vars), row by row ----------

#[test]
fn spec_example_result_index_path_stores_the_integer() {
    assert_eq!(
        ok("{{ result[0].user_id }}", r#"[{"user_id": 12345}]"#),
        "12345"
    );
}

#[test]
fn spec_example_counter_increment_stores_one() {
    let out = Run::new(r#"{"counter": "{{ vars.counter + 1 }}"}"#)
        .var("counter", "0")
        .stored();
    assert_eq!(out.unwrap(), r#"{"counter": 1}"#);
}

#[test]
fn spec_example_items_length_uses_the_key_not_the_dict_method() {
    assert_eq!(
        ok(
            "{{ this.data.items | length }}",
            r#"{"data": {"items": [1,2,3]}}"#
        ),
        "3"
    );
}

#[test]
fn spec_example_default_applies_to_a_missing_variable() {
    assert_eq!(ok("{{ vars.attempt | default(1) }}", "{}"), "1");
}

#[test]
fn spec_example_conditional_with_null_else_stores_null() {
    assert_eq!(
        ok(
            "{{ this.error if this.status == 'error' else null }}",
            r#"{"status": "ok"}"#
        ),
        "null"
    );
}

#[test]
fn spec_example_workload_text_is_rendered_to_a_string() {
    let out = Run::new(r#"{"url": "{{ workload.base_url }}/users"}"#)
        .context(r#"{"workload": {"base_url": "https://a"}}"#)
        .stored();
    assert_eq!(out.unwrap(), r#"{"url": "https://a/users"}"#);
}

#[test]
fn spec_example_literals_are_stored_as_given() {
    let out = Run::new(r#"{"a": 0, "b": true, "c": null, "d": []}"#).stored();
    assert_eq!(out.unwrap(), r#"{"a": 0, "b": true, "c": null, "d": []}"#);
}

#[test]
fn spec_example_undefined_variable_is_an_error() {
    let e = err("{{ vars.nope }}", "{}");
    assert_eq!(e.kind, ErrorKind::Undefined);
}

// ---- typing rules -------------------------------------------------------------------

#[test]
fn rule1_non_strings_are_verbatim_and_nested_strings_are_rendered() {
    let out = Run::new(r#"{"o": {"n": 1.50, "s": "{{ result.x }}", "t": "plain", "l": ["{{ result.x + 1 }}", false]}}"#)
        .result(r#"{"x": 41}"#)
        .stored();
    assert_eq!(
        out.unwrap(),
        r#"{"o": {"n": 1.5, "s": 41, "t": "plain", "l": [42, false]}}"#
    );
}

#[test]
fn rule1_keys_are_not_rendered() {
    let out = Run::new(r#"{"o": {"{{ k }}": "{{ 1 + 1 }}"}}"#).stored();
    assert_eq!(out.unwrap(), r#"{"o": {"{{ k }}": 2}}"#);
}

#[test]
fn rule2_expressions_keep_their_json_type() {
    assert_eq!(ok("{{ 40 + 2 }}", "{}"), "42");
    assert_eq!(ok("{{ 7 / 2 }}", "{}"), "3.5");
    assert_eq!(ok("{{ 4 / 2 }}", "{}"), "2.0");
    assert_eq!(ok("{{ 1 == 1 }}", "{}"), "true");
    assert_eq!(ok("{{ none }}", "{}"), "null");
    assert_eq!(ok("{{ {'a': [1, 2]} }}", "{}"), r#"{"a": [1, 2]}"#);
    assert_eq!(ok("{{ [1, 'x'] }}", "{}"), r#"[1, "x"]"#);
    assert_eq!(ok("  {{ 'padded' }}\n", "{}"), r#""padded""#);
}

#[test]
fn rule2_strings_are_never_reparsed() {
    assert_eq!(ok("{{ result.code }}", r#"{"code": "007"}"#), r#""007""#);
    assert_eq!(ok("{{ result.flag }}", r#"{"flag": "true"}"#), r#""true""#);
    assert_eq!(
        ok("{{ result.code | string }}", r#"{"code": "007"}"#),
        r#""007""#
    );
    assert_eq!(ok("{{ '[1, 2]' }}", "{}"), r#""[1, 2]""#);
}

#[test]
fn rule2_pure_paths_store_the_source_node_itself() {
    let result = doc(r#"{"data": {"users": [{"id": 7}], "meta": {"n": 1}}}"#);
    let vars = VarsState::new(Arc::new(MemoryStore::default()));
    let scope = Arc::new(Scope::new(1, "s", Some(result.clone()), None, vec![], vars));
    let limits = Limits::default();
    for template in [
        "{{ this.data }}",
        "{{ result.meta }}",
        "{{ result.users[0].id }}",
        "{{ this['data']['users'][-1] }}",
    ] {
        match render::evaluate_one(template, &scope, &limits).unwrap() {
            OutValue::Doc(_) => {}
            other => panic!("{template}: expected the source node, got {other:?}"),
        }
    }
}

#[test]
fn rule2_pure_path_to_a_missing_key_is_an_error() {
    assert_eq!(
        err("{{ result.users[5].id }}", r#"{"users": []}"#).kind,
        ErrorKind::Undefined
    );
}

#[test]
fn rule2_silent_undefined_of_an_if_without_else_is_null() {
    assert_eq!(ok("{{ 1 if false }}", "{}"), "null");
}

#[test]
fn rule2_two_expressions_are_text() {
    assert_eq!(ok("{{ 1 }}{{ 2 }}", "{}"), r#""12""#);
    assert_eq!(ok("{{ 1 }} {{ 2 }}", "{}"), r#""1 2""#);
}

#[test]
fn rule3_text_and_plain_strings() {
    assert_eq!(ok("id-{{ result.id }}", r#"{"id": 5}"#), r#""id-5""#);
    assert_eq!(
        ok(
            "{% if result.ok %}yes{% else %}no{% endif %}",
            r#"{"ok": true}"#
        ),
        r#""yes""#
    );
    assert_eq!(ok("{# nothing #}", "{}"), r#""""#);
    let out = Run::new(r#"{"s": "just text", "b": "a { b } c"}"#).stored();
    assert_eq!(out.unwrap(), r#"{"s": "just text", "b": "a { b } c"}"#);
}

#[test]
fn rule4_default_if_defined_and_conditionals_handle_missing_names() {
    assert_eq!(ok("{{ result.missing | default('d') }}", "{}"), r#""d""#);
    assert_eq!(ok("{{ result.missing is defined }}", "{}"), "false");
    assert_eq!(ok("{{ 'y' if vars.flag else 'n' }}", "{}"), r#""n""#);
    assert_eq!(
        ok(
            "{% if vars.flag is defined %}{{ vars.flag }}{% else %}none{% endif %}",
            "{}"
        ),
        r#""none""#
    );
}

#[test]
fn rule4_default_does_not_replace_null() {
    assert_eq!(ok("{{ result.x | default(5) }}", r#"{"x": null}"#), "null");
    assert_eq!(
        ok("{{ result.x | default(5, true) }}", r#"{"x": null}"#),
        "5"
    );
}

#[test]
fn rule4_missing_names_keys_and_indexes_are_errors() {
    assert_eq!(err("{{ nothing_here }}", "{}").kind, ErrorKind::Undefined);
    assert_eq!(
        err("{{ result.a.b }}", r#"{"a": {}}"#).kind,
        ErrorKind::Undefined
    );
    assert_eq!(err("{{ result[3] }}", "[1]").kind, ErrorKind::Undefined);
    assert_eq!(err("x{{ result.nope }}", "{}").kind, ErrorKind::Undefined);
}

#[test]
fn rule5_a_block_is_evaluated_in_dependency_order() {
    let out = Run::new(r#"{"total": "{{ vars.base * 2 }}", "base": "{{ result.n }}", "label": "n={{ vars.total }}"}"#)
        .result(r#"{"n": 21}"#)
        .var("base", "1000")
        .stored();
    assert_eq!(
        out.unwrap(),
        r#"{"base": 21, "total": 42, "label": "n=42"}"#
    );
}

#[test]
fn rule5_bare_names_of_the_block_are_dependencies_too() {
    let out = Run::new(r#"{"b": "{{ a + 1 }}", "a": "{{ 1 }}"}"#).stored();
    assert_eq!(out.unwrap(), r#"{"a": 1, "b": 2}"#);
}

#[test]
fn rule5_a_variable_reading_itself_sees_the_stored_value() {
    let out =
        Run::new(r#"{"counter": "{{ vars.counter + 1 }}", "twice": "{{ vars.counter * 2 }}"}"#)
            .var("counter", "10")
            .stored();
    assert_eq!(out.unwrap(), r#"{"counter": 11, "twice": 22}"#);
}

#[test]
fn rule5_vars_get_with_a_constant_name_is_a_dependency() {
    let out = Run::new(r#"{"y": "{{ vars.get('z') }}", "z": "{{ 6 }}"}"#).stored();
    assert_eq!(out.unwrap(), r#"{"z": 6, "y": 6}"#);
    let e = Run::new(r#"{"a": "{{ vars['b'] }}", "b": "{{ vars.get('a') }}"}"#)
        .stored()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cycle);
}

#[test]
fn rule5_a_cycle_is_an_error_naming_the_variables() {
    let e = Run::new(r#"{"a": "{{ vars.b }}", "b": "{{ vars.a }}", "c": 1}"#)
        .stored()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cycle);
    assert!(
        e.message.contains("\"a\"") && e.message.contains("\"b\""),
        "{}",
        e.message
    );
    assert!(e.message.contains("\"fetch\""), "{}", e.message);
}

// ---- context ------------------------------------------------------------------------

#[test]
fn result_unwraps_the_data_envelope_and_this_does_not() {
    let r = r#"{"status": "ok", "data": {"id": 3}}"#;
    assert_eq!(ok("{{ result.id }}", r), "3");
    assert_eq!(ok("{{ this.status }}", r), r#""ok""#);
    assert_eq!(ok("{{ result[0] }}", "[9]"), "9");
    assert_eq!(ok("{{ result }}", "5"), "5");
}

#[test]
fn execution_id_is_an_integer_and_step_a_string() {
    assert_eq!(ok("{{ execution_id }}", "{}"), "4611686018427387904");
    assert_eq!(ok("{{ execution_id + 1 }}", "{}"), "4611686018427387905");
    assert_eq!(ok("{{ step }}", "{}"), r#""fetch""#);
}

#[test]
fn context_names_workload_job_results_and_step_results_by_name() {
    let ctx = r#"{"workload": {"env": "prod"}, "job": {"id": "j1"}, "results": {"fetch_user": {"data": {"email": "a@b"}}}, "item": {"n": 2}}"#;
    let out = Run::new(r#"{"e": "{{ workload.env }}", "j": "{{ job.id }}", "m": "{{ fetch_user.data.email }}", "m2": "{{ results.fetch_user.data.email }}", "i": "{{ item.n }}"}"#)
        .context(ctx)
        .stored();
    assert_eq!(
        out.unwrap(),
        r#"{"e": "prod", "j": "j1", "m": "a@b", "m2": "a@b", "i": 2}"#
    );
}

#[test]
fn bare_names_resolve_vars_then_step_results_then_workload_then_builtins() {
    let ctx = r#"{"workload": {"x": "workload", "y": "workload", "z": "workload"}, "results": {"x": "results", "y": "results"}}"#;
    let out = Run::new(
        r#"{"a": "{{ x }}", "b": "{{ y }}", "c": "{{ z }}", "d": "{{ range(2) | list }}"}"#,
    )
    .context(ctx)
    .var("x", r#""vars""#)
    .stored();
    assert_eq!(
        out.unwrap(),
        r#"{"a": "vars", "b": "results", "c": "workload", "d": [0, 1]}"#
    );
}

#[test]
fn reserved_names_cannot_be_shadowed_by_variables() {
    let out = Run::new(r#"{"a": "{{ result }}", "b": "{{ step }}"}"#)
        .result("1")
        .var("result", "2")
        .var("step", "3")
        .stored();
    assert_eq!(out.unwrap(), r#"{"a": 1, "b": "fetch"}"#);
}

#[test]
fn extra_names_like_item_win_over_context_and_vars() {
    let out = Run::new(r#"{"i": "{{ item }}"}"#)
        .context(r#"{"item": 1}"#)
        .var("item", "2")
        .extra("item", "3")
        .stored();
    assert_eq!(out.unwrap(), r#"{"i": 3}"#);
}

#[test]
fn vars_of_the_execution_are_visible_and_enumerable() {
    let out = Run::new(r#"{"n": "{{ vars | length }}", "k": "{{ vars.keys() | sort | list }}", "g": "{{ vars.get('a') }}", "h": "{{ vars.get('zz', 0) }}"}"#)
        .var("a", "1")
        .var("b", "2")
        .stored();
    // `n` was assigned earlier in the same block, so it is one of the variables by then.
    assert_eq!(
        out.unwrap(),
        r#"{"n": 2, "k": ["a", "b", "n"], "g": 1, "h": 0}"#
    );
}

#[test]
fn before_phase_applies_before_and_has_no_result() {
    let config = r#"{"before": {"started": "{{ 1 }}", "r": "{{ result | default('none yet') }}"}, "after": {"done": true}}"#;
    let out = Run::new(config).phase(Phase::Before).stored();
    assert_eq!(out.unwrap(), r#"{"started": 1, "r": "none yet"}"#);
    let out = Run::new(config).result("{}").stored();
    assert_eq!(out.unwrap(), r#"{"done": true}"#);
    let e = Run::new(r#"{"before": {"r": "{{ result.x }}"}}"#)
        .phase(Phase::Before)
        .stored()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Undefined);
}

#[test]
fn literals_null_none_true_false_in_both_cases() {
    assert_eq!(
        ok("{{ [null, none, None, true, True, false, False] }}", "{}"),
        "[null, null, null, true, true, false, false]"
    );
}

// ---- functions, filters and Jinja2 compatibility -------------------------------------

#[test]
fn now_is_unix_seconds_as_a_float() {
    let v: f64 = ok("{{ now() }}", "{}").parse().unwrap();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((wall - v).abs() < 60.0, "{v} vs {wall}");
    let d = Run::new(r#"{"d": "{{ vars.end - vars.start }}"}"#)
        .var("start", "100.5")
        .var("end", "103")
        .stored();
    assert_eq!(d.unwrap(), r#"{"d": 2.5}"#);
}

#[test]
fn b64encode_and_b64decode_round_trip_text() {
    assert_eq!(
        ok("{{ 'user:pa55' | b64encode }}", "{}"),
        r#""dXNlcjpwYTU1""#
    );
    assert_eq!(
        ok("{{ 'dXNlcjpwYTU1' | b64decode }}", "{}"),
        r#""user:pa55""#
    );
    assert_eq!(
        ok("{{ 'héllo' | b64encode | b64decode }}", "{}"),
        r#""héllo""#
    );
    assert_eq!(
        err("{{ '***' | b64decode }}", "{}").kind,
        ErrorKind::Evaluation
    );
}

#[test]
fn tojson_is_jinja2s_sorted_spaced_and_html_safe() {
    assert_eq!(
        ok("{{ result | tojson }}", r#"{"b": 1, "a": "<x>"}"#),
        r#""{\"a\": \"\\u003cx\\u003e\", \"b\": 1}""#
    );
}

#[test]
fn python_methods_work_on_strings_and_dicts() {
    assert_eq!(
        ok("{{ result.name.upper() }}", r#"{"name": "ada"}"#),
        r#""ADA""#
    );
    assert_eq!(
        ok("{{ result.name.startswith('a') }}", r#"{"name": "ada"}"#),
        "true"
    );
    assert_eq!(ok("{{ result.get('x', 3) }}", "{}"), "3");
    assert_eq!(
        ok("{{ result.items() | list }}", r#"{"a": 1}"#),
        r#"[["a", 1]]"#
    );
    assert_eq!(
        ok("{{ result.keys() | list }}", r#"{"a": 1, "b": 2}"#),
        r#"["a", "b"]"#
    );
    assert_eq!(ok("{{ ' x '.strip() }}", "{}"), r#""x""#);
    assert_eq!(ok("{{ 'a,b'.split(',') }}", "{}"), r#"["a", "b"]"#);
}

#[test]
fn common_filters_behave_like_jinja2() {
    assert_eq!(
        ok(
            "{{ result | map(attribute='id') | list }}",
            r#"[{"id": 1}, {"id": 2}]"#
        ),
        "[1, 2]"
    );
    assert_eq!(
        ok(
            "{{ result | selectattr('ok') | list | length }}",
            r#"[{"ok": true}, {"ok": false}]"#
        ),
        "1"
    );
    assert_eq!(ok("{{ result | join(',') }}", r#"["a", "b"]"#), r#""a,b""#);
    assert_eq!(ok("{{ result | sum }}", "[1, 2, 3]"), "6");
    assert_eq!(ok("{{ result.s | int + 1 }}", r#"{"s": "41"}"#), "42");
    assert_eq!(ok("{{ 3.7 | round }}", "{}"), "4.0");
    assert_eq!(ok("{{ result | first }}", "[5, 6]"), "5");
    assert_eq!(ok("{{ result | last }}", "[5, 6]"), "6");
    assert_eq!(ok("{{ 'Hello' | lower }}", "{}"), r#""hello""#);
    assert_eq!(ok("{{ 'a-b' | replace('-', '+') }}", "{}"), r#""a+b""#);
}

#[test]
fn text_prints_values_the_way_python_does() {
    assert_eq!(
        ok("flag={{ result.f }}", r#"{"f": true}"#),
        r#""flag=True""#
    );
    assert_eq!(ok("n={{ result.n }}", r#"{"n": null}"#), r#""n=None""#);
    assert_eq!(
        ok("d={{ result }}", r#"{"a": [1, "x"]}"#),
        r#""d={'a': [1, 'x']}""#
    );
    assert_eq!(
        ok("{{ result.f | string }}", r#"{"f": false}"#),
        r#""False""#
    );
    assert_eq!(ok("x={{ 0.5 }}", "{}"), r#""x=0.5""#);
}

// ---- errors ---------------------------------------------------------------------------

#[test]
fn errors_name_the_step_and_the_variable_and_show_the_template() {
    let e = Run::new(r#"{"user_id": "{{ vars.nope }}"}"#)
        .stored()
        .unwrap_err();
    assert!(e.message.contains("step \"fetch\""), "{}", e.message);
    assert!(e.message.contains("variable \"user_id\""), "{}", e.message);
    assert!(e.message.contains("{{ vars.nope }}"), "{}", e.message);
    let detail = e.detail.unwrap();
    assert!(
        detail.contains("{{ vars.nope }}") && detail.contains('^'),
        "{detail}"
    );
}

#[test]
fn syntax_errors_are_syntax_errors() {
    for t in ["{{ 1 + }}", "{% if %}", "{{ a", "{% for x in y %}"] {
        assert_eq!(err(t, "{}").kind, ErrorKind::TemplateSyntax, "{t}");
    }
}

#[test]
fn type_errors_and_unknown_filters_are_errors() {
    assert_eq!(err("{{ 'a' - 1 }}", "{}").kind, ErrorKind::Evaluation);
    assert_eq!(
        err("{{ 1 | no_such_filter }}", "{}").kind,
        ErrorKind::UnknownFunction
    );
    assert_eq!(
        err("{{ 'x'.no_such_method() }}", "{}").kind,
        ErrorKind::UnknownFunction
    );
}

#[test]
fn values_that_are_not_json_are_errors() {
    assert_eq!(err("{{ range }}", "{}").kind, ErrorKind::NotJson);
    assert_eq!(
        err("{{ 1e308 * 10 }}", "{}").kind,
        ErrorKind::NumberOutOfRange
    );
}

#[test]
fn error_messages_never_echo_variable_values() {
    let e = Run::new(r#"{"x": "{{ vars.secret + 1 }}"}"#)
        .var("secret", r#""hunter2-password""#)
        .stored()
        .unwrap_err();
    let all = format!("{} {:?} {:?}", e.message, e.detail, e.hint);
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn failed_arithmetic_names_types_never_the_operands_in_either_mode() {
    let block = r#"{"q": "{{ vars.pin // vars.zero }}", "m": "{{ vars.pin * vars.pin * vars.pin * vars.pin * vars.pin }}", "n": "{{ vars.pin % vars.zero }}"}"#;
    let run = |skip: bool| {
        let run = Run::new(block).var("pin", "987654321").var("zero", "0");
        let run = if skip { run.skip_errors() } else { run };
        run.outcomes()
    };
    let mut errors = Vec::new();
    for skip in [false, true] {
        match run(skip) {
            Err(e) => errors.push(e),
            Ok(outcomes) => errors.extend(outcomes.into_iter().filter_map(|(_, o)| o.err())),
        }
    }
    assert!(errors.len() >= 4, "{errors:?}");
    for e in errors {
        let all = format!("{} {:?} {:?}", e.message, e.detail, e.hint);
        assert!(all.contains("unable to calculate"), "{all}");
        assert!(!all.contains("987654321"), "{all}");
    }
}

#[test]
fn skip_mode_keeps_going_and_reports_each_failure() {
    let out = Run::new(r#"{"good": "{{ 1 }}", "bad": "{{ vars.nope }}", "later": "{{ vars.good + 1 }}", "c1": "{{ vars.c2 }}", "c2": "{{ vars.c1 }}"}"#)
        .skip_errors()
        .outcomes()
        .unwrap();
    let find = |n: &str| out.iter().find(|(name, _)| name == n).unwrap().1.clone();
    assert_eq!(find("good").unwrap(), "1");
    assert_eq!(find("later").unwrap(), "2");
    assert_eq!(find("bad").unwrap_err().kind, ErrorKind::Undefined);
    assert_eq!(find("c1").unwrap_err().kind, ErrorKind::Cycle);
    assert_eq!(find("c2").unwrap_err().kind, ErrorKind::Cycle);
}

// ---- limits: nothing hangs, nothing crashes -------------------------------------------

#[test]
fn endless_loops_run_out_of_fuel() {
    let t = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    assert_eq!(err(t, "{}").kind, ErrorKind::TooComplex);
}

#[test]
fn memory_bombs_are_refused_before_allocating() {
    assert_eq!(err("{{ 'a' * 10**12 }}", "{}").kind, ErrorKind::TooComplex);
    assert_eq!(err("{{ [1] * 10**12 }}", "{}").kind, ErrorKind::TooComplex);
    assert_eq!(
        err("{{ range(10**12) | list }}", "{}").kind,
        ErrorKind::TooComplex
    );
    let doubling = "{% set ns = namespace(s='a' * 1000000) %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}";
    assert_eq!(err(doubling, "{}").kind, ErrorKind::TooComplex);
}

#[test]
fn recursion_is_bounded() {
    let t = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
    assert_eq!(err(t, "{}").kind, ErrorKind::TooComplex);
    let nested = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    let e = err(&nested, "{}");
    assert!(
        matches!(e.kind, ErrorKind::TemplateSyntax | ErrorKind::TooComplex),
        "{e:?}"
    );
}

#[test]
fn deep_list_building_survives_and_storing_it_is_refused() {
    // 100,000 levels of nesting, built within a raised fuel limit: minijinja drops and measures
    // it recursively, which the evaluation stack (sized from the fuel) holds; storing it hits
    // the depth limit.
    let build = "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}";
    let generous = Limits {
        fuel: Some(1_000_000),
        ..Limits::default()
    };
    let first = |template: String| {
        let config = serde_json::json!({ "v": template }).to_string();
        let out = Run::new(&config).limits(generous).outcomes().unwrap();
        out.into_iter().next().map(|(_, v)| v).expect("one outcome")
    };
    assert_eq!(
        first(format!("{build}{{{{ ns.x | length }}}}")).unwrap(),
        r#""1""#
    );
    for shown in ["{{ ns.x }}", "x{{ ns.x }}"] {
        assert_eq!(
            first(format!("{build}{shown}")).unwrap_err().kind,
            ErrorKind::TooComplex
        );
    }
    // At the default fuel the same loop runs out of fuel instead.
    assert_eq!(
        err(&format!("{build}{{{{ ns.x | length }}}}"), "{}").kind,
        ErrorKind::TooComplex
    );
}

#[test]
fn rendered_text_over_the_size_limit_is_an_error() {
    let limits = Limits {
        max_value_bytes: 1000,
        ..Limits::default()
    };
    let e = Run::new(r#"{"big": "x{{ 'a' * 2000 }}"}"#)
        .limits(limits)
        .stored()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ValueTooLarge);
}

#[test]
fn fuel_limit_is_configurable() {
    let tight = Limits {
        fuel: Some(50),
        ..Limits::default()
    };
    let t = r#"{"x": "{% for i in range(1000) %}{{ i }}{% endfor %}"}"#;
    assert_eq!(
        Run::new(t).limits(tight).stored().unwrap_err().kind,
        ErrorKind::TooComplex
    );
    assert!(Run::new(t).stored().is_ok());
}

#[test]
fn invalid_configs_are_argument_errors() {
    for c in ["[]", "\"x\"", "3"] {
        assert_eq!(
            Run::new(c).stored().unwrap_err().kind,
            ErrorKind::InvalidArgument,
            "{c}"
        );
    }
    assert_eq!(Run::new("{}").stored().unwrap(), "{}");
}

#[test]
fn nul_characters_are_refused_in_every_form() {
    assert_eq!(err("{{ '\\u0000' }}", "{}").kind, ErrorKind::NulCharacter);
    assert_eq!(err("x{{ '\\u0000' }}y", "{}").kind, ErrorKind::NulCharacter);
    assert_eq!(err("{{ ['\\u0000'] }}", "{}").kind, ErrorKind::NulCharacter);
    assert_eq!(
        err("{{ {'\\u0000': 1} }}", "{}").kind,
        ErrorKind::NulCharacter
    );
}

#[test]
fn range_behaves_like_jinja2s() {
    assert_eq!(ok("{{ range(3) | list }}", "{}"), "[0, 1, 2]");
    assert_eq!(ok("{{ range(1, 7, 2) | list }}", "{}"), "[1, 3, 5]");
    assert_eq!(ok("{{ range(5, 0, -2) | list }}", "{}"), "[5, 3, 1]");
    assert_eq!(ok("{{ range(0) | list }}", "{}"), "[]");
    assert_eq!(ok("{{ range(3, 1) | list }}", "{}"), "[]");
    assert_eq!(ok("{{ range(4) | length }}", "{}"), "4");
    assert_eq!(ok("{{ range(10)[2] }}", "{}"), "2");
    assert_eq!(
        ok("{% for i in range(3) %}{{ i }}{% endfor %}", "{}"),
        r#""012""#
    );
    assert_eq!(
        err("{{ range(1, 2, 0) | list }}", "{}").kind,
        ErrorKind::Evaluation
    );
    assert_eq!(
        err("{{ range(100001) | list }}", "{}").kind,
        ErrorKind::TooComplex
    );
    assert_eq!(ok("{{ range(100000) | length }}", "{}"), "100000");
}

#[test]
fn int_and_float_filters_behave_like_jinja2s() {
    assert_eq!(ok("{{ 'abc' | int }}", "{}"), "0");
    assert_eq!(ok("{{ 'abc' | int(7) }}", "{}"), "7");
    assert_eq!(ok("{{ '3.7' | int }}", "{}"), "3");
    assert_eq!(ok("{{ ' 42 ' | int }}", "{}"), "42");
    assert_eq!(ok("{{ '1_000' | int }}", "{}"), "1000");
    assert_eq!(ok("{{ '0x1A' | int }}", "{}"), "0");
    assert_eq!(ok("{{ '0x1A' | int(base=16) }}", "{}"), "26");
    assert_eq!(ok("{{ none | int }}", "{}"), "0");
    assert_eq!(ok("{{ true | int }}", "{}"), "1");
    assert_eq!(ok("{{ -3.9 | int }}", "{}"), "-3");
    assert_eq!(
        ok("{{ '12345678901234567890123' | int }}", "{}"),
        "12345678901234567890123"
    );
    assert_eq!(ok("{{ 'n/a' | float }}", "{}"), "0.0");
    assert_eq!(ok("{{ '2.5' | float }}", "{}"), "2.5");
    assert_eq!(ok("{{ 3 | float }}", "{}"), "3.0");
    assert_eq!(
        err("{{ vars.nope | int }}", "{}").kind,
        ErrorKind::Undefined
    );
}

#[test]
fn strings_and_dicts_are_sequences_as_in_jinja2() {
    assert_eq!(
        ok(
            "{{ ['abc' is sequence, {} is sequence, [] is sequence, 1 is sequence] }}",
            "{}"
        ),
        "[true, true, true, false]"
    );
}

#[test]
fn line_endings_are_normalized_like_jinja2() {
    assert_eq!(ok("a\r\nb={{ 1 }}\r\n", "{}"), r#""a\nb=1""#);
}

#[test]
fn zero_padded_integer_literals_are_syntax_errors_as_in_python() {
    assert_eq!(err("{{ 007 }}", "{}").kind, ErrorKind::TemplateSyntax);
    assert_eq!(ok("{{ 0 }}", "{}"), "0");
    assert_eq!(ok("{{ 10 + 0.5 }}", "{}"), "10.5");
    assert_eq!(ok("{{ '007' }}", "{}"), r#""007""#);
}

#[test]
fn python_percent_formatting_of_string_literals_works() {
    assert_eq!(
        ok("{{ '%s rows' % result.count }}", r#"{"count": 4}"#),
        r#""4 rows""#
    );
    assert_eq!(
        ok("{{ '%.2f' % result.price }}", r#"{"price": 3.14159}"#),
        r#""3.14""#
    );
    assert_eq!(
        ok(
            "{{ '%s-%s' % (result.a, result.b) }}",
            r#"{"a": 1, "b": 2}"#
        ),
        r#""1-2""#
    );
    assert_eq!(ok("{{ '%d%%' % 50 }}", "{}"), r#""50%""#);
    assert_eq!(ok("{{ '%05d' % result.n }}", r#"{"n": 42}"#), r#""00042""#);
    assert_eq!(
        ok("{{ '%s' % result.name | upper }}", r#"{"name": "ada"}"#),
        r#""ADA""#
    );
    assert_eq!(
        ok("id={{ 'x%sy' % result.items[0] }}!", r#"{"items": [7]}"#),
        r#""id=x7y!""#
    );
    assert_eq!(ok("{{ 'a' ~ '%s' % 1 ~ 'b' }}", "{}"), r#""a1b""#);
    // Not a string literal on the left: the ordinary remainder.
    assert_eq!(ok("{{ 7 % 3 }}", "{}"), "1");
    assert_eq!(ok("{{ result.n % 5 }}", r#"{"n": 42}"#), "2");
}

/// Found by the fuzzer: a template whose lexing fails used to make the zero-padded-literal
/// check loop forever (the tokenizer repeats its error).
#[test]
fn a_lexing_error_is_a_syntax_error_not_a_hang() {
    let t = "{{ output.data.rows[0].facility_mapping_id if (output.data.row_noetl_vars#270t(0) | int) > 0 else 1 }}";
    assert_eq!(err(t, "{}").kind, ErrorKind::TemplateSyntax);
    assert_eq!(
        err("{{ 'unterminated }}", "{}").kind,
        ErrorKind::TemplateSyntax
    );
    assert_eq!(err("{{ a ` b }}", "{}").kind, ErrorKind::TemplateSyntax);
}

/// Found by the fuzzer: error spans refer to the text the engine compiled, which may differ
/// from the template as written (trimmed, `%`-formatting rewritten, line endings), and must
/// never be cut inside a character.
#[test]
fn error_spans_never_cut_characters() {
    for t in [
        "{{ 'ͅ' % (1 + ) }}",
        "  {{ 'é' % x.y | }}",
        "{{ 'ää' %}}",
        "\r\n{{ 'ü' % ( }}\r\n",
        "{{ ؄ }}",
    ] {
        let e = err(t, "{}");
        assert!(e.detail.is_some(), "{t}: {e:?}");
    }
}

/// `[[[…]]]` nested `depth` levels, built without recursion (serde_json's parser stops at 128).
fn nested(depth: usize) -> DocRef {
    let mut v = serde_json::Value::Array(Vec::new());
    for _ in 0..depth {
        v = serde_json::Value::Array(vec![v]);
    }
    noetl_vars_core::doc::SerdeDoc::new(v)
}

fn with_item(template: &str, item: DocRef) -> Result<String, Error> {
    let scope = Arc::new(Scope::new(
        1,
        "s",
        None,
        None,
        vec![
            ("item".to_string(), item.clone()),
            ("other".to_string(), item),
        ],
        VarsState::new(Arc::new(noetl_vars_core::context::EmptyStore)),
    ));
    render::evaluate_one(template, &scope, &Limits::default()).map(|v| v.to_json())
}

#[test]
fn deep_documents_compare_equal_to_themselves_at_any_depth() {
    for depth in [10, 600, 5_000] {
        let item = nested(depth);
        assert_eq!(
            with_item("{{ item == other }}", item.clone()).unwrap(),
            "true",
            "{depth}"
        );
        assert_eq!(
            with_item("{{ item in [other] }}", item.clone()).unwrap(),
            "true",
            "{depth}"
        );
        assert_eq!(
            with_item("{{ item != other }}", item.clone()).unwrap(),
            "false",
            "{depth}"
        );
        assert_eq!(
            with_item("{{ [item, other] | unique | length }}", item).unwrap(),
            "1",
            "{depth}"
        );
    }
    assert_eq!(
        with_item("{{ item == other[0] }}", nested(600)).unwrap(),
        "false"
    );
}

#[test]
fn deep_documents_print_without_failing() {
    let item = nested(600);
    let expected = format!("{}{}", "[".repeat(601), "]".repeat(601));
    assert_eq!(
        with_item("{{ ('' ~ item) | length }}", item.clone()).unwrap(),
        expected.len().to_string()
    );
    let shown = with_item("{{ item | pprint }}", item.clone()).unwrap();
    assert!(shown.contains(&"[".repeat(601)), "{shown}");
    assert_eq!(
        with_item("x{{ item }}", item).unwrap(),
        format!("\"x{expected}\"")
    );
}
