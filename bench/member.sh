# Sourced by bench/run and bench/cold-start (not run on its own).
#
# bench_member EMAIL APP: one real user signed up through the API at $BASE, made a limited
# collaborator of the seeded app APP in $PG/$DB, and its first request made; sets JWT (the
# bearer the figures use).
bench_member() {
    local email=$1 app=$2 password='quiet lanterns drift over copper hills' token
    curl -fs -X POST "$BASE/v1/users" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null
    token=$(curl -fs -X POST -u "$email:$password" "$BASE/v1/tokens" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
    JWT=$(curl -fs -X POST -u ":$token" "$BASE/v1/tokens/exchange" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
    psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -c "insert into collaborators (id, app_id, user_id, role, created_at, updated_at)
        select gen_random_uuid(), a.id, u.id, 'limited_collaborator', now(), now()
        from apps a, users u where a.name = '$app' and u.email = '$email'"
    curl -fs -o /dev/null "$BASE/v1/apps/$app" -H "authorization: Bearer $JWT"
}
