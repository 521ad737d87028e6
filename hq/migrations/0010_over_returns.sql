-- Two tills that have not heard of each other (both offline) can each return the same unit of a
-- sale. Both returns stand: they were committed and the money was paid. HQ notes each line of a
-- sale returned more often than it was sold, for the chain's staff to look into (the admin
-- integrity report); a later return of the same line updates the count.
CREATE TABLE over_returns (
  terminal_id text NOT NULL,                 -- the sale's terminal
  sale_id text NOT NULL,
  number text NOT NULL,
  line_no integer NOT NULL,
  sold integer NOT NULL,
  returned integer NOT NULL,
  noted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, sale_id, line_no)
);
