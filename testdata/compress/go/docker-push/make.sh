#!/usr/bin/env bash
# Record what real Docker engines push for a small layer: build `FROM scratch / ADD src.tar /`
# with the classic builder on each engine, push to the loopback registry, fetch the pushed
# layer blob back with curl, and `docker save` the image for the uncompressed layer.
#
#   testdata/compress/go/docker-push/make.sh        (engines from `cargo xtask engines`)
#
# Writes, per engine, <engine>/layer.tar (the uncompressed layer, from docker save),
# <engine>/blob.tar.gz (the pushed blob, as the registry serves it) and PROVENANCE.json.
# The engines' source tarball src.tar is made here deterministically from Debian files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DOCKER_CONFIG="${DOCKER_CONFIG:-/tmp/layerproof-engines/docker-config}"
registry="${REGISTRY:-127.0.0.1:5000}"
engines=(
  "docker-20.10|/usr/bin/docker|unix:///tmp/layerproof-engines/d20/docker.sock"
  "docker-26.1|/tmp/d26/root/usr/bin/docker|unix:///tmp/layerproof-engines/d26/docker.sock"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The ADDed tarball: ~360 KiB of text and one ELF binary (several 64 KiB windows).
(cd / && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=gnu \
    -cf "$work/src.tar" usr/share/common-licenses bin/gzip)
printf 'FROM scratch\nADD src.tar /\n' > "$work/Dockerfile"

prov="$here/PROVENANCE.json"
{
  echo "{"
  echo "  \"what\": \"FROM scratch + ADD src.tar /, classic builder (DOCKER_BUILDKIT=0), docker push to a local registry (distribution v2), layer blob fetched with curl, uncompressed layer from docker save\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"script\": \"testdata/compress/go/docker-push/make.sh\","
  echo "  \"src_tar_sha256\": \"$(sha256sum < "$work/src.tar" | cut -d' ' -f1)\","
  echo "  \"engines\": ["
} > "$prov"
first=1
for e in "${engines[@]}"; do
  IFS='|' read -r name bin host <<< "$e"
  export DOCKER_HOST="$host"
  repo="gotest/$name"
  tag="$(date -u +%Y%m%d%H%M%S)"
  ref="$registry/$repo:$tag"
  DOCKER_BUILDKIT=0 "$bin" build -q -t "$ref" "$work" > /dev/null
  "$bin" push -q "$ref" > /dev/null
  manifest="$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$registry/v2/$repo/manifests/$tag")"
  digest="$(printf '%s' "$manifest" | python3 -c 'import json,sys; m=json.load(sys.stdin); assert len(m["layers"])==1; print(m["layers"][0]["digest"])')"
  mkdir -p "$here/$name"
  curl -fsS "http://$registry/v2/$repo/blobs/$digest" -o "$here/$name/blob.tar.gz"
  [[ "sha256:$(sha256sum < "$here/$name/blob.tar.gz" | cut -d' ' -f1)" == "$digest" ]]
  # The uncompressed layer from docker save: <id>/layer.tar (Docker 20.10) or
  # blobs/sha256/<diff_id> (Docker >= 25); manifest.json names it either way.
  "$bin" save -o "$work/save.tar" "$ref"
  rm -rf "$work/save" && mkdir "$work/save" && tar -xf "$work/save.tar" -C "$work/save"
  layer="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][0])' "$work/save/manifest.json")"
  cp "$work/save/$layer" "$here/$name/layer.tar"
  server="$("$bin" version -f '{{.Server.Version}} {{.Server.GoVersion}}')"
  "$bin" rmi -f "$ref" > /dev/null
  [[ $first -eq 1 ]] || echo "    ," >> "$prov"
  first=0
  cat >> "$prov" <<JSON
    {
      "engine": "$name",
      "server_version": "${server% *}",
      "server_go_version": "${server#* }",
      "storage_driver": "$("$bin" info -f '{{.Driver}}' 2>/dev/null)",
      "commands": ["DOCKER_BUILDKIT=0 docker build -t $ref .", "docker push $ref", "curl -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' http://$registry/v2/$repo/manifests/$tag", "curl http://$registry/v2/$repo/blobs/$digest", "docker save $ref"],
      "blob_digest": "$digest",
      "blob_size": $(stat -c %s "$here/$name/blob.tar.gz"),
      "layer_tar_sha256": "sha256:$(sha256sum < "$here/$name/layer.tar" | cut -d' ' -f1)",
      "layer_tar_size": $(stat -c %s "$here/$name/layer.tar")
    }
JSON
done
echo "  ]" >> "$prov"
echo "}" >> "$prov"
python3 -m json.tool "$prov" > /dev/null
cat "$prov"
