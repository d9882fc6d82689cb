-- Platform requests as data: one table for every operation the platform carries out whose
-- record needs nothing of its own, and outbox channels (the platform's webhook; mail next).

alter table outbox add column channel text not null default 'platform';
drop index outbox_due_idx;
create index outbox_due_idx on outbox (channel, next_attempt_at) where delivered_at is null;

create table requests (
    id uuid primary key,
    app_id uuid not null references apps (id) on delete cascade,
    type text not null,
    -- The record the request acts on (an add-on, say), if any.
    target_id uuid,
    data jsonb not null,
    status text not null check (status in ('queued', 'running', 'done', 'failed')),
    message text,
    order_id uuid not null unique,
    requested_by uuid references users (id) on delete set null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index requests_app_idx on requests (app_id, id);
