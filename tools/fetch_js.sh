#!/usr/bin/env bash
# Fetch a JavaScript package the book ships inside its own build, so that pages work offline.
#
# Usage: tools/fetch_js.sh NAME DEST
#   mathjax  MathJax v3's es5/ browser build (math rendering)     e.g. book/_extra/mathjax
#   thebe    Thebe's lib/ bundle, without source maps ("Live code") e.g. book/_extra/thebe
#
# The tarball comes from the npm registry (`npm pack`), so only npm registry access is needed.
# Idempotent: if DEST already holds the requested version it exits at once.
#
# Environment: MATHJAX_VERSION (default 3.2.2), THEBE_VERSION (default 0.9.3).
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 {mathjax|thebe} DEST" >&2
    exit 64
fi

name=$1
dest=$2
case "$name" in
    # package, version, folder of the tarball to ship, a file that must be in it
    mathjax) version=${MATHJAX_VERSION:-3.2.2}; folder=es5; entry=tex-chtml.js ;;
    thebe) version=${THEBE_VERSION:-0.9.3}; folder=lib; entry=index.js ;;
    *) echo "fetch_js: unknown package '$name' (mathjax or thebe)" >&2; exit 64 ;;
esac
stamp="$dest/.version"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$name@$version" ] && [ -f "$dest/$entry" ]; then
    echo "fetch_js: $name $version already present in $dest"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_js: npm is required (install Node.js)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetch_js: downloading $name@$version from the npm registry"
( cd "$tmp" && npm pack --silent "$name@$version" >/dev/null )
tar -xzf "$tmp"/"$name"-*.tgz -C "$tmp"

if [ ! -f "$tmp/package/$folder/$entry" ]; then
    echo "fetch_js: unexpected tarball layout (no package/$folder/$entry)" >&2
    exit 1
fi

# Build next to DEST, then swap, so an interrupted fetch never leaves half a package.
mkdir -p "$(dirname "$dest")"
staging="$dest.partial.$$"
rm -rf "$staging"
cp -R "$tmp/package/$folder" "$staging"
# Source maps and type declarations are for developers of the package, not for readers.
find "$staging" -name '*.map' -delete
rm -rf "$staging/types"
cp "$tmp/package/LICENSE" "$staging/LICENSE" 2>/dev/null || true
echo "$name@$version" > "$staging/.version"
rm -rf "$dest"
mv "$staging" "$dest"

echo "fetch_js: installed $name $version into $dest ($(du -sh "$dest" | cut -f1))"
