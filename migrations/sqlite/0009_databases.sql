-- Database add-ons (issue 13). Settings of one add-on (a database's backup schedule, internet
-- access, configuration, maintenance window) are the app settings' twin, keyed by add-on and
-- gone with it. Backups and database users are app records (`app_records`, kinds
-- `database_backup` and `database_user`) whose `unique_key` starts with the add-on's id.
create table addon_settings (
    addon_id blob not null references addons (id) on delete cascade,
    key text not null,
    value text not null,
    updated_by blob references users (id) on delete set null,
    updated_at text not null,
    primary key (addon_id, key)
);

-- A database's own logs and metrics, fed by the platform like the app's.
create table database_log_lines (
    id integer primary key autoincrement,
    addon_id blob not null references addons (id) on delete cascade,
    timestamp text not null,
    source text not null,
    message text not null
);
create index database_log_lines_addon_idx on database_log_lines (addon_id, id);

create table database_metric_samples (
    addon_id blob not null references addons (id) on delete cascade,
    kind text not null check (kind in ('cpu', 'memory', 'disk', 'connections')),
    time text not null,
    value real not null
);
create index database_metric_samples_addon_idx on database_metric_samples (addon_id, kind, time);

-- Whether a restore or an upgrade of a database is under way is a look-up of its requests.
create index requests_target_idx on requests (target_id, status) where target_id is not null;
