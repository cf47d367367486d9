#!/bin/sh
# Trunk post-build hook: writes sw.js into the build with the list of the build's files and a
# version hashed from their contents (see www/sw.js).
set -eu
dir=${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}
cd "$dir"
files=$(find . -type f ! -name sw.js | sed 's|^\./||' | LC_ALL=C sort)
version=$(for f in $files; do sha256sum "$f"; done | sha256sum | cut -c1-16)
assets=$(for f in $files; do printf '"%s",' "$f"; done | sed 's/,$//')
sed -e "s|__VERSION__|$version|" -e "s|__ASSETS__|[$assets]|" "$TRUNK_SOURCE_DIR/sw.js" > sw.js
