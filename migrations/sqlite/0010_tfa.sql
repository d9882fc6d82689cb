-- Two-factor authentication (TOTP, RFC 6238) and apps that require it of every member.

-- The TOTP secret, sealed with the secrets key (bound to the user's id); set while enrolment
-- is pending and while 2FA is on. `tfa_enabled_at` is set once a code confirmed it: 2FA is on
-- exactly when it is not null. `tfa_last_step` is the last time step whose code was accepted,
-- so no code is ever accepted twice (the test is in the UPDATE).
alter table users add column tfa_secret blob;
alter table users add column tfa_enabled_at text;
alter table users add column tfa_last_step integer;

-- Single-use recovery codes, stored as the SHA-256 of the code (80 random bits each).
create table tfa_recovery_codes (
    id blob primary key,
    user_id blob not null references users (id) on delete cascade,
    code_hash blob not null,
    created_at text not null,
    used_at text
);
create unique index tfa_recovery_codes_user_hash_key on tfa_recovery_codes (user_id, code_hash);

-- While set, a member without 2FA is refused on every route of the app but a few.
alter table apps add column require_tfa boolean not null default false;
