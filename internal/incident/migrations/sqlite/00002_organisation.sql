-- The emergency organisation of each facility (guideline 6.10): its two
-- named officers (the CISO and the medical-information-system security
-- manager), the CSIRT's members and their roles, the on-call shifts, the
-- external contacts with their phone numbers, the emergency rules (every
-- version kept) and the register of emergency (break-glass) accounts.
-- Times are Unix milliseconds (UTC); 0 means not set.

-- +goose Up
CREATE TABLE incident_officers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    facility     BIGINT  NOT NULL,
    role         TEXT    NOT NULL,            -- ciso, security_manager
    name         TEXT    NOT NULL,
    title        TEXT    NOT NULL DEFAULT '',
    phone_office TEXT    NOT NULL DEFAULT '',
    phone_mobile TEXT    NOT NULL DEFAULT '',
    mail         TEXT    NOT NULL DEFAULT '',
    updated      BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL,
    UNIQUE (facility, role)
);

CREATE TABLE incident_members (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    facility     BIGINT  NOT NULL,
    login        TEXT    NOT NULL DEFAULT '', -- anzen login, if the member has one
    name         TEXT    NOT NULL,
    department   TEXT    NOT NULL DEFAULT '',
    roles        TEXT    NOT NULL,            -- comma-separated CSIRT roles
    phone_office TEXT    NOT NULL DEFAULT '',
    phone_mobile TEXT    NOT NULL DEFAULT '',
    mail         TEXT    NOT NULL DEFAULT '',
    deputy       BIGINT  NOT NULL DEFAULT 0,  -- the member who stands in; 0 for none
    updated      BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL
);
CREATE INDEX incident_members_facility ON incident_members (facility, id);

CREATE TABLE incident_oncall (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    facility   BIGINT  NOT NULL,
    member_id  BIGINT  NOT NULL REFERENCES incident_members (id) ON DELETE CASCADE,
    starts     BIGINT  NOT NULL,
    ends       BIGINT  NOT NULL,
    tier       TEXT    NOT NULL,              -- primary, secondary
    created    BIGINT  NOT NULL,
    created_by TEXT    NOT NULL
);
CREATE INDEX incident_oncall_time ON incident_oncall (ends, starts);
CREATE INDEX incident_oncall_facility ON incident_oncall (facility, starts);

CREATE TABLE incident_contacts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    facility     BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,            -- vendor, mhlw, police, prefecture, health_centre, ppc, ipa, nisc, insurer, other
    standard     TEXT    NOT NULL DEFAULT '', -- key of a standard authority added in one click; '' for the hospital's own
    organisation TEXT    NOT NULL,
    system       TEXT    NOT NULL DEFAULT '', -- for a vendor: the system it supplies
    person       TEXT    NOT NULL DEFAULT '',
    phone        TEXT    NOT NULL DEFAULT '',
    phone2       TEXT    NOT NULL DEFAULT '',
    mail         TEXT    NOT NULL DEFAULT '',
    when_to_call TEXT    NOT NULL DEFAULT '',
    notes        TEXT    NOT NULL DEFAULT '',
    updated      BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL
);
CREATE INDEX incident_contacts_facility ON incident_contacts (facility, id);

CREATE TABLE incident_emergency_rules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    facility         BIGINT  NOT NULL,
    version          BIGINT  NOT NULL,
    criteria         TEXT    NOT NULL,        -- JSON list of the criteria for declaring an emergency
    declarer         TEXT    NOT NULL,
    deputy           TEXT    NOT NULL DEFAULT '',
    steps            TEXT    NOT NULL DEFAULT '',
    return_criteria  TEXT    NOT NULL DEFAULT '',
    return_steps     TEXT    NOT NULL DEFAULT '',
    reconcile        TEXT    NOT NULL DEFAULT '', -- reconciling data written on paper after recovery
    created          BIGINT  NOT NULL,
    created_by       TEXT    NOT NULL,
    UNIQUE (facility, version)
);

CREATE TABLE incident_emergency_accounts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    facility    BIGINT  NOT NULL,
    system      TEXT    NOT NULL,             -- the system, as people name it
    source      TEXT    NOT NULL DEFAULT '',  -- its source name in the audit log; '' for any source
    account     TEXT    NOT NULL,             -- the account's user id at that system
    location    TEXT    NOT NULL,             -- where the sealed credential is kept
    custodian   TEXT    NOT NULL,
    state       TEXT    NOT NULL,             -- sealed, used
    sealed_at   BIGINT  NOT NULL,             -- since when it is sealed: any use after this counts
    first_use   BIGINT  NOT NULL DEFAULT 0,
    last_use    BIGINT  NOT NULL DEFAULT 0,
    uses        BIGINT  NOT NULL DEFAULT 0,
    changed_at  BIGINT  NOT NULL DEFAULT 0,   -- when the credential was last changed and sealed again
    changed_by  TEXT    NOT NULL DEFAULT '',
    created     BIGINT  NOT NULL,
    created_by  TEXT    NOT NULL,
    UNIQUE (facility, system, account)
);
CREATE INDEX incident_emergency_accounts_state ON incident_emergency_accounts (state, id);

-- +goose Down
DROP TABLE incident_emergency_accounts;
DROP TABLE incident_emergency_rules;
DROP TABLE incident_contacts;
DROP TABLE incident_oncall;
DROP TABLE incident_members;
DROP TABLE incident_officers;
