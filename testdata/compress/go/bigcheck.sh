#!/usr/bin/env bash
# Compare our Go-exact gzip with real Go on large files, every level; not part of `cargo test`.
#
#   testdata/compress/go/bigcheck.sh FILE...      (e.g. a Debian minbase rootfs tar)
#
# Prints one line per file and level: size, sha256 (16 hex digits), Go's and our user CPU time.
# Exits 1 if any output differs. Builds gogzip with $GO (default `go`) and our example in release.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
GO="${GO:-go}"
LEVELS="${LEVELS:--2 -1 0 1 2 3 4 5 6 7 8 9}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/gogzip" && GOFLAGS=-mod=mod GOCACHE="$work/gocache" "$GO" build -o "$work/gogzip" .)
(cd "$repo" && cargo build -q --release -p layerproof-compress --example go_gzip)
ours="${CARGO_TARGET_DIR:-$repo/target}/release/examples/go_gzip"
echo "# $("$work/gogzip" -version) vs layerproof compress::go; $(date -u +%Y-%m-%d)"
printf '%-28s %5s %12s %-64s %8s %8s %s\n' file level gzip_bytes sha256 go_s ours_s result
fail=0
for f in "$@"; do
  for l in $LEVELS; do
    tg=$( { /usr/bin/time -f %U "$work/gogzip" -level "$l" < "$f" > "$work/go.gz"; } 2>&1 )
    to=$( { /usr/bin/time -f %U "$ours" -level "$l" < "$f" > "$work/ours.gz"; } 2>&1 )
    if cmp -s "$work/go.gz" "$work/ours.gz"; then r=identical; else r=DIFFERENT; fail=1; fi
    printf '%-28s %5s %12s %-64s %8s %8s %s\n' "$(basename "$f") ($(stat -c %s "$f"))" "$l" \
      "$(stat -c %s "$work/go.gz")" "$(sha256sum < "$work/go.gz" | cut -c1-64)" "$tg" "$to" "$r"
  done
done
exit $fail
