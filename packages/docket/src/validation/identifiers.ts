import { ConfigError } from "../errors.js";

const identifierPattern = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks a Postgres identifier that comes from configuration (a schema, a table, a column).
 * Only lower-case, unquoted-style names are accepted, so that a name can never carry SQL and
 * always means the same object whether or not it is quoted.
 */
export function checkIdentifier(name: unknown, what: string, maxLength = 63): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new ConfigError(`${what} must be a non-empty string`, { path: what });
  }
  if (name.length > maxLength || !identifierPattern.test(name)) {
    throw new ConfigError(
      `${what} ${JSON.stringify(name)} is not a valid identifier: use lower-case letters, digits and _ (at most ${maxLength} characters), starting with a letter or _`,
      { path: what },
    );
  }
  return name;
}

/**
 * Whether `schema` belongs to PostgreSQL itself: the catalogs, the information schema, TOAST
 * storage and temporary schemas. Cleanup never touches them, and docket never lives in them.
 */
export function isSystemSchema(schema: string): boolean {
  return (
    schema === "pg_catalog" ||
    schema === "information_schema" ||
    schema === "pg_toast" ||
    schema.startsWith("pg_temp_") ||
    schema.startsWith("pg_toast_temp_") ||
    schema === "pg_temp"
  );
}
