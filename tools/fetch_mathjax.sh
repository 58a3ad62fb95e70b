#!/usr/bin/env bash
# Fetch a local copy of MathJax v3 (the es5/ browser build) so that the book
# renders math without contacting a CDN.
#
# Usage: tools/fetch_mathjax.sh DEST
#   e.g. tools/fetch_mathjax.sh book/_extra/mathjax
#
# The tarball comes from the npm registry (`npm pack`), so only npm registry
# access is needed. The script is idempotent: if DEST already holds the
# requested version it exits immediately.
#
# Environment:
#   MATHJAX_VERSION  exact version to install (default 3.2.2)
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DEST" >&2
    exit 64
fi

dest=$1
version=${MATHJAX_VERSION:-3.2.2}
stamp="$dest/.mathjax-version"

case "$version" in
    3.*) ;;
    *) echo "fetch_mathjax: MATHJAX_VERSION must be a 3.x version (got '$version')" >&2; exit 64 ;;
esac

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] \
   && [ -f "$dest/tex-chtml.js" ] && [ -d "$dest/output/chtml/fonts/woff-v2" ]; then
    echo "fetch_mathjax: MathJax $version already present in $dest"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_mathjax: npm is required (install Node.js)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetch_mathjax: downloading mathjax@$version from the npm registry"
( cd "$tmp" && npm pack --silent "mathjax@$version" >/dev/null )
tarball=$(ls "$tmp"/mathjax-*.tgz)
tar -xzf "$tarball" -C "$tmp"

if [ ! -f "$tmp/package/es5/tex-chtml.js" ]; then
    echo "fetch_mathjax: unexpected tarball layout (no package/es5/tex-chtml.js)" >&2
    exit 1
fi

# Replace DEST atomically-ish: build next to it, then swap.
mkdir -p "$(dirname "$dest")"
staging="$dest.partial.$$"
rm -rf "$staging"
cp -R "$tmp/package/es5" "$staging"
cp "$tmp/package/LICENSE" "$staging/LICENSE"
echo "$version" > "$staging/.mathjax-version"
rm -rf "$dest"
mv "$staging" "$dest"

echo "fetch_mathjax: installed MathJax $version into $dest ($(du -sh "$dest" | cut -f1))"
