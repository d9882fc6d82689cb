-- Records of an app declared as data (autoscalers, log drains, one-off containers, review
-- apps, log archives, cron jobs): one table, a row per record, its fields a JSON object the
-- record's type reads and writes. A record's secret (a log drain's URL) is sealed like a
-- variable's value. `unique_key` is what must be unique among an app's records of a kind (an
-- autoscaler's container type, a review app's open pull request).
create table app_records (
    id uuid primary key,
    app_id uuid not null references apps (id) on delete cascade,
    kind text not null,
    unique_key text,
    data jsonb not null,
    secret bytea,
    created_by uuid references users (id) on delete set null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create unique index app_records_unique_idx on app_records (app_id, kind, unique_key) where unique_key is not null;
create index app_records_kind_idx on app_records (app_id, kind, id);
-- Single-use credentials (one-off attach) are found by their hash alone.
create index app_records_key_idx on app_records (kind, unique_key) where unique_key is not null;

-- The app's lifecycle: stopped or running, its stack, and the app it was made from.
alter table apps add column status text not null default 'running';
alter table apps add column stack text not null default 'scalingo-22';
alter table apps add column parent_id uuid references apps (id) on delete restrict;
