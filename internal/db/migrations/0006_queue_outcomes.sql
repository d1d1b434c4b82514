-- Calls that went through an ACD queue end talking to an agent, or with a
-- callback request that keeps their place.
ALTER TABLE call_records DROP CONSTRAINT call_records_outcome_check;
ALTER TABLE call_records ADD CONSTRAINT call_records_outcome_check
    CHECK (outcome IN ('in_progress', 'completed', 'no_input', 'abandoned', 'failed', 'rejected', 'shutdown',
                       'transferred', 'agent', 'callback'));
