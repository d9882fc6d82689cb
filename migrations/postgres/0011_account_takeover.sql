-- Accounts that cannot be taken over: claim links of their own kind, and failed sign-ins
-- counted per account (whatever the client) until a success.

-- `account_claim`: the link mailed to the owner of an address an unverified account holds.
alter table user_tokens drop constraint user_tokens_kind_check;
alter table user_tokens add constraint user_tokens_kind_check
    check (kind in ('verify_email', 'password_reset', 'account_claim'));

-- Consecutive failed passwords and second factors of the account, the last one's time (the
-- back-off runs from it), and when the 100th locked password and code sign-ins.
alter table users add column failed_signins integer not null default 0;
alter table users add column last_failed_signin_at timestamptz;
alter table users add column signin_locked_at timestamptz;
