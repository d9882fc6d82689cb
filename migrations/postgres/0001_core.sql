-- Accounts, API tokens, apps, memberships, invitations and the activity timeline.
-- Timestamps are written by the service (its clock is injectable), never by now().

create table users (
    id uuid primary key,
    email text not null,
    name text,
    password_hash text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    last_seen_at timestamptz
);
create unique index users_email_key on users (email);

create table api_tokens (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    name text not null,
    token_hash bytea not null,
    created_at timestamptz not null,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
create unique index api_tokens_hash_key on api_tokens (token_hash);
create index api_tokens_user_idx on api_tokens (user_id, id);

create table apps (
    id uuid primary key,
    name text not null,
    default_branch text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index apps_name_key on apps (name);

create table collaborators (
    id uuid primary key,
    app_id uuid not null references apps (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    role text not null check (role in ('owner', 'collaborator', 'limited_collaborator')),
    invited_by uuid references users (id) on delete set null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
-- One membership per user and app; user first, as every access check starts from the user.
create unique index collaborators_user_app_key on collaborators (user_id, app_id);
-- Never two owners. "Never zero" is kept by the transactions that move ownership.
create unique index collaborators_one_owner_key on collaborators (app_id) where role = 'owner';
create index collaborators_app_idx on collaborators (app_id, created_at);

create table invitations (
    id uuid primary key,
    app_id uuid not null references apps (id) on delete cascade,
    email text not null,
    role text not null check (role in ('collaborator', 'limited_collaborator')),
    token_hash bytea not null,
    status text not null check (status in ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by uuid references users (id) on delete set null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    responded_at timestamptz,
    responded_by uuid references users (id) on delete set null
);
create unique index invitations_token_key on invitations (token_hash);
-- At most one pending invitation per app and email, whatever races.
create unique index invitations_one_pending_key on invitations (app_id, email) where status = 'pending';
create index invitations_email_idx on invitations (email) where status = 'pending';
create index invitations_app_idx on invitations (app_id, id);

create table events (
    id uuid primary key,
    -- No foreign key: the timeline is kept when an app is deleted, for the operator's audit.
    app_id uuid,
    app_name text not null,
    actor_id uuid,
    actor_email text,
    type text not null,
    data jsonb not null,
    created_at timestamptz not null
);
create index events_app_idx on events (app_id, id);
