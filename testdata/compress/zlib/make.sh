#!/usr/bin/env bash
# Regenerate the zlib-family fixtures with the machine's real pigz and GNU gzip.
#
# Inputs come from gen_inputs.py (deterministic; crates/compress/tests/it/zlib_family.rs regenerates
# them the same way) plus tar-small.tar (a small real tar, committed). For every input and every
# variant, cases.tsv records the input's size and sha256 and the real tool's output size and
# sha256; outputs of at most 48 KiB are committed under out/ for byte-level comparison and
# fingerprinting. Run from anywhere: bash testdata/compress/zlib/make.sh
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")"
for t in pigz gzip python3 sha256sum; do
	command -v "$t" >/dev/null || { echo "make.sh: $t is required (apt-get install pigz)" >&2; exit 1; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 gen_inputs.py "$tmp" > "$tmp/cases"

# A small real tar: GNU-tar-like content made with Python's tarfile, fixed owners and times.
python3 - "$tmp/tar-small.tar" <<'PY'
import io, sys, tarfile
sys.path.insert(0, ".")
from gen_inputs import text, random_bytes
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    def add(name, data=None, kind=tarfile.REGTYPE, mode=0o644, link=""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, 1700000000, 0, 0
        ti.uname = ti.gname = "root"
        ti.linkname = link
        ti.size = len(data) if data is not None else 0
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
    for d in ["etc", "usr", "usr/bin", "usr/share", "usr/share/doc"]:
        add(d + "/", kind=tarfile.DIRTYPE, mode=0o755)
    add("etc/os-release", text(300, 100))
    add("usr/bin/tool", random_bytes(20000, 101), mode=0o755)
    add("usr/bin/alias", kind=tarfile.SYMTYPE, mode=0o777, link="tool")
    for i in range(12):
        add(f"usr/share/doc/file{i:02}.txt", text(3000 + 700 * i, 200 + i))
PY
cp "$tmp/tar-small.tar" tar-small.tar
printf 'tar-small.tar\tfile:tar-small.tar\n' >> "$tmp/cases"

rm -rf out
mkdir -p out
{
	echo "# made by make.sh with $(pigz --version 2>&1 | head -1), $(gzip --version | head -1), zlib $(dpkg-query -W -f='${Version}' zlib1g 2>/dev/null || echo '?'), $(python3 --version)"
	printf '# name\trecipe\tsize\tsha256\tvariant\tout_size\tout_sha256\tcommitted\n'
} > cases.tsv

sha() { sha256sum "$1" | cut -d' ' -f1; }
record() { # name recipe input variant output
	local committed=-
	if [ "$(stat -c %s "$5")" -le 49152 ]; then
		cp "$5" "out/$1.$4.gz"
		committed="out/$1.$4.gz"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(stat -c %s "$3")" "$(sha "$3")" \
		"$4" "$(stat -c %s "$5")" "$(sha "$5")" "$committed" >> cases.tsv
}

while IFS=$'\t' read -r name recipe; do
	in="$tmp/$name"
	# pigz --best --no-time from standard input, with 1, 2 and 4 threads: must be identical.
	for p in 1 2 4; do pigz --best --no-time -p "$p" < "$in" > "$tmp/o.p$p"; done
	cmp "$tmp/o.p1" "$tmp/o.p2" && cmp "$tmp/o.p1" "$tmp/o.p4"
	record "$name" "$recipe" "$in" pigz-9 "$tmp/o.p1"
	# pigz names the input file in the header unless -n: the debuerreotype command line.
	(cd "$tmp" && pigz --best --no-time -p 2 -c "$name") > "$tmp/o.named"
	record "$name" "$recipe" "$in" pigz-9-named "$tmp/o.named"
	pigz -6 --no-time -p 2 < "$in" > "$tmp/o.6"
	record "$name" "$recipe" "$in" pigz-6 "$tmp/o.6"
	# Levels 1-3: one thread keeps one stream, more threads restart each piece with a dictionary.
	pigz -1 --no-time -p 2 < "$in" > "$tmp/o.1"
	pigz -1 --no-time -p 4 < "$in" > "$tmp/o.1p4"
	cmp "$tmp/o.1" "$tmp/o.1p4"
	record "$name" "$recipe" "$in" pigz-1 "$tmp/o.1"
	pigz -1 --no-time -p 1 < "$in" > "$tmp/o.1p1"
	record "$name" "$recipe" "$in" pigz-1-p1 "$tmp/o.1p1"
	for l in 1 2 3 4 5 6 7 8 9; do
		gzip -n "-$l" < "$in" > "$tmp/o.g$l"
		record "$name" "$recipe" "$in" "gzip-$l" "$tmp/o.g$l"
	done
	# Python's gzip module: one zlib stream behind Python's own header.
	for l in 6 9; do
		python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read(), compresslevel=int(sys.argv[1]), mtime=0))' "$l" < "$in" > "$tmp/o.py$l"
		record "$name" "$recipe" "$in" "python-$l" "$tmp/o.py$l"
	done
	# --rsyncable: what Ubuntu's livecd-rootfs uses for its rootfs tarballs (gzip -9 --rsyncable).
	for l in 1 6 9; do
		gzip -n "-$l" --rsyncable < "$in" > "$tmp/o.r$l"
		record "$name" "$recipe" "$in" "gzip-$l-rsyncable" "$tmp/o.r$l"
	done
done < "$tmp/cases"
echo "make.sh: $(grep -vc '^#' cases.tsv) fixtures, $(du -sh out | cut -f1) committed under out/" >&2
