-- ACD configuration (queues, agents, pause reasons) as admins set it, the
-- last-agent memory, and the log of agent state changes for reports. The
-- live routing state (who is available, which calls wait) is in Redis; these
-- tables are what it is built from and what reports read.

-- A queue's configuration is kept whole as JSON (acd.QueueConfig, defaults
-- applied): new settings need no migration. overflow_queue repeats the
-- target of an overflow "queue:<id>" so that the database refuses to delete
-- a queue another one overflows to.
CREATE TABLE acd_queues (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    name           text        NOT NULL DEFAULT '',
    config         jsonb       NOT NULL,
    overflow_queue text REFERENCES acd_queues (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (overflow_queue IS DISTINCT FROM id)
);

CREATE INDEX acd_queues_overflow ON acd_queues (overflow_queue) WHERE overflow_queue IS NOT NULL;

-- Agents: device is the dial string that rings them (PJSIP/1001), skills a
-- JSON object of skill name to level 1..5, rank the order for the linear and
-- round-robin strategies (lower first).
CREATE TABLE acd_agents (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_]{1,32}$'),
    name       text        NOT NULL DEFAULT '',
    team       text        NOT NULL DEFAULT '',
    device     text        NOT NULL DEFAULT '',
    skills     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(skills) = 'object'),
    rank       integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Reasons agents pick when they pause. Productive ones (training, back
-- office) count as working time on reports. Automatic ones are set by the
-- ACD itself (missed_offers) and cannot be deleted.
CREATE TABLE acd_pause_reasons (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    label      text        NOT NULL CHECK (label <> ''),
    label_zh   text        NOT NULL DEFAULT '',
    productive boolean     NOT NULL DEFAULT false,
    automatic  boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO acd_pause_reasons (code, label, label_zh, productive, automatic) VALUES
    ('break',         'Break',          '休息',     false, false),
    ('lunch',         'Lunch',          '午餐',     false, false),
    ('training',      'Training',       '培训',     true,  false),
    ('meeting',       'Meeting',        '会议',     true,  false),
    ('back_office',   'Back office',    '后台工作', true,  false),
    ('missed_offers', 'Missed offers',  '漏接来电', false, true);

-- Last-agent memory: one row per caller number, the agent who served them
-- last. No foreign key to acd_agents: removing an agent removes their rows
-- (the store does it), and a caller keeps their row when a queue goes.
CREATE TABLE acd_last_agent (
    caller_number text PRIMARY KEY CHECK (caller_number <> ''),
    agent_id      text        NOT NULL,
    queue_id      text        NOT NULL,
    served_at     timestamptz NOT NULL
);

CREATE INDEX acd_last_agent_agent ON acd_last_agent (agent_id);

-- Every agent state change, append-only, for reports (time logged in, on
-- calls, paused by reason). call_id and reason are '' when not relevant.
CREATE TABLE acd_agent_states (
    id         bigserial PRIMARY KEY,
    agent_id   text        NOT NULL,
    from_state text        NOT NULL
        CHECK (from_state IN ('logged_out', 'available', 'reserved', 'on_call', 'wrap_up', 'paused')),
    to_state   text        NOT NULL
        CHECK (to_state IN ('logged_out', 'available', 'reserved', 'on_call', 'wrap_up', 'paused')),
    reason     text        NOT NULL DEFAULT '',
    call_id    text        NOT NULL DEFAULT '',
    at         timestamptz NOT NULL
);

CREATE INDEX acd_agent_states_agent ON acd_agent_states (agent_id, at);
CREATE INDEX acd_agent_states_at ON acd_agent_states (at);
