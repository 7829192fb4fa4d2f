-- upgrade 0001
CREATE TABLE accounts (
    id VARCHAR(36) NOT NULL, 
    email VARCHAR(320), 
    password_hash VARCHAR(255), 
    kind VARCHAR(16) NOT NULL, 
    name VARCHAR(255), 
    locale VARCHAR(8) NOT NULL, 
    source VARCHAR(64) NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    owner_id VARCHAR(36), 
    email_confirmed_at TIMESTAMP WITHOUT TIME ZONE, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_accounts PRIMARY KEY (id), 
    CONSTRAINT fk_accounts_owner_id_accounts FOREIGN KEY(owner_id) REFERENCES accounts (id) ON DELETE SET NULL, 
    CONSTRAINT uq_accounts_email UNIQUE (email)
);

CREATE TABLE audit_events (
    id BIGSERIAL NOT NULL, 
    at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    kind VARCHAR(64) NOT NULL, 
    outcome VARCHAR(8) NOT NULL, 
    actor_type VARCHAR(16) NOT NULL, 
    actor_id VARCHAR(64), 
    org_id VARCHAR(36), 
    target_type VARCHAR(32), 
    target_id VARCHAR(64), 
    ip VARCHAR(64), 
    data JSON NOT NULL, 
    CONSTRAINT pk_audit_events PRIMARY KEY (id)
);

CREATE INDEX ix_audit_events_actor_id ON audit_events (actor_id);

CREATE INDEX ix_audit_events_at ON audit_events (at);

CREATE INDEX ix_audit_events_kind_at ON audit_events (kind, at);

CREATE INDEX ix_audit_events_org_id ON audit_events (org_id);

CREATE TABLE server_keys (
    kid VARCHAR(64) NOT NULL, 
    purpose VARCHAR(32) NOT NULL, 
    algorithm VARCHAR(16) NOT NULL, 
    public_der BYTEA, 
    sealed_private BYTEA NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    retired_at TIMESTAMP WITHOUT TIME ZONE, 
    verify_until TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_server_keys PRIMARY KEY (kid)
);

CREATE INDEX ix_server_keys_purpose ON server_keys (purpose);

CREATE TABLE account_roles (
    account_id VARCHAR(36) NOT NULL, 
    role VARCHAR(64) NOT NULL, 
    CONSTRAINT pk_account_roles PRIMARY KEY (account_id, role), 
    CONSTRAINT fk_account_roles_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE TABLE addresses (
    id VARCHAR(36) NOT NULL, 
    account_id VARCHAR(36) NOT NULL, 
    address VARCHAR(128) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    type VARCHAR(16) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_addresses PRIMARY KEY (id), 
    CONSTRAINT fk_addresses_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id) ON DELETE CASCADE, 
    CONSTRAINT uq_addresses_account_id UNIQUE (account_id, address)
);

CREATE TABLE email_tokens (
    id VARCHAR(36) NOT NULL, 
    account_id VARCHAR(36) NOT NULL, 
    purpose VARCHAR(16) NOT NULL, 
    digest VARCHAR(64) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    used_at TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_email_tokens PRIMARY KEY (id), 
    CONSTRAINT fk_email_tokens_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id) ON DELETE CASCADE, 
    CONSTRAINT uq_email_tokens_digest UNIQUE (digest)
);

CREATE INDEX ix_email_tokens_account_id ON email_tokens (account_id);

CREATE TABLE refresh_tokens (
    id VARCHAR(36) NOT NULL, 
    account_id VARCHAR(36) NOT NULL, 
    family_id VARCHAR(36) NOT NULL, 
    parent_id VARCHAR(36), 
    digest VARCHAR(64) NOT NULL, 
    issued_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    used_at TIMESTAMP WITHOUT TIME ZONE, 
    revoked_at TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_refresh_tokens PRIMARY KEY (id), 
    CONSTRAINT fk_refresh_tokens_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id) ON DELETE CASCADE, 
    CONSTRAINT uq_refresh_tokens_digest UNIQUE (digest)
);

CREATE INDEX ix_refresh_tokens_account_id ON refresh_tokens (account_id);

CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- upgrade 0002
CREATE TABLE organizations (
    id VARCHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    kind VARCHAR(16) NOT NULL, 
    created_by VARCHAR(36), 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_organizations PRIMARY KEY (id), 
    CONSTRAINT fk_organizations_created_by_accounts FOREIGN KEY(created_by) REFERENCES accounts (id) ON DELETE SET NULL
);

CREATE TABLE apps (
    id VARCHAR(36) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_apps PRIMARY KEY (id), 
    CONSTRAINT fk_apps_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE, 
    CONSTRAINT uq_apps_org_id UNIQUE (org_id, name)
);

CREATE INDEX ix_apps_org_id ON apps (org_id);

CREATE TABLE memberships (
    org_id VARCHAR(36) NOT NULL, 
    account_id VARCHAR(36) NOT NULL, 
    role VARCHAR(32) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_memberships PRIMARY KEY (org_id, account_id), 
    CONSTRAINT fk_memberships_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id) ON DELETE CASCADE, 
    CONSTRAINT fk_memberships_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE INDEX ix_memberships_account_id ON memberships (account_id);

ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL;

