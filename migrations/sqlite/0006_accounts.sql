-- Accounts you can trust: verified addresses, single-use links by mail, login throttling,
-- the account's own security history, and JWTs that die with a password change.

alter table users add column email_verified boolean not null default false;

-- JWTs of this token issued before this time are refused ("sign out everywhere" keeps the
-- API token that asked for it, but not its older JWTs).
alter table api_tokens add column jwts_valid_from text;

-- Single-use links sent by mail: address verification and password reset (also used to
-- claim an unverified account). Stored as the SHA-256 of the secret.
create table user_tokens (
    id blob primary key,
    user_id blob not null references users (id) on delete cascade,
    kind text not null check (kind in ('verify_email', 'password_reset')),
    token_hash blob not null,
    email text not null,
    created_at text not null,
    expires_at text not null,
    used_at text
);
create unique index user_tokens_hash_key on user_tokens (token_hash);
create index user_tokens_user_idx on user_tokens (user_id, kind, created_at);

-- Failed password checks, by client address and email (known or not), for throttling.
create table login_failures (
    id blob primary key,
    client text not null,
    email text not null,
    failed_at text not null
);
create index login_failures_client_idx on login_failures (client, failed_at);
create index login_failures_pair_idx on login_failures (client, email, failed_at);

-- An account's own security history.
create table security_events (
    id blob primary key,
    user_id blob not null references users (id) on delete cascade,
    type text not null,
    client text,
    data text not null,
    created_at text not null
);
create index security_events_user_idx on security_events (user_id, id);
