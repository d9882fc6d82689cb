-- Quotas: who caused each order, so that the orders one member causes on one app in a minute
-- can be counted (and limited) in the transaction that queues the next one.
alter table outbox add column requested_by blob;
create index outbox_rate_idx on outbox (app_id, requested_by, created_at) where requested_by is not null;
