-- Call detail records: one row per call, written when the call starts and
-- completed when it ends, so a call cut off by a crash still leaves a trace.
CREATE TABLE call_records (
    call_id           uuid PRIMARY KEY,
    channel_id        text        NOT NULL,
    instance          text        NOT NULL,
    caller_number     text        NOT NULL DEFAULT '',
    caller_name       text        NOT NULL DEFAULT '',
    did               text        NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL,
    answered_at       timestamptz,
    ended_at          timestamptz,
    digits            text        NOT NULL DEFAULT '',
    outcome           text        NOT NULL DEFAULT 'in_progress'
        CHECK (outcome IN ('in_progress', 'completed', 'no_input', 'abandoned', 'failed', 'rejected', 'shutdown')),
    hangup_cause      integer,
    hangup_cause_text text        NOT NULL DEFAULT '',
    hangup_by         text        NOT NULL DEFAULT ''
        CHECK (hangup_by IN ('', 'caller', 'system')),
    error             text        NOT NULL DEFAULT ''
);

CREATE INDEX call_records_started_at ON call_records (started_at);
CREATE INDEX call_records_caller ON call_records (caller_number, started_at);
CREATE INDEX call_records_in_progress ON call_records (instance) WHERE outcome = 'in_progress';
