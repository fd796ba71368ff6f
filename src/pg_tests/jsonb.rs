//! jsonb containers read in place (src/storage/jsonb/container.rs) against PostgreSQL's own
//! readers (`jsonb_each`, `->`): every member and element of documents that reach past the
//! 32-child offset stride, hold every kind of value at unaligned offsets, and keys of many
//! lengths; documents whose root is a scalar.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use noetl_vars_core::doc::DocRef;
    use noetl_vars_core::output::OutValue;

    use crate::storage::jsonb::{self, Lifetime, PgJsonb};

    /// A value of kind `i % 9`, of a size that moves the next child's offset around.
    fn value(i: usize) -> String {
        match i % 9 {
            0 => format!("\"{}\"", "s".repeat(i % 7)),
            1 => format!("{}.5", i as i64 * -3),
            2 => "12345678901234567890123".to_string(),
            3 => "true".to_string(),
            4 => "false".to_string(),
            5 => "null".to_string(),
            6 => format!("{{\"a\": [{i}, \"é\"], \"b\": {{}}}}"),
            7 => format!("[{i}, \"x\", null, []]"),
            _ => "\"日本語\"".to_string(),
        }
    }

    fn documents() -> Vec<String> {
        let object = |n: usize, key: &dyn Fn(usize) -> String| {
            let members: Vec<String> = (0..n)
                .map(|i| format!("\"{}\": {}", key(i), value(i)))
                .collect();
            format!("{{{}}}", members.join(", "))
        };
        let array = |n: usize| {
            let items: Vec<String> = (0..n).map(value).collect();
            format!("[{}]", items.join(", "))
        };
        vec![
            object(100, &|i| format!("k{i}")),
            object(45, &|i| "é".repeat(i % 13) + &"x".repeat(i / 13)),
            object(3, &|i| ["", "a", "ab"][i].to_string()),
            "{}".to_string(),
            array(70),
            array(1),
            "[]".to_string(),
        ]
    }

    /// The text PostgreSQL writes for a node the extension read, copied into a datum.
    fn shown(node: &DocRef) -> String {
        jsonb::build(&OutValue::Doc(node.clone())).json_text()
    }

    #[pg_test]
    fn members_and_elements_read_in_place_are_postgresql_s() {
        for text in documents() {
            let doc = PgJsonb::parse(&text);
            let life = Lifetime::new();
            let node = doc.doc(&life);
            members_are_postgresql_s(&text, doc, &node);
            elements_are_postgresql_s(&text, &node);
        }
    }

    /// PostgreSQL's jsonb_each (the document's order) and `->`, member by member, against the
    /// nodes and against PgJsonb's own members and member look-up.
    fn members_are_postgresql_s(text: &str, doc: PgJsonb, node: &DocRef) {
        let theirs = if text.starts_with('{') {
            Spi::get_one_with_args::<String>(
                "SELECT coalesce(string_agg(key || '=' || value::text, E'\\n' ORDER BY n), '') \
                 FROM jsonb_each($1::jsonb) WITH ORDINALITY AS e(key, value, n)",
                &[text.into()],
            )
            .expect("query")
            .expect("a text")
        } else {
            String::new()
        };
        let joined = |pairs: Vec<String>| pairs.join("\n");
        let ours = node.entries();
        let listed = ours.iter().map(|(k, v)| format!("{k}={}", shown(v)));
        assert_eq!(joined(listed.collect()), theirs, "{text}");
        let members = doc.members();
        let listed = members
            .iter()
            .map(|(k, v)| format!("{k}={}", v.json_text()));
        assert_eq!(joined(listed.collect()), theirs, "{text}");
        assert_eq!(node.keys().len(), ours.len(), "{text}");
        for (key, value) in &ours {
            let expected = Spi::get_one_with_args::<String>(
                "SELECT ($1::jsonb -> $2)::text",
                &[text.into(), key.as_str().into()],
            )
            .expect("query")
            .expect("a member");
            assert_eq!(shown(value), expected, "{text}: {key}");
            let found = node.get(key).expect("a key of the object");
            assert_eq!(shown(&found), expected, "{text}: get {key}");
            let searched = doc.member(key).expect("a key of the object");
            assert_eq!(searched.json_text(), expected, "{text}: {key}");
        }
        assert!(doc.member("no such key").is_none());
        assert!(node.get("no such key").is_none());
        assert!(node.get("").is_none() || text.contains("\"\":"));
    }

    /// Elements, against `->`.
    fn elements_are_postgresql_s(text: &str, node: &DocRef) {
        if !text.starts_with('[') {
            return;
        }
        let len =
            Spi::get_one_with_args::<i32>("SELECT jsonb_array_length($1::jsonb)", &[text.into()])
                .expect("query")
                .expect("a length");
        for i in 0..len as usize {
            let expected = Spi::get_one_with_args::<String>(
                "SELECT ($1::jsonb -> $2)::text",
                &[text.into(), (i as i32).into()],
            )
            .expect("query")
            .expect("an element");
            let element = node.at(i).expect("an element");
            assert_eq!(shown(&element), expected, "{text}: [{i}]");
        }
        assert!(node.at(len as usize).is_none());
    }

    #[pg_test]
    fn scalar_documents_read_in_place_are_postgresql_s() {
        for text in [
            "5",
            "-0.5e-3",
            "12345678901234567890123",
            "\"é s\"",
            "\"\"",
            "true",
            "false",
            "null",
        ] {
            let doc = PgJsonb::parse(text);
            let life = Lifetime::new();
            let expected =
                Spi::get_one_with_args::<String>("SELECT $1::jsonb::text", &[text.into()])
                    .expect("query")
                    .expect("a text");
            assert_eq!(shown(&doc.doc(&life)), expected, "{text}");
            assert!(
                doc.members().is_empty() && doc.member("x").is_none(),
                "{text}"
            );
            assert_eq!(doc.sealed_text(), None, "{text}");
        }
    }
}
