#!/usr/bin/env bash
# Makes a runnable copy of the reference reader (shared/reference-reader).
#
#   scripts/prepare-reference-reader.sh SRC DEST
#
# The copy of shared/ we are given can lose two things on the way: the
# node_modules/nearbytes-* symbolic links arrive as plain files holding the
# link's target, and a vendored package's compiled dist/ (git-ignored by its
# upstream repository) may be missing. This copies SRC to DEST (SRC is never
# changed), restores the links, and compiles a missing dist/ with tsc (Debian
# package node-typescript, installed by scripts/setup.sh). Exit 3: cannot.
set -euo pipefail
src=$1
dest=$2
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$src/." "$dest/"
chmod -R u+w "$dest"
for entry in "$dest"/node_modules/nearbytes-*; do
  if [[ -f $entry && ! -L $entry ]]; then
    target=$(head -c 200 "$entry")
    rm "$entry"
    ln -s "$target" "$entry"
  fi
done
for pkg in "$dest"/vendor/*/; do
  [[ -f $pkg/package.json && ! -f $pkg/dist/index.js ]] || continue
  if ! command -v tsc >/dev/null 2>&1; then
    echo "prepare-reference-reader: $pkg has no dist/ and tsc is missing (apt-get install node-typescript)" >&2
    exit 3
  fi
  [[ -e $pkg/node_modules ]] || ln -s ../../node_modules "$pkg/node_modules"
  # Type errors (no @types/node here) do not stop tsc from emitting the JavaScript.
  (cd "$pkg" && tsc -p tsconfig.json --moduleResolution node >/dev/null 2>&1) || true
  if [[ ! -f $pkg/dist/index.js ]]; then
    echo "prepare-reference-reader: tsc produced no $pkg/dist/index.js" >&2
    exit 3
  fi
done
