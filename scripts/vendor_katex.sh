#!/usr/bin/env bash
# Vendors KaTeX (math rendering for the reviewer page) into the server package's static files,
# so `pip install splice[server]` needs no npm and the page needs no CDN. Run it when bumping
# KATEX_VERSION, then commit server/splice/server/review/static/katex/.
# Copies katex.min.js, katex.min.css, contrib/auto-render.min.js and the woff2 fonts (every
# browser the page supports reads woff2; the CSS's woff/ttf fallbacks are left unused).
set -euo pipefail
cd "$(dirname "$0")/.."
KATEX_VERSION=${KATEX_VERSION:-0.16.22}
dest=server/splice/server/review/static/katex
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "katex@${KATEX_VERSION}" >/dev/null && tar xzf katex-*.tgz)
dist="$tmp/package/dist"
rm -rf "$dest"
mkdir -p "$dest/fonts" "$dest/contrib"
cp "$dist/katex.min.js" "$dist/katex.min.css" "$dest/"
cp "$dist/contrib/auto-render.min.js" "$dest/contrib/"
cp "$dist"/fonts/*.woff2 "$dest/fonts/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$KATEX_VERSION" > "$dest/VERSION"
echo "vendored KaTeX $KATEX_VERSION into $dest ($(du -sh "$dest" | cut -f1))"
