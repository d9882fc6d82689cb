-- SQLite mirror of migrations/postgres/0001_core.sql: uuid and bytea are blobs, timestamps are
-- RFC 3339 text in UTC (so they compare correctly as text), json is text.
-- Accounts, API tokens, apps, memberships, invitations and the activity timeline.
-- Timestamps are written by the service (its clock is injectable), never by now().

create table users (
    id blob primary key,
    email text not null,
    name text,
    password_hash text,
    created_at text not null,
    updated_at text not null,
    last_seen_at text
);
create unique index users_email_key on users (email);

create table api_tokens (
    id blob primary key,
    user_id blob not null references users (id) on delete cascade,
    name text not null,
    token_hash blob not null,
    created_at text not null,
    expires_at text,
    last_used_at text,
    revoked_at text
);
create unique index api_tokens_hash_key on api_tokens (token_hash);
create index api_tokens_user_idx on api_tokens (user_id, id);

create table apps (
    id blob primary key,
    name text not null,
    default_branch text not null,
    created_at text not null,
    updated_at text not null
);
create unique index apps_name_key on apps (name);

create table collaborators (
    id blob primary key,
    app_id blob not null references apps (id) on delete cascade,
    user_id blob not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'collaborator', 'limited_collaborator')),
    invited_by blob references users (id) on delete set null,
    created_at text not null,
    updated_at text not null
);
-- One membership per user and app; user first, as every access check starts from the user.
create unique index collaborators_user_app_key on collaborators (user_id, app_id);
-- Never two owners. "Never zero" is kept by the transactions that move ownership.
create unique index collaborators_one_owner_key on collaborators (app_id) where role = 'owner';
create index collaborators_app_idx on collaborators (app_id, created_at);

create table invitations (
    id blob primary key,
    app_id blob not null references apps (id) on delete cascade,
    email text not null,
    role text not null check (role in ('collaborator', 'limited_collaborator')),
    token_hash blob not null,
    status text not null check (status in ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by blob references users (id) on delete set null,
    created_at text not null,
    expires_at text not null,
    responded_at text,
    responded_by blob references users (id) on delete set null
);
create unique index invitations_token_key on invitations (token_hash);
-- At most one pending invitation per app and email, whatever races.
create unique index invitations_one_pending_key on invitations (app_id, email) where status = 'pending';
create index invitations_email_idx on invitations (email) where status = 'pending';
create index invitations_app_idx on invitations (app_id, id);

create table events (
    id blob primary key,
    -- No foreign key: the timeline is kept when an app is deleted, for the operator's audit.
    app_id blob,
    app_name text not null,
    actor_id blob,
    actor_email text,
    type text not null,
    data text not null,
    created_at text not null
);
create index events_app_idx on events (app_id, id);
