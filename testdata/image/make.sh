#!/bin/sh
# Regenerate the image fixtures in testdata/image/ with real Docker engines.
#
# Needs the engines of /work/shared/tools/engines.sh (or `cargo xtask engines`):
#   Docker 20.10 at unix:///tmp/dockerd/docker.sock (client /usr/bin/docker)
#   Docker 26.1 extracted under /tmp/d26/root (client /tmp/d26/root/usr/bin/docker, buildx plugin)
# and starts (then stops) a third Docker 26.1 daemon with the containerd image store, because
# BuildKit's OCI exporter and multi-platform builds need it.
#
# Writes, next to this script:
#   docker-20.10.tar      `docker save` of a classic-builder image, Docker 20.10 (legacy layout)
#   docker-26.1.tar       `docker save` of a BuildKit image, Docker 26.1, graphdriver store
#                         (OCI layout inside the tar + manifest.json, uncompressed layers)
#   docker-26.1-containerd.tar  `docker save`, Docker 26.1, containerd store (gzip layers,
#                         index → manifest, attestation-free)
#   docker-26.1-containerd-classic.tar  the same with the classic builder: an OCI manifest whose
#                         layers carry Docker media types (as in 2023 ubuntu artifacts)
#   oci-index.tar         `docker buildx build --platform linux/amd64,linux/arm64 -o type=oci`
#                         (an oci-archive holding a two-platform OCI index)
#   oci-index/            the same archive unpacked: an OCI layout directory
#   PROVENANCE.json       engine versions, commands, date and sha256 of every file
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
D20=/usr/bin/docker
D26=/tmp/d26/root/usr/bin/docker
S20=unix:///tmp/dockerd/docker.sock
S26=unix:///tmp/d26/docker.sock
WORK=$(mktemp -d)
CTR=/tmp/layerproof-fixture-dockerd
trap 'if [ -f $CTR/pid ]; then kill "$(cat $CTR/pid)" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

# The build context: a tiny rootfs tarball and one extra file, FROM scratch.
mkdir -p "$WORK/ctx/r/etc"
printf 'layerproof fixture\n' > "$WORK/ctx/r/etc/motd"
printf 'hello\n' > "$WORK/ctx/hello.txt"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -C "$WORK/ctx/r" -cf "$WORK/ctx/rootfs.tar" etc
rm -rf "$WORK/ctx/r"
touch -d @1700000000 "$WORK/ctx/hello.txt" "$WORK/ctx/rootfs.tar"
cat > "$WORK/ctx/Dockerfile" <<'DF'
FROM scratch
ADD rootfs.tar /
COPY hello.txt /hello.txt
CMD ["/hello"]
DF

# Docker 20.10, classic builder, legacy `docker save` layout.
DOCKER_HOST=$S20 DOCKER_BUILDKIT=0 $D20 build -q -t layerproof-fixture:20.10 "$WORK/ctx" >/dev/null
DOCKER_HOST=$S20 $D20 save -o "$HERE/docker-20.10.tar" layerproof-fixture:20.10

# Docker 26.1, BuildKit, graphdriver store: OCI layout inside the tar.
DOCKER_HOST=$S26 $D26 build -q -t layerproof-fixture:26.1 "$WORK/ctx" >/dev/null
DOCKER_HOST=$S26 $D26 save -o "$HERE/docker-26.1.tar" layerproof-fixture:26.1

# A private Docker 26.1 with the containerd image store.
mkdir -p $CTR
printf '{"features":{"containerd-snapshotter":true}}\n' > $CTR/daemon.json
PATH=/tmp/d26/root/usr/bin:/tmp/d26/root/usr/sbin:$PATH setsid dockerd --config-file $CTR/daemon.json \
  --data-root $CTR/data --exec-root $CTR/exec --host unix://$CTR/docker.sock --pidfile $CTR/pid \
  --bridge none --iptables=false --ip6tables=false > $CTR/log 2>&1 < /dev/null &
i=0; until DOCKER_HOST=unix://$CTR/docker.sock $D26 info >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 60 ] || { cat $CTR/log; exit 1; }; sleep 1; done
SC=unix://$CTR/docker.sock
DOCKER_HOST=$SC $D26 buildx build -q --provenance=false --platform linux/amd64 -t layerproof-fixture:26.1-containerd --load "$WORK/ctx" >/dev/null
DOCKER_HOST=$SC $D26 save -o "$HERE/docker-26.1-containerd.tar" layerproof-fixture:26.1-containerd
# The classic builder on the containerd store writes an OCI manifest with Docker layer media types.
DOCKER_HOST=$SC DOCKER_BUILDKIT=0 $D26 build -q -t layerproof-fixture:26.1-containerd-classic "$WORK/ctx" >/dev/null 2>&1
DOCKER_HOST=$SC $D26 save -o "$HERE/docker-26.1-containerd-classic.tar" layerproof-fixture:26.1-containerd-classic
DOCKER_HOST=$SC $D26 buildx build -q --provenance=false --platform linux/amd64,linux/arm64 \
  -o type=oci,dest="$HERE/oci-index.tar" "$WORK/ctx" >/dev/null
rm -rf "$HERE/oci-index" && mkdir "$HERE/oci-index" && tar -C "$HERE/oci-index" -xf "$HERE/oci-index.tar"

V20=$(DOCKER_HOST=$S20 $D20 version --format '{{.Server.Version}}')
V26=$(DOCKER_HOST=$S26 $D26 version --format '{{.Server.Version}}')
BX=$($D26 buildx version | awk '{print $2}')
cd "$HERE"
{
  printf '{\n  "generator": "testdata/image/make.sh",\n  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "engines": {"docker-20.10": "%s", "docker-26.1": "%s", "buildx": "%s"},\n' "$V20" "$V26" "$BX"
  printf '  "files": {\n'
  find docker-*.tar oci-index.tar oci-index -type f | LC_ALL=C sort | \
    while read -r f; do printf '    "%s": "%s",\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"; done | sed '$ s/,$//'
  printf '  }\n}\n'
} > PROVENANCE.json
echo "fixtures written to $HERE"
