#!/usr/bin/env bash
# Fetch the front-end files once from the npm registry, pinned; the results are committed under
# static/vendor (served by whitenoise) and tests/vendor (axe-core, injected by browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent bootstrap@5.3.9 htmx.org@2.0.11 bootstrap-icons@1.13.2 axe-core@4.14.1 >/dev/null )
for t in "$tmp"/*.tgz; do mkdir -p "${t%.tgz}" && tar -xzf "$t" -C "${t%.tgz}"; done
rm -rf static/vendor && mkdir -p static/vendor/bootstrap static/vendor/htmx static/vendor/bootstrap-icons/fonts tests/vendor
cp "$tmp"/bootstrap-5.3.9/package/dist/css/bootstrap.min.css static/vendor/bootstrap/
cp "$tmp"/bootstrap-5.3.9/package/dist/js/bootstrap.bundle.min.js static/vendor/bootstrap/
cp "$tmp"/bootstrap-5.3.9/package/LICENSE static/vendor/bootstrap/LICENSE
cp "$tmp"/htmx.org-2.0.11/package/dist/htmx.min.js static/vendor/htmx/
cp "$tmp"/htmx.org-2.0.11/package/LICENSE static/vendor/htmx/LICENSE
cp "$tmp"/bootstrap-icons-1.13.2/package/font/bootstrap-icons.min.css static/vendor/bootstrap-icons/
cp "$tmp"/bootstrap-icons-1.13.2/package/font/fonts/bootstrap-icons.woff2 static/vendor/bootstrap-icons/fonts/
cp "$tmp"/bootstrap-icons-1.13.2/package/LICENSE static/vendor/bootstrap-icons/LICENSE
cp "$tmp"/axe-core-4.14.1/package/axe.min.js tests/vendor/
cp "$tmp"/axe-core-4.14.1/package/LICENSE tests/vendor/axe-core-LICENSE
cat > static/vendor/VERSIONS <<TXT
bootstrap 5.3.9, htmx.org 2.0.11, bootstrap-icons 1.13.2 (npm registry; scripts/fetch_vendor.sh)
TXT
