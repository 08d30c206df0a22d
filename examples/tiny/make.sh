#!/bin/sh
# Regenerate examples/tiny with real Docker engines. Never edit the outputs by hand.
#
# Needs the engines `cargo xtask engines` starts (Docker 20.10 and Docker 26.1 with buildx):
#   D20_HOST  default unix:///tmp/layerproof-engines/d20/docker.sock, client /usr/bin/docker
#   D26_HOST  default unix:///tmp/layerproof-engines/d26/docker.sock, client /tmp/d26/root/usr/bin/docker
#
# Writes next to this script:
#   rootfs.tar.gz             a miniature distro rootfs (GNU tar + gzip -n, reproducible)
#   Dockerfile                the official-image shape: FROM scratch, ARG, LABEL, ADD, CMD
#   image-docker-20.10.tar    `docker save` after `DOCKER_BUILDKIT=0 docker build` on Docker 20.10
#   image-docker-26.1.tar     `docker save` after `docker buildx build --load` on Docker 26.1
#   PROVENANCE.json           engine versions, commands, date and the sha256 of every file
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../engines.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- the rootfs: a few of every kind of entry a distro tarball has -----------------------
R="$WORK/rootfs"
mkdir -p "$R/bin" "$R/etc/apt" "$R/home/app" "$R/root" "$R/tmp" "$R/usr/bin" "$R/usr/lib" \
         "$R/usr/share/doc/tiny" "$R/var/log"
cat > "$R/etc/os-release" <<'OS'
PRETTY_NAME="Tiny GNU/Linux 1.0 (layerproof example)"
NAME="Tiny GNU/Linux"
VERSION_ID="1.0"
ID=tiny
OS
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$R/etc/group"
printf 'root:*:19700:0:99999:7:::\napp:*:19700:0:99999:7:::\n' > "$R/etc/shadow"
printf '# sources\n' > "$R/etc/apt/sources.list"
printf '#!/bin/sh\necho "tiny sh: $*"\n' > "$R/usr/bin/tinysh"
printf 'Tiny is an example for layerproof.\n' > "$R/usr/share/doc/tiny/README"
head -c 20000 /dev/zero | tr '\0' 'x' > "$R/usr/lib/libtiny.so.1.0"
printf 'hello from app\n' > "$R/home/app/.profile"
ln -s ../usr/bin/tinysh "$R/bin/sh"
ln -s libtiny.so.1.0 "$R/usr/lib/libtiny.so.1"
ln "$R/usr/bin/tinysh" "$R/usr/bin/tinysh-static"
chmod 0755 "$R/usr/bin/tinysh"
chmod 0640 "$R/etc/shadow"
chmod 1777 "$R/tmp"
chmod 0700 "$R/root"
chmod 4755 "$R/usr/bin/tinysh-static" 2>/dev/null || true
chown -R 1000:1000 "$R/home/app"
chown 0:42 "$R/etc/shadow"
tar --sort=name --numeric-owner --mtime=@1700000000 --format=gnu -C "$R" -cf "$WORK/rootfs.tar" .
gzip -n -9 < "$WORK/rootfs.tar" > "$HERE/rootfs.tar.gz"
touch -d @1700000000 "$HERE/rootfs.tar.gz"

cat > "$HERE/Dockerfile" <<'DF'
FROM scratch
ARG RELEASE=1.0
LABEL org.opencontainers.image.title="tiny" org.opencontainers.image.version="${RELEASE}"
ADD rootfs.tar.gz /
CMD ["/bin/sh"]
DF

# --- build and save with each engine -------------------------------------------------------
mkdir -p "$WORK/ctx"
cp "$HERE/Dockerfile" "$HERE/rootfs.tar.gz" "$WORK/ctx/"
touch -d @1700000000 "$WORK/ctx/rootfs.tar.gz"
DOCKER_HOST=$D20_HOST DOCKER_BUILDKIT=0 "$D20" build --no-cache -q -t layerproof-example/tiny:20.10 "$WORK/ctx" >/dev/null
DOCKER_HOST=$D20_HOST "$D20" save -o "$HERE/image-docker-20.10.tar" layerproof-example/tiny:20.10
DOCKER_HOST=$D26_HOST "$D26" buildx build --no-cache -q --load -t layerproof-example/tiny:26.1 "$WORK/ctx" >/dev/null
DOCKER_HOST=$D26_HOST "$D26" save -o "$HERE/image-docker-26.1.tar" layerproof-example/tiny:26.1

v20=$(DOCKER_HOST=$D20_HOST "$D20" version --format '{{.Server.Version}}')
v26=$(DOCKER_HOST=$D26_HOST "$D26" version --format '{{.Server.Version}}')
write_provenance "$HERE" "examples/tiny/make.sh (real engines; never hand-edit)" \
  "\"docker-20.10\": \"$v20 (classic builder)\", \"docker-26.1\": \"$v26 (buildx, BuildKit)\"" \
  Dockerfile rootfs.tar.gz image-docker-20.10.tar image-docker-26.1.tar
ls -l "$HERE"
