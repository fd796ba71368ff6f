#!/usr/bin/env bash
# 100,000 render_vars calls in one session leave the backend's memory flat: its private memory
# (RssAnon: PostgreSQL's memory and Rust's heap alike, not shared buffers) is sampled after
# each batch of 10,000 calls and may not grow by more than 2 MB from the second batch
# (template cache warm) to the last. Calls run 100 per transaction, as steps commit.
# Then 300 distinct 1 MB templates in one session: the template cache is bounded in bytes
# (noetl_vars.template_cache_memory, 64 MB), so private memory may not grow by more than
# 200 MB (unbounded, 0.2.0 grew by 1.2 GB). Uses the cluster in PGHOST/PGPORT.
set -euo pipefail
db=noetl_vars_memory
BATCHES=${BATCHES:-10}
PER_BATCH=${PER_BATCH:-10000}
PER_STATEMENT=100
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION noetl_vars" -c "SELECT noetl.set_vars(42, '{\"base\": 1}')" >/dev/null
script() {
    echo 'SELECT pg_backend_pid() AS pid \gset'
    echo '\setenv BACKEND_PID :pid'
    for _ in $(seq "$BATCHES"); do
        for _ in $(seq $((PER_BATCH / PER_STATEMENT))); do
            cat <<SQL
SELECT count(noetl.render_vars(42, 'step',
        jsonb_build_object('data', jsonb_build_object('i', g, 'rows', jsonb_build_array(g, g + 1))),
        '{"i": "{{ result.i }}", "label": "row-{{ result.i }} of {{ result.rows | length }}",
          "counter": "{{ vars.counter | default(0) + 1 }}", "joined": "{{ result.rows | join(\",\") }}",
          "base": "{{ vars.base }}"}'))
FROM generate_series(1, $PER_STATEMENT) g \\g /dev/null
SQL
        done
        echo "\\! awk '/RssAnon/ {print \$2}' /proc/\$BACKEND_PID/status"
    done
}
rss=$(script | psql -X -At -v ON_ERROR_STOP=1 -d $db)
counter=$(psql -X -At -d $db -c "SELECT noetl.get_var(42, 'counter')")
psql -X -q -d postgres -c "DROP DATABASE $db"
echo "backend private memory (RssAnon, kB) after each batch of $PER_BATCH calls: $(echo $rss)"
second=$(echo "$rss" | sed -n 2p)
last=$(echo "$rss" | tail -1)
total=$((BATCHES * PER_BATCH))
if [ "$counter" != "$total" ]; then
    echo "FAIL memory: the counter says $counter calls, want $total"; exit 1
fi
if [ $((last - second)) -le 2048 ]; then
    echo "ok   $total render_vars calls in one session: memory flat ($((last - second)) kB from batch 2 to $BATCHES)"
else
    echo "FAIL memory grew by $((last - second)) kB from batch 2 to $BATCHES"; exit 1
fi

psql -X -q -d postgres -c "CREATE DATABASE $db"
psql -X -q -d $db -c "CREATE EXTENSION noetl_vars"
big=$(psql -X -At -d $db <<'SQL' | tail -2
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! awk '/RssAnon/ {print $2}' /proc/$BACKEND_PID/status
SELECT count(noetl.render_vars(43, 'step', '{}',
        jsonb_build_object('v', '{# ' || g || repeat('x', 1024 * 1024) || ' #}{{ 1 }}')))
FROM generate_series(1, 300) g \g /dev/null
\! awk '/RssAnon/ {print $2}' /proc/$BACKEND_PID/status
SQL
)
psql -X -q -d postgres -c "DROP DATABASE $db"
before=$(echo "$big" | sed -n 1p); after=$(echo "$big" | sed -n 2p)
if [ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -le 204800 ]; then
    echo "ok   300 distinct 1 MB templates: private memory grew by $(((after - before) / 1024)) MB (the cache is bounded in bytes)"
else
    echo "FAIL 300 distinct 1 MB templates: private memory went from ${before:-?} to ${after:-?} kB"; exit 1
fi
