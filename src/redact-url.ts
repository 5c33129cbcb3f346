/**
 * URLs made safe to print: settings, errors and logs name a broker, database or feed mirror
 * without the credentials it may carry.
 */

/** Query names that carry a credential: ?password=, ?api_key=, ?token=, ?sig=, ?X-Amz-Signature=, ?auth=... */
const SECRET_QUERY_NAME = /pass|secret|token|key|sig|auth|credential/i;

/**
 * `amqp://user:secret@host//` -> `amqp://user:***@host//`. On http(s), a user name without a
 * password (`https://ghp_token@mirror/`) is how a token is often given, so it is masked instead;
 * a broker's or database's user name stays readable (it says which account).
 */
export function redactUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const u = new URL(value);
    // "user:1234/pa55@host" parses as port 1234 and a path holding the rest of the password:
    // nothing there reads as a password, and the value was returned whole.
    if (u.password === "" && `${u.pathname}${u.search}${u.hash}`.includes("@") && HIDDEN_PASSWORD.test(value)) return withoutPassword(value);
    if (u.password) u.password = "***";
    else if (u.username && /^https?:$/.test(u.protocol)) u.username = "***";
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_QUERY_NAME.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return withoutPassword(value);
  }
}

/** `//user:` then anything up to an "@": a password, however the URL parser read it. */
const HIDDEN_PASSWORD = /\/\/[^:/@\s]+:[^@\s]*@/;

/** A value the URL parser cannot read rightly, masked as text. */
function withoutPassword(value: string): string {
  // Up to the last "@" before whitespace: an unencoded "@" in a password must not leak its tail.
  return value.replace(/\/\/([^:/@\s]+):(\S*)@/, "//$1:***@").replace(/^(https?:\/\/)([^:/@\s]+)@/i, "$1***@");
}
