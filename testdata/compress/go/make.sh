#!/usr/bin/env bash
# Regenerate the Go compress/gzip fixtures: expected.tsv (+ small outputs in out/).
#
#   testdata/compress/go/make.sh            # with the machine's `go` (Debian golang-go)
#   GO=/usr/lib/go-1.24/bin/go testdata/compress/go/make.sh --check
#                                           # another Go: compare against expected.tsv only
#
# Inputs are not committed (except real-tar.tar.xz): they are generated deterministically by
# crates/compress/tests/it/go_gzip/inputs.rs, run here through the `go_gzip` example. Every input is
# compressed by gogzip/ (Go's gzip.NewWriterLevel, zero Header, 32 KiB writes) at each level;
# Go's own chunk independence is checked on the way (writes of 1, 7 and 1 MiB bytes must give
# the same bytes as 32 KiB writes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
GO="${GO:-go}"
check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$here/gogzip" && GOFLAGS=-mod=mod GOCACHE="$work/gocache" "$GO" build -o "$work/gogzip" .)
gover="$("$work/gogzip" -version)"

# real-tar.tar.xz is a committed input: a small real tar of Debian bookworm files. It was made
# once with the command below (file contents depend on the machine, so it is not remade here).
if [[ ! -f "$here/real-tar.tar.xz" ]]; then
  (cd / && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=gnu \
      -cf - usr/lib/python3.11/email usr/lib/python3.11/json usr/lib/python3.11/asyncio usr/bin/tar) \
    | xz -9e > "$here/real-tar.tar.xz"
fi

mkdir -p "$work/in"
(cd "$repo" && cargo run -q --release -p layerproof-compress --example go_gzip -- inputs "$work/in")
xz -dc "$here/real-tar.tar.xz" > "$work/in/real-tar"

# Levels -2, 0, 1, 6 and 9 for every input; also -1 (Docker's DefaultCompression, the same
# bytes as 6) for the real tar and the mixed stream; all twelve for a few matcher-heavy inputs.
# (The test runs unoptimised in `cargo test`, so the set is kept to what it can do quickly.)
all_levels="-2 -1 0 1 2 3 4 5 6 7 8 9"
base_levels="-2 0 1 6 9"
levels_for() {
  case "$1" in
    text-1m|far-repeats|runs-500k|text-65798|text-131073) echo "$all_levels" ;;
    real-tar|mixed-1m) echo "-1 $base_levels" ;;
    *) echo "$base_levels" ;;
  esac
}

tsv="$work/expected.tsv"
{
  echo "# Go compress/gzip outputs; made by testdata/compress/go/make.sh with $gover on $(date -u +%Y-%m-%d)"
  echo "# input	input_len	input_sha256	level	gzip_len	gzip_sha256"
} > "$tsv"
mkdir -p "$work/out"
for f in $(cd "$work/in" && ls | LC_ALL=C sort); do
  in="$work/in/$f"
  ilen=$(stat -c %s "$in")
  isha=$(sha256sum < "$in" | cut -d' ' -f1)
  for l in $(levels_for "$f"); do
    "$work/gogzip" -level "$l" < "$in" > "$work/o.gz"
    if [[ $f == slide-corner ]]; then
      # Go's own corner: 65 535-byte writes slide the window early and lose the match
      # 32 768 bytes back, so that output differs; 32 KiB writes (Docker's io.Copy) are the
      # reference, and 1 MiB writes agree with them.
      if "$work/gogzip" -level "$l" -chunk 65535 < "$in" | cmp -s - "$work/o.gz" && (( l >= 4 )); then
        echo "note: $f level $l: Go's 65535-byte writes did not hit the corner" >&2
      fi
      "$work/gogzip" -level "$l" -chunk 1048576 < "$in" | cmp -s - "$work/o.gz" \
        || { echo "Go is chunk-dependent beyond the known corner: $f level $l" >&2; exit 1; }
    else
    for c in 1 7 1048576; do
      if [[ $c -eq 1 && $ilen -gt 3000000 ]]; then continue; fi
      "$work/gogzip" -level "$l" -chunk "$c" < "$in" | cmp -s - "$work/o.gz" \
        || { echo "Go itself is chunk-dependent: $f level $l chunk $c" >&2; exit 1; }
    done
    fi
    olen=$(stat -c %s "$work/o.gz")
    osha=$(sha256sum < "$work/o.gz" | cut -d' ' -f1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$ilen" "$isha" "$l" "$olen" "$osha" >> "$tsv"
    # Keep small outputs whole, so a failing test can show the first differing byte.
    if (( olen <= 8192 )); then cp "$work/o.gz" "$work/out/$f.L$l.gz"; fi
  done
done

if (( check_only )); then
  diff <(grep -v '^#' "$here/expected.tsv") <(grep -v '^#' "$tsv") \
    && echo "$gover: identical to expected.tsv"
  exit
fi
cp "$tsv" "$here/expected.tsv"
rm -rf "$here/out"
cp -r "$work/out" "$here/out"
echo "wrote $(grep -vc '^#' "$here/expected.tsv") cases with $gover"
