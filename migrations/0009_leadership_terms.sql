-- 0009 leadership terms: each time a replica becomes leader of a singleton (the node monitor,
-- the ticker, the autoscaler), the term's epoch goes up by one. A singleton's writes check, in
-- their own transaction, that their epoch is still the current one: a leader that lost its
-- session (killed, cut off, hung) cannot act once another replica took over.
CREATE TABLE leadership_terms (
    name    text PRIMARY KEY,
    epoch   int8 NOT NULL CHECK (epoch > 0),
    holder  text NOT NULL,
    since   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE leadership_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE leadership_terms FORCE ROW LEVEL SECURITY;
-- caas_row_visible(NULL) holds only in the system scope.
CREATE POLICY tenant_isolation ON leadership_terms USING (caas_row_visible(NULL)) WITH CHECK (caas_row_visible(NULL));
