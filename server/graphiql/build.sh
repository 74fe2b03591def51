#!/usr/bin/env bash
# Rebuilds server/graphiql/assets from the npm packages named in VERSIONS:
# `make graphiql`. The npm tarballs are fetched with `npm pack` (the npm
# registry, no install, no scripts), their UMD builds gzipped with -n (no
# name or time) so the result is byte-for-byte reproducible, and each
# package's licence is copied next to it.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p assets
rm -f assets/*.gz assets/*.LICENSE
while read -r pkg version src dest; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
  tgz=$(ls "$work"/*.tgz)
  mkdir -p "$work/x"
  tar xzf "$tgz" -C "$work/x"
  gzip -9 -n -c "$work/x/package/$src" > "assets/$dest.gz"
  cp "$work"/x/package/LICENSE* "assets/$pkg.LICENSE"
  rm -rf "$work/x" "$tgz"
done < VERSIONS
ls -l assets
