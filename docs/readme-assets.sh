#!/usr/bin/env bash
# Regenerates what the README shows of a run of the default scenario:
# docs/report.png (the top of report.html as headless Chromium paints it) and
# the console excerpt it quotes, printed here to paste into README.md
# (tests/io/docs.rs fails when the README's excerpt drifts from the output).
# Needs Chromium: `apt-get install chromium`, or CHROMIUM=/path/to/chrome.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome)}
cargo build --release --bin stormglass
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
target/release/stormglass run --out "$scratch/default" >"$scratch/console.txt"
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$scratch/profile" --window-size=1280,1500 \
    --screenshot="$PWD/docs/report.png" "file://$scratch/default/report.html" 2>/dev/null
echo "wrote docs/report.png; the README's console excerpt:"
sed -n '/^portfolio  /,/^worst path of/p' "$scratch/console.txt"
