-- The table every example writes next to its facts.
create table if not exists orders (
  id text primary key,
  total numeric(12, 2) not null,
  created_at timestamptz not null default now()
);
