-- SQLite mirror of migrations/postgres/0002_resources.sql (see 0001_core.sql for the type mapping).
-- The app's own resources: variables, deployments, formation, logs, metrics, add-ons,
-- and the outbox of orders for the platform.

alter table apps add column formation text not null default '[]';

-- A sealed secret (variable value, a secret detail of an event): nonce || ciphertext of
-- XChaCha20-Poly1305 under ROLEGATE_SECRETS_KEY, bound to its row by associated data.
alter table events add column secret blob;

create table variables (
    id blob primary key,
    app_id blob not null references apps (id) on delete cascade,
    name text not null,
    value_sealed blob not null,
    created_at text not null,
    updated_at text not null
);
create unique index variables_app_name_key on variables (app_id, name);

create table deployments (
    id blob primary key,
    app_id blob not null references apps (id) on delete cascade,
    git_ref text not null,
    kind text not null check (kind in ('deploy', 'redeploy')),
    status text not null,
    requested_by blob references users (id) on delete set null,
    requested_by_email text,
    idempotency_key text,
    output text not null default '',
    created_at text not null,
    finished_at text
);
create index deployments_app_idx on deployments (app_id, id);
-- A retried redeploy with the same Idempotency-Key finds the first one.
create unique index deployments_idempotency_key on deployments (app_id, requested_by, idempotency_key)
    where idempotency_key is not null;

create table log_lines (
    id integer primary key autoincrement,
    app_id blob not null references apps (id) on delete cascade,
    timestamp text not null,
    source text not null,
    message text not null
);
create index log_lines_app_idx on log_lines (app_id, id);

create table metric_samples (
    app_id blob not null references apps (id) on delete cascade,
    kind text not null check (kind in ('cpu', 'memory', 'requests')),
    time text not null,
    value real not null
);
create index metric_samples_app_idx on metric_samples (app_id, kind, time);

create table addons (
    id blob primary key,
    app_id blob not null references apps (id) on delete cascade,
    provider text not null,
    plan text not null,
    status text not null check (status in ('provisioning', 'running', 'updating')),
    credentials_sealed blob,
    created_at text not null,
    updated_at text not null
);
create index addons_app_idx on addons (app_id, id);

create table outbox (
    id blob primary key,
    app_id blob,
    type text not null,
    payload text not null,
    created_at text not null,
    attempts integer not null default 0,
    next_attempt_at text not null,
    locked_until text,
    delivered_at text,
    last_error text
);
create index outbox_due_idx on outbox (next_attempt_at) where delivered_at is null;
