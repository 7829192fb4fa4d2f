-- downgrade 0007
ALTER TABLE refresh_tokens DROP COLUMN cert_thumbprint;

-- downgrade 0006
ALTER TABLE organizations DROP COLUMN cert_self_service;

DROP INDEX ix_certificates_revoked_at;

DROP INDEX ix_certificates_org_id_status;

DROP INDEX ix_certificates_not_after;

DROP TABLE certificates;

DROP INDEX ix_certificate_requests_status_created_at;

DROP INDEX ix_certificate_requests_org_id;

DROP TABLE certificate_requests;

DROP TABLE ca_certificates;

-- downgrade 0005
DROP INDEX ix_signing_keys_org_id;

DROP TABLE signing_keys;

-- downgrade 0004
DROP INDEX ix_api_keys_org_id;

DROP TABLE api_keys;

-- downgrade 0003
DROP INDEX ix_service_keys_org_id;

DROP TABLE service_keys;

-- downgrade 0002
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;

DROP INDEX ix_memberships_account_id;

DROP TABLE memberships;

DROP INDEX ix_apps_org_id;

DROP TABLE apps;

DROP TABLE organizations;

-- downgrade 0001
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;

DROP FUNCTION IF EXISTS audit_events_append_only();

DROP INDEX ix_refresh_tokens_family_id;

DROP INDEX ix_refresh_tokens_account_id;

DROP TABLE refresh_tokens;

DROP INDEX ix_email_tokens_account_id;

DROP TABLE email_tokens;

DROP TABLE addresses;

DROP TABLE account_roles;

DROP INDEX ix_server_keys_purpose;

DROP TABLE server_keys;

DROP INDEX ix_audit_events_org_id;

DROP INDEX ix_audit_events_kind_at;

DROP INDEX ix_audit_events_at;

DROP INDEX ix_audit_events_actor_id;

DROP TABLE audit_events;

DROP TABLE accounts;

