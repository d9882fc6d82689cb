-- Accounts that cannot be taken over: claim links of their own kind, and failed sign-ins
-- counted per account (whatever the client) until a success.

-- `account_claim`: the link mailed to the owner of an address an unverified account holds.
-- SQLite cannot change a check constraint: the table is made again (nothing references it).
create table user_tokens_new (
    id blob primary key,
    user_id blob not null references users (id) on delete cascade,
    kind text not null check (kind in ('verify_email', 'password_reset', 'account_claim')),
    token_hash blob not null,
    email text not null,
    created_at text not null,
    expires_at text not null,
    used_at text
);
insert into user_tokens_new (id, user_id, kind, token_hash, email, created_at, expires_at, used_at)
    select id, user_id, kind, token_hash, email, created_at, expires_at, used_at from user_tokens;
drop table user_tokens;
alter table user_tokens_new rename to user_tokens;
create unique index user_tokens_hash_key on user_tokens (token_hash);
create index user_tokens_user_idx on user_tokens (user_id, kind, created_at);

-- Consecutive failed passwords and second factors of the account, the last one's time (the
-- back-off runs from it), and when the 100th locked password and code sign-ins.
alter table users add column failed_signins integer not null default 0;
alter table users add column last_failed_signin_at text;
alter table users add column signin_locked_at text;
