-- The projection this consumer writes. The inbox table comes from @factlib/consume (inbox.sql).
create table if not exists order_totals (
  day date primary key,
  orders integer not null,
  revenue numeric(14, 2) not null
);
