-- Leader election and producer heartbeats, which the maintenance services rely on.
-- Runs with search_path set to the target schema, so names are unqualified here.

-- One lease per name: the node holding it leads until expires_at unless it renews the lease.
-- Every node compares against the database's clock, so app servers' clocks do not matter.
CREATE TABLE leaders (
  name text PRIMARY KEY,
  node text NOT NULL,
  elected_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

-- One row per running queue of each node, refreshed every heartbeat interval. A job's
-- producer is (jobs.attempted_by, jobs.queue); the lifeline rescues the jobs of producers
-- whose row has gone stale or missing, and leaves those of live producers alone.
CREATE TABLE producers (
  node text NOT NULL,
  queue text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  concurrency integer NOT NULL DEFAULT 0,
  PRIMARY KEY (node, queue)
);

-- The leader deletes stale rows by heartbeat age.
CREATE INDEX producers_heartbeat_idx ON producers (heartbeat_at);
