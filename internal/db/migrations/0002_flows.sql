-- IVR flow documents with versions, their publication history, and the
-- binding of hotline DIDs to flows.
CREATE TABLE flows (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL
);

-- One row per saved version. source is the text the admin wrote (YAML or
-- JSON), doc the parsed document as JSON. At most one version of a flow is
-- published at a time.
CREATE TABLE flow_versions (
    flow         text        NOT NULL REFERENCES flows (name),
    version      integer     NOT NULL CHECK (version > 0),
    state        text        NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'published', 'archived')),
    source       text        NOT NULL,
    doc          jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    published_at timestamptz,
    published_by text        NOT NULL DEFAULT '',
    PRIMARY KEY (flow, version)
);

CREATE UNIQUE INDEX flow_versions_one_published ON flow_versions (flow) WHERE state = 'published';

-- Every publication, in order: the stack a roll-back walks down. A roll-back
-- marks the current publication undone and re-publishes the one below it.
CREATE TABLE flow_publications (
    id           bigserial PRIMARY KEY,
    flow         text        NOT NULL,
    version      integer     NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text        NOT NULL,
    undone_at    timestamptz,
    undone_by    text        NOT NULL DEFAULT '',
    FOREIGN KEY (flow, version) REFERENCES flow_versions (flow, version)
);

CREATE INDEX flow_publications_flow ON flow_publications (flow, id) WHERE undone_at IS NULL;

-- The flow that answers each DID; '*' is the default for the others.
CREATE TABLE did_bindings (
    did        text PRIMARY KEY,
    flow       text        NOT NULL REFERENCES flows (name),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL
);

-- Who bound or unbound which DID, and when (flow is NULL for an unbinding).
CREATE TABLE did_binding_log (
    id         bigserial PRIMARY KEY,
    did        text        NOT NULL,
    flow       text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text        NOT NULL
);
