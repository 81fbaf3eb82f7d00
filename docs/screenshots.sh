#!/usr/bin/env bash
# Render report.html of profile folders in headless Chromium (Debian: apt install chromium) as the
# PNGs linked from the README:  bash docs/screenshots.sh runs/default runs/sim-r2 runs/default-social
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for run in "$@"; do
    [ -f "$run/report.html" ] || { echo "error: $run holds no report.html" >&2; exit 1; }
    name=$(basename "$run")
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1150,2200 \
        --screenshot="$here/report-$name.png" "file://$(cd "$run" && pwd)/report.html" 2>/dev/null
    echo "wrote docs/report-$name.png"
done
