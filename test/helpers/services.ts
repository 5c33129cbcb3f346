/** Where the real services of this machine are, overridable for other hosts. */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const AMQP_BASE = process.env.TEST_AMQP_BASE ?? "amqp://guest:guest@127.0.0.1:5672";
export const RABBIT_API = process.env.TEST_RABBIT_API ?? "http://guest:guest@127.0.0.1:15672/api";

export function pgUrlFor(database: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
