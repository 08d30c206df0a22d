#!/usr/bin/env bash
# Records the image configs that real engines write for the Dockerfiles under this folder, for
# crates/verifier/tests/it/config_engines.rs. Needs the engines of `cargo xtask engines`
# (Docker 20.10.24 and 26.1.5, classic builder and BuildKit). Never edit the outputs by hand:
# run this script again.
#
#   bash crates/verifier/tests/config_engines/make.sh
#
# Per case: <case>/Dockerfile and its context files (made here, deterministic), and per engine
# and builder <case>/<engine>-<builder>.json (the config blob from `docker save`, byte for byte).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
E=${LAYERPROOF_ENGINES:-/tmp/layerproof-engines}
export DOCKER_CONFIG=${DOCKER_CONFIG:-$E/docker-config}
D20=/usr/bin/docker
D26=${D26:-/tmp/d26/root/usr/bin/docker}
D20_HOST=unix://$E/d20/docker.sock
D26_HOST=unix://$E/d26/docker.sock
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- context files ---------------------------------------------------------------------------
R="$WORK/rootfs"
mkdir -p "$R/bin" "$R/etc"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
printf '#!/bin/sh\n' > "$R/bin/sh"
chmod 0755 "$R/bin/sh"
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@1700000000 --format=gnu \
    -C "$R" -cf "$WORK/rootfs.tar" .
printf 'plain file\n' > "$WORK/b.txt"

case_files() { # case -> context files
  case "$1" in
    two-layers) echo rootfs.tar b.txt ;;
    *) echo rootfs.tar ;;
  esac
}

write_dockerfiles() {
  mkdir -p "$HERE/metadata" "$HERE/add-last" "$HERE/two-layers" "$HERE/arm-variant"
  cat > "$HERE/metadata/Dockerfile" <<'DF'
FROM scratch
MAINTAINER layerproof <test@example.invalid>
ARG REL=1.0
ENV A=1 B="two words" PATH=/usr/bin:/bin
LABEL org.example.a="x<y>&z é" b=2 rel=${REL}
ADD rootfs.tar /
WORKDIR /srv/app
USER 1000:1000
EXPOSE 80 443/udp 8000-8001
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=3 CMD ["/bin/true"]
ONBUILD RUN echo hi
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh"]
CMD echo hello
DF
  cat > "$HERE/add-last/Dockerfile" <<'DF'
FROM scratch
ENV X=1
ADD rootfs.tar /
DF
  cat > "$HERE/two-layers/Dockerfile" <<'DF'
FROM scratch
ADD rootfs.tar /
COPY b.txt /b.txt
CMD ["/bin/sh"]
DF
  cat > "$HERE/arm-variant/Dockerfile" <<'DF'
FROM scratch
ADD rootfs.tar /
CMD ["/bin/sh"]
DF
}

platform_of() {
  case "$1" in
    arm-variant) echo linux/arm/v7 ;;
    *) echo linux/amd64 ;;
  esac
}

write_dockerfiles
CASES="metadata add-last two-layers arm-variant"

extract_config() { # save.tar out.json
  python3 - "$1" "$2" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
m = json.load(t.extractfile("manifest.json"))
open(sys.argv[2], "wb").write(t.extractfile(m[0]["Config"]).read())
PY
}

for c in $CASES; do
  for f in $(case_files "$c"); do
    cp "$WORK/$f" "$HERE/$c/$f"
    chmod 0644 "$HERE/$c/$f"
  done
  ctx="$WORK/ctx-$c"
  mkdir -p "$ctx"
  cp "$HERE/$c/Dockerfile" "$ctx/"
  for f in $(case_files "$c"); do
    cp "$WORK/$f" "$ctx/$f"
    chmod 0644 "$ctx/$f"
    touch -d @1700000000 "$ctx/$f"
  done
  plat=$(platform_of "$c")
  for e in 20.10 26.1; do
    if [ "$e" = 20.10 ]; then cli=$D20; host=$D20_HOST; else cli=$D26; host=$D26_HOST; fi
    for b in classic buildkit; do
      bk=0; [ "$b" = buildkit ] && bk=1
      tag="layerproof-config/$c:$e-$b"
      DOCKER_HOST=$host DOCKER_BUILDKIT=$bk "$cli" build --no-cache -q --platform "$plat" \
        -t "$tag" "$ctx" >/dev/null
      DOCKER_HOST=$host "$cli" save -o "$WORK/save.tar" "$tag"
      extract_config "$WORK/save.tar" "$HERE/$c/docker-$e-$b.json"
      DOCKER_HOST=$host "$cli" rmi -f "$tag" >/dev/null
    done
  done
done

v20=$(DOCKER_HOST=$D20_HOST "$D20" version --format '{{.Server.Version}}')
v26=$(DOCKER_HOST=$D26_HOST "$D26" version --format '{{.Server.Version}}')
python3 - "$HERE" "$v20" "$v26" $CASES <<'PY'
import hashlib, json, os, sys, datetime
here, v20, v26, cases = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
files = {}
for c in cases:
    for f in sorted(os.listdir(os.path.join(here, c))):
        p = os.path.join(here, c, f)
        files[f"{c}/{f}"] = hashlib.sha256(open(p, "rb").read()).hexdigest()
json.dump({
    "made_by": "crates/verifier/tests/config_engines/make.sh (real engines only; never hand-edit)",
    "engines": {"docker-20.10": v20, "docker-26.1": v26},
    "context_mode": "0644",
    "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "files": files,
}, open(os.path.join(here, "PROVENANCE.json"), "w"), indent=2)
open(os.path.join(here, "PROVENANCE.json"), "a").write("\n")
PY
echo "recorded: $CASES"
