#!/usr/bin/env python3
"""Deterministic inputs for the zlib-family fixtures.

The same recipes are implemented in crates/compress/tests/it/zlib_family.rs (fn input), so the tests
regenerate every input instead of committing it; cases.tsv records each input's sha256.
Usage: gen_inputs.py OUTDIR  (writes OUTDIR/<name> and prints "name<TAB>recipe" lines)
"""
import sys

M = (1 << 64) - 1
VOCAB = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an had they you were their one all we can her has there been if more "
         "when will would who so no layer tar gzip deflate block window match debian rootfs "
         "image blob digest pigz zlib docker layer").split()
assert len(VOCAB) == 64


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)


def random_bytes(n, seed):
    g = SplitMix64(seed)
    out = bytearray()
    while len(out) < n:
        out += g.next().to_bytes(8, "little")
    return bytes(out[:n])


def text(n, seed):
    g = SplitMix64(seed)
    out = bytearray()
    while len(out) < n:
        r = g.next()
        out += VOCAB[r % 64].encode()
        out += b"\n" if (r >> 8) % 12 == 0 else b" "
    return bytes(out[:n])


def mixed(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += text(4096, seed + i) if i % 2 == 0 else random_bytes(4096, seed + i)
        i += 1
    return bytes(out[:n])


def make(recipe):
    kind, _, arg = recipe.partition(":")
    n, _, seed = arg.partition(":")
    n = int(n or 0)
    seed = int(seed or 0)
    if kind == "empty":
        return b""
    if kind == "byte":
        return b"a"
    if kind == "zeros":
        return bytes(n)
    if kind == "abc":
        return (b"abc" * (n // 3 + 1))[:n]
    if kind == "random":
        return random_bytes(n, seed)
    if kind == "text":
        return text(n, seed)
    if kind == "mixed":
        return mixed(n, seed)
    raise SystemExit(f"unknown recipe {recipe}")


CASES = [
    ("empty", "empty"),
    ("one-byte", "byte"),
    ("zeros-300k", "zeros:300000"),
    ("abc-100k", "abc:100000"),
    ("random-1000", "random:1000:1"),
    ("random-40000", "random:40000:2"),
    ("random-140000", "random:140000:3"),
    ("text-1000", "text:1000:4"),
    ("text-32767", "text:32767:5"),
    ("text-32768", "text:32768:6"),
    ("text-32769", "text:32769:7"),
    ("text-65535", "text:65535:8"),
    ("text-65536", "text:65536:9"),
    ("text-65537", "text:65537:10"),
    ("text-131071", "text:131071:11"),
    ("text-131072", "text:131072:12"),
    ("text-131073", "text:131073:13"),
    ("text-300000", "text:300000:14"),
    ("mixed-400000", "mixed:400000:15"),
]

if __name__ == "__main__":
    outdir = sys.argv[1]
    for name, recipe in CASES:
        with open(f"{outdir}/{name}", "wb") as f:
            f.write(make(recipe))
        print(f"{name}\t{recipe}")
