DROP FUNCTION IF EXISTS release_dependents(bigint[]);
