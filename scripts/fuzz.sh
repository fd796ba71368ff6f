#!/usr/bin/env bash
# Fuzzes the PostgreSQL-free core with cargo-fuzz (libFuzzer + AddressSanitizer, nightly Rust):
#   ./scripts/fuzz.sh [seconds per target, default 600]
# Two targets: `block` (an arbitrary JSON vars block and result) and `render` (an arbitrary
# template with arbitrary result, context and variables). Each starts from the committed corpus
# (fuzz/corpus, fuzz/seeds, fuzz/regressions) and grows fuzz/corpus-local, which stays out of git.
# A panic, a hang (over 10 s) or memory over 4 GB stops the run and leaves the input in
# fuzz/artifacts; fix the cause and copy the input to fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
if ! rustup toolchain list | grep -q nightly; then
    rustup toolchain install nightly --profile minimal
fi
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
here=$(pwd)
for target in block render; do
    mkdir -p "corpus-local/$target"
    extra=()
    [ "$target" = render ] && extra=(-dict="$here/render.dict")
    dirs=("$here/corpus-local/$target" "$here/corpus/$target" "$here/regressions/$target")
    [ -d "$here/seeds/$target" ] && dirs+=("$here/seeds/$target")
    echo "==> fuzzing $target for $seconds s"
    cargo +nightly fuzz run "$target" "${dirs[@]}" -- -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 "${extra[@]}"
done
