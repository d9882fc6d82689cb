-- Seeds :apps apps with :members memberships in all (one owner each, the rest limited
-- collaborators spread over a pool of users), straight in SQL: going through the API
-- would measure argon2 and invitations, not the access check.
-- psql variables: apps, members, users.
begin;
insert into users (id, email, name, password_hash, created_at, updated_at)
select gen_random_uuid(), 'seed-' || i || '@bench.invalid', null, null, now(), now()
from generate_series(1, :users) as i;

create temporary table seed_users as
select id, row_number() over (order by email) as n from users where email like 'seed-%@bench.invalid';
create index on seed_users (n);

insert into apps (id, name, default_branch, created_at, updated_at)
select gen_random_uuid(), 'seed-app-' || i, 'main', now(), now() from generate_series(1, :apps) as i;

create temporary table seed_apps as
select id, row_number() over (order by name) as n from apps where name like 'seed-app-%';
create index on seed_apps (n);

-- Owners: user n owns app n.
insert into collaborators (id, app_id, user_id, role, invited_by, created_at, updated_at)
select gen_random_uuid(), a.id, u.id, 'owner', null, now(), now()
from seed_apps a join seed_users u on u.n = a.n;

-- The other members: app a gets users a+1 .. a+(members/apps - 1), wrapping round the pool.
insert into collaborators (id, app_id, user_id, role, invited_by, created_at, updated_at)
select gen_random_uuid(), a.id, u.id, 'limited_collaborator', null, now(), now()
from seed_apps a
cross join generate_series(1, (:members / :apps) - 1) as k
join seed_users u on u.n = ((a.n + k - 1) % :users) + 1;
commit;
analyze;
