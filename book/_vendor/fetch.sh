#!/usr/bin/env bash
# Re-vendor the JavaScript that renders ipywidgets in the static book (offline, no CDN).
# The fetched files are committed under book/_vendor/static/; run this only to upgrade them.
#   bash book/_vendor/fetch.sh            (needs npm and access to the npm registry)
set -euo pipefail

REQUIREJS_VERSION="${REQUIREJS_VERSION:-2.3.8}"
HTML_MANAGER_VERSION="${HTML_MANAGER_VERSION:-1.0.15}"   # @jupyter-widgets/html-manager 1.x pairs with ipywidgets 8
MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"              # Sphinx's mathjax_path; default is a CDN

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
static="$here/static"
dest="$static/jupyter-widgets"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "requirejs@${REQUIREJS_VERSION}" "@jupyter-widgets/html-manager@${HTML_MANAGER_VERSION}" \
    "mathjax@${MATHJAX_VERSION}" >/dev/null
mkdir requirejs html-manager mathjax
tar xzf "requirejs-${REQUIREJS_VERSION}.tgz" -C requirejs
tar xzf "jupyter-widgets-html-manager-${HTML_MANAGER_VERSION}.tgz" -C html-manager
tar xzf "mathjax-${MATHJAX_VERSION}.tgz" -C mathjax
rm -rf "$dest" "$static/@jupyter-widgets" "$static/mathjax"

mkdir -p "$dest"
cp requirejs/package/require.js "$dest/require.js"
cp html-manager/package/dist/embed-amd.js "$dest/embed-amd.js"
# The widget CSS asks for its icon fonts next to the AMD module URL, i.e. at
# <page dir>/@jupyter-widgets/html-manager/dist/; browsers take the first format they support (woff2).
mkdir -p "$static/@jupyter-widgets/html-manager/dist"
cp html-manager/package/dist/*.woff2 "$static/@jupyter-widgets/html-manager/dist/"
# some pages resolve the same fonts against <page dir>/@jupyter-widgets/ (the widget CSS's other base path)
cp html-manager/package/dist/*.woff2 "$static/@jupyter-widgets/"
# MathJax 3 (TeX input, CommonHTML output) and the fonts it loads relative to itself.
mkdir -p "$static/mathjax/output/chtml/fonts"
cp mathjax/package/es5/tex-chtml.js "$static/mathjax/"
cp -r mathjax/package/es5/output/chtml/fonts/woff-v2 "$static/mathjax/output/chtml/fonts/"
cp mathjax/package/LICENSE "$static/mathjax/LICENSE"
license() { node -p "require('./$1/package/package.json').license"; }
cat > "$here/VERSIONS" <<VERSIONS
requirejs ${REQUIREJS_VERSION} (npm: package/require.js), license $(license requirejs)
@jupyter-widgets/html-manager ${HTML_MANAGER_VERSION} (npm: package/dist/embed-amd.js, dist/*.woff2), license $(license html-manager)
mathjax ${MATHJAX_VERSION} (npm: package/es5/tex-chtml.js, es5/output/chtml/fonts/woff-v2), license $(license mathjax)
VERSIONS
(cd "$static" && sha256sum jupyter-widgets/require.js jupyter-widgets/embed-amd.js mathjax/tex-chtml.js >> "$here/VERSIONS")
echo "vendored into $static:"
du -sh "$static"/*
