-- The inbox of @factlib/consume: one row per fact a consumer handled, written in the consumer's own
-- transaction. Apply it with migrateInbox(client), or with psql -f. Keep rows longer than the topic's
-- retention; inbox.purge(tx, before) deletes older ones.
create table if not exists factlib_inbox (consumer text not null, fact_id text not null, handled_at timestamptz not null default now(), primary key (consumer, fact_id));
create index if not exists factlib_inbox_handled_at on factlib_inbox (handled_at);
