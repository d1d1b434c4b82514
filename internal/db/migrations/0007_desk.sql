-- The browser agent desktop: people who log in (users), their sessions, the
-- audit trail of what they did, customer profiles for the screen pop, and the
-- wrap-up (disposition) an agent gives a call after it.

-- People. role decides what they may do; agent_id is the ACD agent they take
-- calls as (one person per agent seat). password_hash is an argon2id PHC
-- string; it never leaves the server.
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    display_name  text        NOT NULL DEFAULT '',
    role          text        NOT NULL CHECK (role IN ('agent', 'team_leader', 'duty_manager', 'admin')),
    agent_id      text REFERENCES acd_agents (id) ON DELETE SET NULL,
    password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_agent ON users (agent_id) WHERE agent_id IS NOT NULL;

-- Desktop sessions. id is the hex SHA-256 of the random token in the cookie:
-- a copy of this table opens no session. A session ends at expires_at
-- (absolute limit) or when last_seen_at is older than the idle limit.
CREATE TABLE sessions (
    id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text        NOT NULL CHECK (csrf_token <> ''),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ip           text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Who did what, when, from where, and whether it was allowed. Append-only:
-- rows cannot be changed or deleted. user_id has no foreign key so that the
-- trail outlives the user; username keeps the name used at the time.
-- Failed logins here also drive login throttling.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    user_id  uuid,
    username text        NOT NULL DEFAULT '',
    action   text        NOT NULL CHECK (action <> ''),
    target   text        NOT NULL DEFAULT '',
    detail   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    ip       text        NOT NULL DEFAULT '',
    outcome  text        NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed'))
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user ON audit_log (username, at);
CREATE INDEX audit_log_action_user ON audit_log (action, username, at);
CREATE INDEX audit_log_action_ip ON audit_log (action, ip, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Customer profiles. phones are normalised (digits, optional leading +) and
-- found through the GIN index when a call arrives. contacts is a JSON array of
-- {name, phone, email, role, company}: a company's people, and a person who
-- belongs to several companies appears in each.
CREATE TABLE customers (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL DEFAULT '',
    level      text        NOT NULL DEFAULT 'potential'
        CHECK (level IN ('potential', 'individual', 'company', 'vip')),
    company    text        NOT NULL DEFAULT '',
    phones     text[]      NOT NULL DEFAULT '{}',
    contacts   jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(contacts) = 'array'),
    notes      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX customers_phones ON customers USING gin (phones);

-- The disposition an agent gives a call they handled, with notes. One per
-- call and agent (a transferred call has one per agent); posting again
-- replaces it, and the audit log keeps both.
CREATE TABLE wrapups (
    call_id     uuid        NOT NULL REFERENCES call_records (call_id) ON DELETE CASCADE,
    agent_id    text        NOT NULL CHECK (agent_id <> ''),
    disposition text        NOT NULL CHECK (disposition ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    notes       text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    PRIMARY KEY (call_id, agent_id)
);

CREATE INDEX wrapups_agent ON wrapups (agent_id, at);

-- Which agent talked on a call: screen pop history, an agent's own history
-- and the ownership check look calls up in the agent state log by call id.
CREATE INDEX acd_agent_states_call ON acd_agent_states (call_id) WHERE call_id <> '';
