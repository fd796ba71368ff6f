#!/usr/bin/env bash
# The differential corpus (tests/corpus/cases.json, expected values computed by Jinja2 3.1
# with the contract's typing rules) through the real extension. Uses PGHOST/PGPORT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS noetl_vars_corpus" -c "CREATE DATABASE noetl_vars_corpus"
out=$(CORPUS_FILE="$here/corpus/cases.json" psql -X -d noetl_vars_corpus -f "$here/corpus/check.sql")
psql -X -q -d postgres -c "DROP DATABASE noetl_vars_corpus"
echo "$out"
summary=$(echo "$out" | awk 'NR==3 {print $1, $3}')
read -r passed cases <<<"$summary"
if [ "$passed" = "$cases" ]; then
    echo "ok   corpus: all $cases cases as Jinja2 (and the contract) say"
else
    echo "FAIL corpus: $passed of $cases cases"
    exit 1
fi
