-- Small per-app configuration objects (review-app settings, and the like), one row per app
-- and key, the value a JSON object the setting's type reads and writes.
create table app_settings (
    app_id uuid not null references apps (id) on delete cascade,
    key text not null,
    value jsonb not null,
    updated_by uuid references users (id) on delete set null,
    updated_at timestamptz not null,
    primary key (app_id, key)
);
