/** Telling RabbitMQ's two 403 ACCESS_REFUSED apart: an exclusive consumer, or a missing permission. */
import { describe, expect, it } from "vitest";
import { accessRefusalOf, permissionNeededFor, permissionRefused, reservedNameOf } from "../../src/broker/access-refused.js";

/** A channel close as amqplib rejects with it (texts as RabbitMQ 3.10 sends them). */
function closed(method: string, text: string, code = 403): Error {
  return Object.assign(new Error(`Operation failed: ${method}; ${code} (ACCESS-REFUSED) with message "${text}"`), { code });
}

const EXCLUSIVE = "ACCESS_REFUSED - queue 'matches.dead_letter' in vhost 'prod' in exclusive use";
const PERMISSION = "ACCESS_REFUSED - access to queue 'matches.dead_letter' in vhost 'prod' refused for user 'ops'";

describe("accessRefusalOf", () => {
  it("an exclusive consumer of the queue", () => {
    expect(accessRefusalOf(closed("BasicConsume", EXCLUSIVE))).toEqual({ kind: "exclusive" });
  });

  it("a permission the user lacks, with the user and vhost the broker named", () => {
    expect(accessRefusalOf(closed("BasicConsume", PERMISSION))).toEqual({ kind: "permission", user: "ops", vhost: "prod", text: PERMISSION });
    const lock = "ACCESS_REFUSED - access to queue 'matches.dead_letter.lock' in vhost '/' refused for user 'guest'";
    expect(accessRefusalOf(closed("QueueDeclare", lock))).toMatchObject({ kind: "permission", user: "guest", vhost: "/" });
  });

  it("a queue whose name says 'in exclusive use' is still a permission refusal", () => {
    const text = "ACCESS_REFUSED - access to queue 'in exclusive use' in vhost 'v' refused for user 'u'";
    expect(accessRefusalOf(closed("BasicConsume", text))).toMatchObject({ kind: "permission", user: "u" });
  });

  it("a 403 in words it does not know is taken for a permission problem, keeping the broker's text", () => {
    expect(accessRefusalOf(closed("BasicConsume", "ACCESS_REFUSED - something new"))).toEqual({ kind: "permission", user: undefined, vhost: undefined, text: "ACCESS_REFUSED - something new" });
  });

  it("anything else is no refusal", () => {
    expect(accessRefusalOf(Object.assign(new Error("NOT_FOUND - no queue 'x' in vhost '/'"), { code: 404 }))).toBeUndefined();
    expect(accessRefusalOf(Object.assign(new Error("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue"), { code: 405 }))).toBeUndefined();
    expect(accessRefusalOf(undefined)).toBeUndefined();
  });
});

describe("permissionRefused", () => {
  it("one line naming the user, what it needs and where, with the broker's words; exit 2 (config_invalid)", () => {
    const refusal = accessRefusalOf(closed("BasicConsume", PERMISSION));
    if (refusal?.kind !== "permission") throw new Error("expected a permission refusal");
    const err = permissionRefused(refusal, "read permission on queue matches.dead_letter", "dlq commands consume it");
    expect(err).toMatchObject({ code: "config_invalid", kind: "permanent" });
    expect(err.message).toBe(
      `RabbitMQ user 'ops' lacks read permission on queue matches.dead_letter in vhost 'prod' (dlq commands consume it): grant it with rabbitmqctl set_permissions (the broker said: ${PERMISSION})`,
    );
    expect(err.message).not.toContain("\n");
  });
});

describe("what a refused operation needs", () => {
  const refused = (op: string, text: string) => Object.assign(new Error(`Operation failed: ${op}; 403 (ACCESS-REFUSED) with message "${text}"`), { code: 403 });
  it("names the permission RabbitMQ checks for the operation amqplib names", () => {
    expect(permissionNeededFor(refused("QueueDeclare", "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'"))).toBe("configure permission");
    expect(permissionNeededFor(refused("ExchangeDeclare", "x"))).toBe("configure permission");
    expect(permissionNeededFor(refused("QueueBind", "x"))).toMatch(/^write permission on the queue .* read permission on the exchange/);
    expect(permissionNeededFor(refused("BasicPublish", "x"))).toBe("write permission");
    expect(permissionNeededFor(refused("BasicConsume", "x"))).toBe("read permission");
    expect(permissionNeededFor(new Error("something else"))).toBe("configure, write and read permission");
  });

  it("tells a reserved amq. name from a permission", () => {
    expect(reservedNameOf(refused("QueueDeclare", "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'"))).toEqual({ what: "queue", name: "amq.foo" });
    expect(reservedNameOf(refused("ExchangeDeclare", "ACCESS_REFUSED - exchange name 'amq.x' contains reserved prefix 'amq.*'"))).toEqual({ what: "exchange", name: "amq.x" });
    expect(reservedNameOf(refused("QueueDeclare", "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'"))).toBeUndefined();
  });
});
