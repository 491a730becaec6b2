-- What the vendor took per minute (gross, minor units), for its dashboard; added to by each group commit.
CREATE TABLE vendor_revenue (
  minute bigint PRIMARY KEY,
  amount bigint NOT NULL,
  payments integer NOT NULL
);
