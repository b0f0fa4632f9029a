#!/usr/bin/env bash
# The main job on the local default store: build the example pipeline, build it again from its
# checkpoint (no stage runs), and do a save/restore round trip of its package.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
cli=(node bin/artifact-action.js)
example=examples/hello

echo "### 1. run the pipeline (stages run, or restore from earlier checkpoints)"
"${cli[@]}" run "$example/pipeline.yml"

echo; echo "### 2. remove the outputs and run again: the final checkpoint exists, so no stage runs"
rm -rf "$example/build" "$example/dist"
"${cli[@]}" run "$example/pipeline.yml"
ls -l "$example"/dist

echo; echo "### 3. save/restore round trip of the package through the same store"
key="demo-package-$(sha256sum "$example"/dist/*.tar.gz | cut -c1-16)"
"${cli[@]}" save --key "$key" --workspace "$example" dist
target=$(mktemp -d)
"${cli[@]}" restore --key "$key" --workspace "$target" dist
diff -r "$example/dist" "$target/dist" && echo "round trip: restored tree is byte-identical"
rm -rf "$target"
"${cli[@]}" ls | head -n 8
