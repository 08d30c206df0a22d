#!/bin/sh
# Regenerate examples/multiarch with a real Docker 26.1 (containerd image store, BuildKit).
# Never edit the outputs by hand.
#
# The official-image shape for several architectures: one Dockerfile whose ADD names the
# tarball by the predefined TARGETARCH argument, built for linux/amd64 and linux/arm64 in one
# `docker buildx build` and exported as an OCI image index.
#
# Needs the Docker 26.1 binaries `cargo xtask engines` extracts (under /tmp/layerproof-engines/d26/root); starts (and
# stops) a private daemon with the containerd image store, which multi-platform export needs.
#
# Writes next to this script:
#   rootfs-amd64.tar.gz, rootfs-arm64.tar.gz   two small rootfs tarballs (GNU tar + gzip -n)
#   Dockerfile                                 ADD rootfs-${TARGETARCH}.tar.gz /
#   image.oci.tar                              `buildx build -o type=oci` (oci-archive, gzip layers)
#   PROVENANCE.json                            engine versions, commands, date, sha256 of every file
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../engines.sh"
WORK=$(mktemp -d)
CTR=/tmp/layerproof-example-ctr
trap 'if [ -f $CTR/pid ]; then kill "$(cat $CTR/pid)" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

for arch in amd64 arm64; do
  R="$WORK/rootfs-$arch"
  mkdir -p "$R/etc" "$R/usr/bin" "$R/usr/lib/$arch-linux" "$R/tmp"
  printf 'ID=tiny\nVERSION_ID="1.0"\nARCH=%s\n' "$arch" > "$R/etc/os-release"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
  printf '#!/bin/sh\necho %s\n' "$arch" > "$R/usr/bin/hello"
  head -c 5000 /dev/zero | tr '\0' "$(printf %s "$arch" | cut -c1)" > "$R/usr/lib/$arch-linux/libc.so.6"
  chmod 0755 "$R/usr/bin/hello"
  chmod 1777 "$R/tmp"
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -C "$R" -cf - . \
    | gzip -n -9 > "$HERE/rootfs-$arch.tar.gz"
  touch -d @1700000000 "$HERE/rootfs-$arch.tar.gz"
done
cat > "$HERE/Dockerfile" <<'DF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar.gz /
CMD ["/usr/bin/hello"]
DF

mkdir -p $CTR "$WORK/ctx"
cp "$HERE/Dockerfile" "$HERE"/rootfs-*.tar.gz "$WORK/ctx/"
printf '{"features":{"containerd-snapshotter":true}}\n' > $CTR/daemon.json
D26ROOT=$(dirname "$(dirname "$(dirname "$D26")")")
PATH=$D26ROOT/usr/bin:$D26ROOT/usr/sbin:$PATH setsid dockerd --config-file $CTR/daemon.json \
  --data-root $CTR/data --exec-root $CTR/exec --host unix://$CTR/docker.sock --pidfile $CTR/pid \
  --bridge none --iptables=false --ip6tables=false > $CTR/log 2>&1 < /dev/null &
i=0; until DOCKER_HOST=unix://$CTR/docker.sock $D26 info >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 60 ] || { cat $CTR/log; exit 1; }; sleep 1; done
DOCKER_HOST=unix://$CTR/docker.sock $D26 buildx build -q --no-cache --provenance=false \
  --platform linux/amd64,linux/arm64 -o type=oci,dest="$HERE/image.oci.tar" "$WORK/ctx" >/dev/null
v26=$(DOCKER_HOST=unix://$CTR/docker.sock $D26 version --format '{{.Server.Version}}')
bx=$($D26 buildx version | awk '{print $2}')
write_provenance "$HERE" "examples/multiarch/make.sh (real engine; never hand-edit)" \
  "\"docker-26.1\": \"$v26 (containerd image store)\", \"buildx\": \"$bx\"" \
  Dockerfile rootfs-amd64.tar.gz rootfs-arm64.tar.gz image.oci.tar
chmod 644 "$HERE"/*.tar "$HERE"/*.tar.gz
ls -l "$HERE"
