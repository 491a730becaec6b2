-- Who held each chain over which range of indexes: a vendor may redeem only coins it accepted while
-- it held the chain, from the index it got it at to the index it handed it on at.
CREATE TABLE chain_holdings (
  chain_id text NOT NULL REFERENCES chains (chain_id),
  seq integer NOT NULL,
  party_id text NOT NULL,
  start_index integer NOT NULL,
  end_index integer,
  started_at bigint NOT NULL,
  PRIMARY KEY (chain_id, seq)
);
CREATE INDEX chain_holdings_party ON chain_holdings (chain_id, party_id);
