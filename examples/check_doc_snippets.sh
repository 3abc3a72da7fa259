#!/usr/bin/env bash
# Every C++ snippet of a guide is quoted from a file that the test suite compiles: in the guide,
#
#   <!-- snippet examples/confirmed_publisher.cpp publish-confirmed -->
#   ```cpp
#   ...the lines between "// [snippet publish-confirmed]" and "// [/snippet publish-confirmed]"
#   of that file, less their common indentation...
#   ```
#
#   examples/check_doc_snippets.sh DOC            fails, showing the difference, if a snippet
#                                                 differs from its file or a ```cpp block has no
#                                                 marker (ctest: docs_messaging_snippets)
#   examples/check_doc_snippets.sh --update DOC   rewrites DOC's snippets from the files
set -euo pipefail

update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--update] DOC" >&2; exit 2; }
doc=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() { echo "check_doc_snippets: $doc: $*" >&2; exit 1; }

extract() {  # FILE NAME: the snippet's lines, de-indented; exit 3 when the markers are missing
  awk -v start="// [snippet $2]" -v stop="// [/snippet $2]" '
    index($0, stop) { inside = 0; stopped = 1 }
    inside { lines[n++] = $0 }
    index($0, start) { inside = 1; started = 1 }
    END {
      if (!started || !stopped) exit 3
      min = -1
      for (i = 0; i < n; i++)
        if (lines[i] ~ /[^ ]/) { match(lines[i], /^ */); if (min < 0 || RLENGTH < min) min = RLENGTH }
      for (i = 0; i < n; i++) print substr(lines[i], min + 1)
    }' "$1"
}

render() {  # DOC with every marked snippet taken from its file
  local line next file name in_block=0 number=0
  while IFS= read -r line || [ -n "$line" ]; do
    number=$((number + 1))
    if [ $in_block = 1 ]; then
      [ "$line" = '```' ] && in_block=0
      continue
    fi
    [ "$line" = '```cpp' ] && fail "line $number: a C++ block without a snippet marker (<!-- snippet FILE NAME --> on the line before); every snippet must be compiled"
    printf '%s\n' "$line"
    if [[ $line =~ ^'<!-- snippet '([^ ]+)' '([^ ]+)' -->'$ ]]; then
      file=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
      [ -f "$root/$file" ] || fail "line $number: no file $file"
      IFS= read -r next || next=""
      number=$((number + 1))
      [ "$next" = '```cpp' ] || fail "line $number: a snippet marker must be followed by a \`\`\`cpp line"
      printf '%s\n' '```cpp'
      extract "$root/$file" "$name" || fail "line $((number - 1)): no '// [snippet $name]' ... '// [/snippet $name]' in $file"
      printf '%s\n' '```'
      in_block=1
    fi
  done <"$doc"
  [ $in_block = 0 ] || fail "a \`\`\`cpp block is not closed"
}

rendered=$(render)
if [ $update = 1 ]; then
  printf '%s\n' "$rendered" >"$doc"
  exit 0
fi
if ! diff -u "$doc" <(printf '%s\n' "$rendered"); then
  fail "snippets differ from the files they quote (above: - the doc, + the files); update the doc with examples/check_doc_snippets.sh --update $doc"
fi
echo "check_doc_snippets: $doc: $(grep -c '^<!-- snippet ' "$doc") snippets match their files"
