#!/usr/bin/env bash
# The man page against the CLI it documents (unit/man-page-documents-every-command-and-exit-code):
#   - every subcommand the built CLI lists in `--help`, and every subcommand
#     of those (`base create`, ...), has a section of its own in the page,
#     `.SS "snapcell <command>"`;
#   - every long option a subcommand's `--help` lists appears in that section;
#   - every exit code the CLI's sources define (`exit_<name> = <n>` and the
#     `128 + <signal>` of an interrupted command) is an entry of EXIT STATUS;
#   - every JSON schema the sources name ("snapcell.<what>/<n>") appears.
# Fails with one line per omission.
#   man_page_test.sh SNAPCELL MAN_PAGE CLI_SOURCE_DIR
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 SNAPCELL MAN_PAGE CLI_SOURCE_DIR" >&2
  exit 2
fi
snapcell=$1 page=$2 sources=$3
problems=0
fail() {
  echo "$*"
  problems=$((problems + 1))
}

# The subcommands CLI11 lists under "Subcommands:" in a --help text.
subcommands_of() {
  "$snapcell" "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}
# The long options a --help text lists ("--help" is documented once, under OPTIONS).
options_of() {
  "$snapcell" "$@" --help | grep -oE '^ +(-[a-z], *)?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' |
    grep -vx -- '--help' || true
}
# A section of the page: from its .SS (or .SH) line to the next one. In roff
# source an option is spelled \-\-name; the text compared is unescaped.
section() {
  awk -v want="$1" '
    /^\.S[SH] / {
      heading = $0
      sub(/^\.S[SH] +/, "", heading); gsub(/"/, "", heading); gsub(/\\f[BIRP]/, "", heading)
      on = (heading == want)
      next
    }
    on { print }' "$page" | sed 's/\\-/-/g'
}

commands=()
while read -r command; do
  commands+=("$command")
  while read -r sub; do commands+=("$command $sub"); done < <(subcommands_of "$command")
done < <(subcommands_of)
if [[ ${#commands[@]} -eq 0 ]]; then
  fail "$snapcell --help lists no subcommand: nothing to check"
fi

for command in "${commands[@]}"; do
  text=$(section "snapcell $command")
  if [[ -z "$text" ]]; then
    fail "$page: no section '.SS \"snapcell $command\"' for the subcommand '$command'"
    continue
  fi
  # shellcheck disable=SC2086  # the command's words are separate arguments
  while read -r option; do
    [[ -z "$option" ]] && continue
    grep -qE -- "(^|[^a-z0-9-])${option}([^a-z0-9-]|$)" <<<"$text" ||
      fail "$page: the section of 'snapcell $command' does not document its option $option"
  done < <(options_of $command)
done

# Exit codes: the enum the CLI returns, and 128+N for a signal.
exit_status=$(awk '/^\.SH / { on = ($0 ~ /^\.SH +"?EXIT STATUS"?$/); next } on { print }' "$page")
[[ -n "$exit_status" ]] || fail "$page: no EXIT STATUS section"
codes=$(grep -rhoE --include='*.hpp' --include='*.cpp' 'exit_[a-z_]+ *= *[0-9]+' "$sources" | grep -v '^exit_code' | grep -oE '[0-9]+$' | sort -nu)
[[ -n "$codes" ]] || fail "$sources: no exit code (exit_<name> = <n>) found in the CLI's sources"
if grep -rqE --include='*.hpp' --include='*.cpp' 'return 128 \+ ' "$sources"; then codes+=$'\n128+N'; fi
for code in $codes; do
  grep -qxE "\.B $(sed 's/+/\\+/' <<<"$code")" <<<"$exit_status" ||
    fail "$page: EXIT STATUS has no entry '.B $code' for the exit code $code the CLI defines"
done

# The JSON schemas the CLI prints.
schemas=$(grep -rhoE --include='*.hpp' --include='*.cpp' '"snapcell\.[a-z]+/[0-9]+"' "$sources" | tr -d '"' | sort -u)
for schema in $schemas; do
  grep -qF "$schema" "$page" || fail "$page: the JSON schema $schema is not documented"
done

echo "${#commands[@]} command(s), $(wc -w <<<"$codes") exit code(s) and $(wc -w <<<"$schemas") schema(s) checked" \
  "against $page; $problems problem(s)"
[[ $problems -eq 0 ]]
