# Thin aliases; every recipe is a plain cargo command you can run yourself.

# Build everything.
build:
    cargo build --workspace

# The test suite (hermetic: committed fixtures only).
test:
    cargo test --workspace

# Lints exactly as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Start the real Docker engines (20.10 and 26.1) and a loopback registry.
engines:
    cargo xtask engines

# Regenerate the edge-case input tarballs under testdata/gen.
gen-testdata:
    cargo xtask gen-testdata

# Live conformance run against the real engines (add --record to refresh fixtures).
oracle *ARGS:
    cargo xtask oracle {{ARGS}}

# Issue #7's benchmark: fixture, engines, registry, hyperfine ratios and peak RSS
# (writes docs/performance.md; try --runs 3, --no-write, --check, --prepare-only).
bench *ARGS:
    cargo xtask bench {{ARGS}}

# Everything CI does.
ci:
    bash .ci/run
