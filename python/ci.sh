#!/usr/bin/env bash
# The Python package's checks, after `cargo test --release` (which built and
# linted the extension with the rest of the workspace): a fresh virtual
# environment in target/, the package installed into it as the README says
# (maturin reuses the engine's crates that build compiled), and its tests
# against the CLI binary the same build made.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "./python[test]"
# `cargo test --release` built the CLI the tests hold the package against.
[ -x target/release/stormglass ] || cargo build --release --bin stormglass
STORMGLASS_BIN="$PWD/target/release/stormglass" "$venv/bin/python" -m pytest -q python/tests
