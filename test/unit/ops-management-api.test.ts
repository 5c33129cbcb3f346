/** Where the management API is and whose credentials it gets; parsing its queue object. */
import { describe, expect, it } from "vitest";
import { managementTarget, parseManagementQueue, vhostOfAmqpUrl } from "../../src/ops/management-api.js";

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

describe("managementTarget", () => {
  it("takes the credentials of the management URL when it has them", () => {
    const t = managementTarget("http://mon:s3cret@rabbit:15672", "amqp://app:pw@rabbit:5672/prod");
    expect(t).toEqual({ apiBase: "http://rabbit:15672/api", authorization: basic("mon", "s3cret"), vhost: "prod" });
  });

  it("falls back to RABBITMQ_URL's credentials, then guest", () => {
    expect(managementTarget("http://rabbit:15672/", "amqp://app:p%40ss@rabbit/").authorization).toBe(basic("app", "p@ss"));
    expect(managementTarget("http://rabbit:15672", "amqp://rabbit").authorization).toBe(basic("guest", "guest"));
  });

  it("never sends a TLS broker URL's password over plain http: refused as a configuration error; https, or credentials of its own, are fine", () => {
    expect(() => managementTarget("http://rabbit:15672", "amqps://app:s3cret@rabbit:5671/")).toThrow(expect.objectContaining({ code: "config_invalid", message: expect.stringMatching(/clear text/) as string }));
    expect(() => managementTarget("http://rabbit:15672", "amqps://app:s3cret@rabbit:5671/")).not.toThrow(/s3cret/);
    expect(managementTarget("https://rabbit:15671", "amqps://app:s3cret@rabbit:5671/").authorization).toBe(basic("app", "s3cret"));
    expect(managementTarget("http://mon:m0n@rabbit:15672", "amqps://app:s3cret@rabbit:5671/").authorization).toBe(basic("mon", "m0n"));
  });

  it("accepts a URL that already ends in /api, or sits under a path prefix", () => {
    expect(managementTarget("https://ops.example/rabbitmq/api/", "amqp://h").apiBase).toBe("https://ops.example/rabbitmq/api");
    expect(managementTarget("https://ops.example/rabbitmq", "amqp://h").apiBase).toBe("https://ops.example/rabbitmq/api");
  });
});

describe("vhostOfAmqpUrl", () => {
  it("decodes the vhost and defaults to /", () => {
    expect(vhostOfAmqpUrl("amqp://h:5672/%2Fmatches")).toBe("/matches");
    expect(vhostOfAmqpUrl("amqp://h:5672/")).toBe("/");
    expect(vhostOfAmqpUrl("amqp://h")).toBe("/");
  });
});

describe("parseManagementQueue", () => {
  it("reads counts, consumers and rates", () => {
    expect(
      parseManagementQueue({ messages_ready: 5, messages_unacknowledged: 2, consumers: 1, message_stats: { publish_details: { rate: 3.5 }, deliver_get_details: { rate: 1 } } }),
    ).toEqual({ ready: 5, unacked: 2, consumers: 1, publishRate: 3.5, deliverRate: 1 });
  });

  it("a queue without traffic has rate 0; stats without a rate leave it unknown", () => {
    expect(parseManagementQueue({ messages_ready: 0, consumers: 0 })).toMatchObject({ publishRate: 0, deliverRate: 0 });
    expect(parseManagementQueue({ message_stats: { publish: 4 } })).toMatchObject({ publishRate: null, deliverRate: null });
  });

  it("a queue the API has not sampled yet has unknown figures, not an empty unconsumed queue", () => {
    // What RabbitMQ 3.10 answers for a queue declared (and published to) moments ago.
    const fresh = { name: "matches", durable: true, arguments: {}, consumer_details: [], deliveries: [], incoming: [], type: "classic", vhost: "/" };
    expect(parseManagementQueue(fresh)).toEqual({ ready: null, unacked: null, consumers: null, publishRate: null, deliverRate: null });
  });

  it("publish and delivery statistics are sampled apart: one can be there without the other", () => {
    const counts = { messages_ready: 6, messages_unacknowledged: 1, consumers: 1 };
    expect(parseManagementQueue({ ...counts, message_stats: { publish: 7, publish_details: { rate: 0 } } })).toEqual({ ready: 6, unacked: 1, consumers: 1, publishRate: 0, deliverRate: null });
  });
});
