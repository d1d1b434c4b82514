-- Messages callers leave (complaints, night service). The audio lives in
-- ccd's recording store; its SHA-256 makes tampering evident.
CREATE TABLE messages (
    id            uuid PRIMARY KEY,
    call_id       uuid,
    caller_number text        NOT NULL DEFAULT '',
    did           text        NOT NULL DEFAULT '',
    flow          text        NOT NULL DEFAULT '',
    node          text        NOT NULL DEFAULT '',
    language      text        NOT NULL DEFAULT '',
    recorded_at   timestamptz NOT NULL,
    duration_ms   bigint      NOT NULL,
    file          text        NOT NULL,
    size_bytes    bigint      NOT NULL,
    sha256        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX messages_recorded_at ON messages (recorded_at);
CREATE INDEX messages_caller ON messages (caller_number, recorded_at);

ALTER TABLE call_records ADD COLUMN flow text NOT NULL DEFAULT '';
ALTER TABLE call_records ADD COLUMN flow_version integer;
ALTER TABLE call_records DROP CONSTRAINT call_records_outcome_check;
ALTER TABLE call_records ADD CONSTRAINT call_records_outcome_check
    CHECK (outcome IN ('in_progress', 'completed', 'no_input', 'abandoned', 'failed', 'rejected', 'shutdown', 'transferred'));
