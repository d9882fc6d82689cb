-- Least privilege over time: use of each membership and permission, time-bound access,
-- and API tokens scoped to some permissions and apps.

-- Written at most once a minute per membership, never per request.
alter table collaborators add column last_used_at timestamptz;
-- After this instant the member is refused; a sweep then removes the membership.
alter table collaborators add column access_expires_at timestamptz;
create index collaborators_expiry_idx on collaborators (access_expires_at) where access_expires_at is not null;

alter table invitations add column access_expires_at timestamptz;

-- When each member last exercised each permission (at most once a minute per pair).
create table permission_usage (
    membership_id uuid not null references collaborators (id) on delete cascade,
    permission text not null,
    last_used_at timestamptz not null,
    primary key (membership_id, permission)
);

-- JSON arrays; null means unrestricted. Scope only ever narrows the user's roles.
alter table api_tokens add column scope_permissions jsonb;
alter table api_tokens add column scope_apps jsonb;
