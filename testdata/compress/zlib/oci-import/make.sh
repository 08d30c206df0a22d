#!/usr/bin/env bash
# A small debuerreotype-style Debian layout, made with the real tools, for the oci-import verifier.
#
# What debuerreotype does (read in debuerreotype's scripts/debuerreotype-tar and
# examples/oci-image.sh; this script re-does the steps, it does not run theirs):
#   1. rootfs.tar.xz  = GNU tar --create --auto-compress --numeric-owner --transform 's,^./,,'
#                       --sort name . (mtimes clamped to the epoch); rootfs.tar.xz.sha256 beside it;
#   2. diff_id        = sha256 of the xz-decompressed tar;
#   3. the layer blob = pigz --best --no-time rootfs.tar (so the header names "rootfs.tar"),
#                       stored as oci/blobs/rootfs.tar.gz, with blobs/sha256/<digest> a symlink;
#   4. config, manifest, index: compact jq JSON, each embedded base64 as "data" in its parent's
#      descriptor, image-config.json / image-manifest.json symlinked from blobs/sha256/;
#      oci/manifest.json for `docker load`; oci/oci-layout.
# The result lands in bookworm/ (as on a dist-amd64 branch). Run: bash make.sh
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")"
for t in tar xz pigz jq python3 sha256sum base64; do
	command -v "$t" >/dev/null || { echo "make.sh: $t is required" >&2; exit 1; }
done
epoch=1700000000
suite=bookworm
arch=amd64
version=0.15
iso8601="$(date -u --date="@$epoch" '+%Y-%m-%dT%H:%M:%SZ')"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A tiny root file system: text and binary files, a symlink, a hard link, directories.
root="$tmp/rootfs"
python3 - "$root" <<'PY'
import os, sys
sys.path.insert(0, "..")
from gen_inputs import text, random_bytes
root = sys.argv[1]
def put(path, data, mode=0o644):
    p = os.path.join(root, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
put("etc/debian_version", b"12.11\n")
put("etc/os-release", b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
put("usr/bin/bash", random_bytes(90000, 300), 0o755)
put("usr/lib/x86_64-linux-gnu/libfake.so.1", random_bytes(60000, 301), 0o644)
for i in range(24):
    put(f"usr/share/doc/pkg{i:02}/copyright", text(6000 + 500 * i, 400 + i))
put("var/lib/dpkg/status", text(150000, 500))
os.symlink("usr/bin", os.path.join(root, "bin"))
os.link(os.path.join(root, "usr/bin/bash"), os.path.join(root, "usr/bin/rbash"))
for d in ["tmp", "root", "home"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
os.chmod(os.path.join(root, "tmp"), 0o1777)
PY
find "$root" -exec touch --no-dereference --date="@$epoch" '{}' +

rm -rf "$suite"
mkdir -p "$suite/oci/blobs/sha256"
tar --create --file "$suite/rootfs.tar.xz" --auto-compress --directory "$root" \
	--numeric-owner --owner 0 --group 0 --transform 's,^./,,' --sort name .
sha256sum "$suite/rootfs.tar.xz" | cut -d' ' -f1 > "$suite/rootfs.tar.xz.sha256"

cd "$suite"
jq --null-input --compact-output '{ imageLayoutVersion: "1.0.0" }' > oci/oci-layout
xz --decompress --stdout rootfs.tar.xz > "$tmp/rootfs.tar"
diffId="sha256:$(sha256sum "$tmp/rootfs.tar" | cut -d' ' -f1)"
(cd "$tmp" && pigz --best --no-time rootfs.tar)
rootfsSize="$(stat --format='%s' "$tmp/rootfs.tar.gz")"
rootfsSha256="$(sha256sum "$tmp/rootfs.tar.gz" | cut -d' ' -f1)"
mv "$tmp/rootfs.tar.gz" oci/blobs/rootfs.tar.gz
ln -sfT ../rootfs.tar.gz "oci/blobs/sha256/$rootfsSha256"

export diffId iso8601 epoch suite arch version
jq --null-input --compact-output '{
	config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Entrypoint: [], Cmd: ["bash"] },
	created: env.iso8601,
	history: [ { created: env.iso8601,
		created_by: ("# debian.sh --arch " + (env.arch | @sh) + " out/ " + (env.suite | @sh) + " " + ("@" + env.epoch | @sh)),
		comment: ("debuerreotype " + env.version) } ],
	rootfs: { type: "layers", diff_ids: [ env.diffId ] },
	os: "linux",
	architecture: env.arch
}' > oci/blobs/image-config.json
configSize="$(stat --format='%s' oci/blobs/image-config.json)"
configSha256="$(sha256sum oci/blobs/image-config.json | cut -d' ' -f1)"
configData="$(base64 -w0 oci/blobs/image-config.json)"
ln -sfT ../image-config.json "oci/blobs/sha256/$configSha256"

export configSize configSha256 configData rootfsSize rootfsSha256
jq --null-input --compact-output '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: ("sha256:" + env.configSha256), size: (env.configSize | tonumber), data: env.configData },
	layers: [ { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: ("sha256:" + env.rootfsSha256), size: (env.rootfsSize | tonumber) } ]
}' > oci/blobs/image-manifest.json
manifestSize="$(stat --format='%s' oci/blobs/image-manifest.json)"
manifestSha256="$(sha256sum oci/blobs/image-manifest.json | cut -d' ' -f1)"
manifestData="$(base64 -w0 oci/blobs/image-manifest.json)"
ln -sfT ../image-manifest.json "oci/blobs/sha256/$manifestSha256"

export manifestSize manifestSha256 manifestData image="$arch/debian:$suite"
jq --null-input --compact-output '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [ { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: ("sha256:" + env.manifestSha256), size: (env.manifestSize | tonumber),
		platform: { os: "linux", architecture: env.arch },
		annotations: { "io.containerd.image.name": env.image, "org.opencontainers.image.ref.name": env.image },
		data: env.manifestData } ]
}' > oci/index.json
jq --null-input --compact-output '[ { Config: ("blobs/sha256/" + env.configSha256), Layers: [ "blobs/sha256/" + env.rootfsSha256 ], RepoTags: [ env.image ] } ]' > oci/manifest.json
find . -exec touch --no-dereference --date="@$epoch" '{}' +
{
	echo "# made by make.sh with $(tar --version | head -1), $(xz --version | head -1), $(pigz --version 2>&1 | head -1), $(jq --version)"
	echo "diff_id	$diffId"
	echo "blob	sha256:$rootfsSha256	$rootfsSize"
	echo "config	sha256:$configSha256	$configSize"
	echo "manifest	sha256:$manifestSha256	$manifestSize"
} > EXPECTED.tsv
echo "make.sh: $(cat EXPECTED.tsv | tail -4)" >&2
