#!/usr/bin/env bash
# Runs rolegate's access review and fails when it has findings: for a monthly cron job or a
# scheduled CI job. See docs/access-review.md.
#
# Usage:
#   ROLEGATE_URL=https://rolegate.example.com ROLEGATE_TOKEN=rg_... \
#     access-review.sh [--app APP] [--csv FILE]
#
#   ROLEGATE_URL    the API's base URL
#   ROLEGATE_TOKEN  an unscoped API token of the apps' owner (the review covers every app
#                   that account owns; scoped tokens are refused with 403)
#   --app APP       review one app (name or id) instead of all of them
#   --csv FILE      also save the whole review (every member and pending invitation, with or
#                   without findings) as CSV in FILE, for the record
#
# Exit status: 0 no findings; 1 findings (printed as a table); 2 usage or request error.
# Needs bash, curl and jq.
set -euo pipefail

usage() { sed -n '5,17s/^# \{0,1\}//p' "$0"; }
fail() { echo "access-review: $*" >&2; exit 2; }

app=
csv_file=
while [ $# -gt 0 ]; do
    case "$1" in
        --app) [ $# -ge 2 ] || fail "--app needs an app name or id"; app=$2; shift 2 ;;
        --csv) [ $# -ge 2 ] || fail "--csv needs a file name"; csv_file=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument: $1" ;;
    esac
done
[ -n "${ROLEGATE_URL:-}" ] || fail "set ROLEGATE_URL (for instance https://rolegate.example.com)"
[ -n "${ROLEGATE_TOKEN:-}" ] || fail "set ROLEGATE_TOKEN to an unscoped API token of the apps' owner"
command -v curl >/dev/null || fail "curl is required"
command -v jq >/dev/null || fail "jq is required"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch ACCEPT OUTPUT: GET /v1/access-review into OUTPUT; exits 2 unless the answer is 200.
fetch() {
    local status args=()
    [ -n "$app" ] && args=(--data-urlencode "app=$app")
    # The token goes through a file, not the command line, so `ps` does not show it.
    printf 'header = "Authorization: Bearer %s"\n' "$ROLEGATE_TOKEN" >"$tmp/auth"
    status=$(curl -sS --get --config "$tmp/auth" -H "Accept: $1" -o "$2" -w '%{http_code}' \
        ${args[@]+"${args[@]}"} "${ROLEGATE_URL%/}/v1/access-review") ||
        fail "could not reach $ROLEGATE_URL"
    if [ "$status" != 200 ]; then
        fail "GET /v1/access-review answered $status: $(jq -r '.detail // empty' "$2" 2>/dev/null || true)"
    fi
}

fetch application/json "$tmp/review.json"
if [ -n "$csv_file" ]; then
    fetch text/csv "$tmp/review.csv"
    cp "$tmp/review.csv" "$csv_file" || fail "could not write $csv_file"
fi

findings=$(jq '[.items[] | .findings[]] | length' "$tmp/review.json")
reviewed=$(jq '.items | length' "$tmp/review.json")
window=$(jq '.stale_after_days' "$tmp/review.json")

# An owner is always in their own app's review: an empty review means the wrong account or
# a mistyped --app, which must not pass as "no findings".
if [ "$reviewed" -eq 0 ]; then
    fail "the review is empty: this token's account owns no app${app:+ named $app}"
fi
if [ "$findings" -eq 0 ]; then
    echo "access review: no findings ($reviewed members and invitations reviewed, stale after $window days)"
    exit 0
fi

# One line per finding, columns padded to their widest cell.
jq -r '
  def pad($n): if $n > length then . + (" " * ($n - length)) else . end;
  [["APP", "EMAIL", "ROLE", "STATUS", "FINDING", "SUGGESTED", "MESSAGE"]]
  + [.items[] as $r | $r.findings[]
     | [$r.app, $r.email, $r.role, $r.status, .code, (.suggested_role // "-"), .message]]
  | (transpose | map(map(length) | max)) as $w
  | .[] | [to_entries[] | .key as $i | .value | pad($w[$i])] | join("  ") | sub(" +$"; "")
' "$tmp/review.json"
echo
echo "access review: $findings finding(s) in $reviewed members and invitations (stale after $window days)"
exit 1
