#!/bin/sh
# Live check with real engines and a real registry: build examples/tiny with Docker 20.10
# (classic) and Docker 26.1 (BuildKit), push both to the loopback registry, and verify each
# pushed image with layerproof — the pushed gzip blobs must be reproduced at level blob. Then
# `docker save` both and verify the archives: their uncompressed layers must be reproduced at
# level blob by the streamed comparison (headers read, bodies skipped).
# Needs `cargo xtask engines` (run by .ci/run). Exit non-zero on any other verdict.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/../engines.sh"
H20=$D20_HOST
H26=$D26_HOST
REG=${REGISTRY:-127.0.0.1:5000}
LP=${LAYERPROOF:-"cargo run -q --release -p layerproof-cli --"}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/Dockerfile" "$HERE/rootfs.tar.gz" "$WORK/"
tag=live-$(date +%s)
DOCKER_HOST=$H20 DOCKER_BUILDKIT=0 "$D20" build -q --no-cache -t "$REG/layerproof-live/tiny:20.10-$tag" "$WORK" >/dev/null
DOCKER_HOST=$H20 "$D20" push -q "$REG/layerproof-live/tiny:20.10-$tag" >/dev/null
DOCKER_HOST=$H26 "$D26" buildx build -q --no-cache --load -t "$REG/layerproof-live/tiny:26.1-$tag" "$WORK" >/dev/null
DOCKER_HOST=$H26 "$D26" push -q "$REG/layerproof-live/tiny:26.1-$tag" >/dev/null
cd "$ROOT"
for t in "20.10-$tag" "26.1-$tag"; do
  out=$($LP verify --dockerfile "$HERE/Dockerfile" --image "docker://$REG/layerproof-live/tiny:$t" --no-cache --format json)
  verdict=$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verdict"], r["level"])')
  echo "verify-live: $REG/layerproof-live/tiny:$t -> $verdict"
  [ "$verdict" = "reproduced blob" ] || { printf '%s\n' "$out"; exit 1; }
done
DOCKER_HOST=$H20 "$D20" save -o "$WORK/20.10.tar" "$REG/layerproof-live/tiny:20.10-$tag"
DOCKER_HOST=$H26 "$D26" save -o "$WORK/26.1.tar" "$REG/layerproof-live/tiny:26.1-$tag"
for v in 20.10 26.1; do
  out=$($LP verify --dockerfile "$HERE/Dockerfile" --image "docker-archive:$WORK/$v.tar" --format json)
  verdict=$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["layers"][0]; print(r["verdict"], r["level"], next(c["compared"] for c in l["candidates"] if c["outcome"] == "match"))')
  echo "verify-live: docker save of Docker $v -> $verdict"
  [ "$verdict" = "reproduced blob streamed" ] || { printf '%s\n' "$out"; exit 1; }
done
