-- The application's tables that the cleanup targets of targets.js look after: the six kinds of
-- data Distr prunes (https://distr.sh/docs/self-hosting/maintenance). Run by setup.js.

CREATE TABLE IF NOT EXISTS deployment_log_record (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deployment_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  severity text NOT NULL DEFAULT 'info',
  body text NOT NULL
);
-- keepLatest walks each deployment's records newest first: this index makes that cheap.
CREATE INDEX IF NOT EXISTS deployment_log_record_deployment_created
  ON deployment_log_record (deployment_id, created_at DESC);

CREATE TABLE IF NOT EXISTS deployment_target_log_record (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deployment_target_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  body text NOT NULL
);
CREATE INDEX IF NOT EXISTS deployment_target_log_record_target_created
  ON deployment_target_log_record (deployment_target_id, created_at DESC);

CREATE TABLE IF NOT EXISTS deployment_revision_status (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deployment_revision_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL,
  message text NOT NULL
);
CREATE INDEX IF NOT EXISTS deployment_revision_status_created ON deployment_revision_status (created_at);

CREATE TABLE IF NOT EXISTS deployment_target_metrics (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deployment_target_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  cpu_cores_millis integer NOT NULL,
  memory_bytes bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS deployment_target_metrics_created ON deployment_target_metrics (created_at);

CREATE TABLE IF NOT EXISTS oidc_state (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS oidc_state_expires ON oidc_state (expires_at);

-- Registry blobs (their bytes live in object storage) and the artifact versions that use them.
CREATE TABLE IF NOT EXISTS artifact_blob (
  digest text PRIMARY KEY,
  size_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS artifact_version_part (
  artifact_version_id uuid NOT NULL,
  blob_digest text NOT NULL REFERENCES artifact_blob (digest),
  PRIMARY KEY (artifact_version_id, blob_digest)
);
CREATE INDEX IF NOT EXISTS artifact_version_part_blob ON artifact_version_part (blob_digest);