-- upgrade 0003
CREATE TABLE service_keys (
    key_id VARCHAR(64) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    public_der BYTEA NOT NULL, 
    generated BOOLEAN NOT NULL, 
    apps JSON NOT NULL, 
    methods JSON NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    generation INTEGER NOT NULL, 
    previous_public_der BYTEA, 
    previous_valid_until TIMESTAMP WITHOUT TIME ZONE, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    rotated_at TIMESTAMP WITHOUT TIME ZONE, 
    last_used_at TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_service_keys PRIMARY KEY (key_id), 
    CONSTRAINT fk_service_keys_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE INDEX ix_service_keys_org_id ON service_keys (org_id);

-- upgrade 0004
CREATE TABLE api_keys (
    key_id VARCHAR(32) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    digest VARCHAR(64) NOT NULL, 
    last4 VARCHAR(4) NOT NULL, 
    previous_digest VARCHAR(64), 
    previous_valid_until TIMESTAMP WITHOUT TIME ZONE, 
    apps JSON NOT NULL, 
    methods JSON NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    expires_at TIMESTAMP WITHOUT TIME ZONE, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    revoked_at TIMESTAMP WITHOUT TIME ZONE, 
    last_used_at TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_api_keys PRIMARY KEY (key_id), 
    CONSTRAINT fk_api_keys_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE INDEX ix_api_keys_org_id ON api_keys (org_id);

-- upgrade 0005
CREATE TABLE signing_keys (
    key_id VARCHAR(36) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    public_der BYTEA NOT NULL, 
    key_type VARCHAR(16) NOT NULL, 
    login VARCHAR(128), 
    terminal_id VARCHAR(64), 
    algorithms JSON NOT NULL, 
    apps JSON NOT NULL, 
    methods JSON NOT NULL, 
    allowed_ips JSON NOT NULL, 
    password_hash VARCHAR(255), 
    replay_window INTEGER NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    last_used_at TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_signing_keys PRIMARY KEY (key_id), 
    CONSTRAINT fk_signing_keys_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE, 
    CONSTRAINT uq_signing_keys_login UNIQUE (login), 
    CONSTRAINT uq_signing_keys_terminal_id UNIQUE (terminal_id)
);

CREATE INDEX ix_signing_keys_org_id ON signing_keys (org_id);

-- upgrade 0006
CREATE TABLE ca_certificates (
    kid VARCHAR(64) NOT NULL, 
    certificate_pem TEXT NOT NULL, 
    chain_pem TEXT NOT NULL, 
    key_type VARCHAR(16) NOT NULL, 
    source VARCHAR(16) NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    retired_at TIMESTAMP WITHOUT TIME ZONE, 
    revocations INTEGER NOT NULL, 
    crl_number BIGINT NOT NULL, 
    crl_revocations INTEGER NOT NULL, 
    crl_der BYTEA, 
    crl_this_update TIMESTAMP WITHOUT TIME ZONE, 
    crl_next_update TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_ca_certificates PRIMARY KEY (kid), 
    CONSTRAINT fk_ca_certificates_kid_server_keys FOREIGN KEY(kid) REFERENCES server_keys (kid) ON DELETE RESTRICT
);

CREATE TABLE certificate_requests (
    id VARCHAR(36) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    csr_pem TEXT NOT NULL, 
    subject VARCHAR(2048) NOT NULL, 
    key_type VARCHAR(16) NOT NULL, 
    apps JSON NOT NULL, 
    methods JSON NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    requested_by VARCHAR(36), 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    decided_by VARCHAR(36), 
    decided_at TIMESTAMP WITHOUT TIME ZONE, 
    reason VARCHAR(255), 
    certificate_serial VARCHAR(40), 
    CONSTRAINT pk_certificate_requests PRIMARY KEY (id), 
    CONSTRAINT fk_certificate_requests_org_id_organizations FOREIGN KEY(org_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE INDEX ix_certificate_requests_org_id ON certificate_requests (org_id);

CREATE INDEX ix_certificate_requests_status_created_at ON certificate_requests (status, created_at);

CREATE TABLE certificates (
    serial VARCHAR(40) NOT NULL, 
    org_id VARCHAR(36) NOT NULL, 
    request_id VARCHAR(36), 
    ca_kid VARCHAR(64) NOT NULL, 
    subject VARCHAR(2048) NOT NULL, 
    apps JSON NOT NULL, 
    methods JSON NOT NULL, 
    not_before TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    not_after TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    revoked_at TIMESTAMP WITHOUT TIME ZONE, 
    revocation_reason VARCHAR(32), 
    thumbprint VARCHAR(64) NOT NULL, 
    pem TEXT NOT NULL, 
    issued_by VARCHAR(36), 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_certificates PRIMARY KEY (serial), 
    CONSTRAINT fk_certificates_request_id_certificate_requests FOREIGN KEY(request_id) REFERENCES certificate_requests (id) ON DELETE SET NULL, 
    CONSTRAINT uq_certificates_thumbprint UNIQUE (thumbprint)
);

CREATE INDEX ix_certificates_not_after ON certificates (not_after);

CREATE INDEX ix_certificates_org_id_status ON certificates (org_id, status);

CREATE INDEX ix_certificates_revoked_at ON certificates (revoked_at);

ALTER TABLE organizations ADD COLUMN cert_self_service BOOLEAN DEFAULT false NOT NULL;

-- upgrade 0007
ALTER TABLE refresh_tokens ADD COLUMN cert_thumbprint VARCHAR(64);

