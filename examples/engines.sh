# Sourced by the examples' scripts (make.sh, verify-live.sh): where `cargo xtask engines`
# puts the real engines, each overridable from the environment, and the PROVENANCE writer.
#   D20 / D20_HOST   Docker 20.10 client and socket
#   D26 / D26_HOST   Docker 26.1 client (extracted under the engines root, or an older /tmp/d26)
#   DOCKER_CONFIG    holds the buildx plugin for the 26.1 client
D20=${D20:-/usr/bin/docker}
if [ -z "${D26:-}" ]; then
  for d in /tmp/layerproof-engines/d26/root/usr/bin/docker /tmp/d26/root/usr/bin/docker; do
    [ -x "$d" ] && { D26=$d; break; }
  done
fi
D26=${D26:-/tmp/layerproof-engines/d26/root/usr/bin/docker}
D20_HOST=${D20_HOST:-unix:///tmp/layerproof-engines/d20/docker.sock}
D26_HOST=${D26_HOST:-unix:///tmp/layerproof-engines/d26/docker.sock}
export DOCKER_CONFIG=${DOCKER_CONFIG:-/tmp/layerproof-engines/docker-config}

# write_provenance DIR MADE_BY ENGINES_JSON FILE...: DIR/PROVENANCE.json with the date, the
# engines (a JSON object body) and the sha256 of every FILE in DIR.
write_provenance() {
  dir=$1 made_by=$2 engines=$3
  shift 3
  {
    printf '{\n  "made_by": "%s",\n' "$made_by"
    printf '  "recorded_at": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '  "engines": {%s},\n' "$engines"
    printf '  "files": {\n'
    first=1
    for f in "$@"; do
      [ $first = 1 ] || printf ',\n'
      first=0
      printf '    "%s": "%s"' "$f" "$(sha256sum "$dir/$f" | cut -d' ' -f1)"
    done
    printf '\n  }\n}\n'
  } > "$dir/PROVENANCE.json"
}
