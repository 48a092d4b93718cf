-- The consent ledger is evidence: it must still explain past sends after a member unbinds, so rows are never
-- changed or removed. Enforced in the database, not only in code.
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'consent_ledger is append-only';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE OR DELETE ON consent_ledger
  FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
