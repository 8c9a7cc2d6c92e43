#!/usr/bin/env bash
# The Python package's checks: lints of the bindings, then a fresh virtual
# environment in target/, the package installed into it as the README says,
# and its tests (against the CLI binary `cargo test --release` built).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --release -p stormglass-python -- -D warnings
venv=target/python-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "./python[test]"
# `cargo test --release` built the CLI the tests hold the package against.
[ -x target/release/stormglass ] || cargo build --release --bin stormglass
STORMGLASS_BIN="$PWD/target/release/stormglass" "$venv/bin/python" -m pytest -q python/tests
