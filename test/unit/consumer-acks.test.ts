/** ConsumerAcks on a recording channel: which acks go on the wire, and when. */
import type { Channel } from "amqplib";
import { describe, expect, it } from "vitest";
import { ConsumerAcks } from "../../src/broker/consumer-acks.js";
import { silentLogger } from "../../src/log.js";

function recordingChannel() {
  const sent: string[] = [];
  const channel = {
    ack: (m: { fields: { deliveryTag: number } }, multiple: boolean) => sent.push(`${multiple ? "multiple" : "one"} ${m.fields.deliveryTag}`),
    nack: (m: { fields: { deliveryTag: number } }) => sent.push(`nack ${m.fields.deliveryTag}`),
  };
  return { channel: channel as unknown as Channel, sent };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("ConsumerAcks", () => {
  it("coalesces the acks of one event-loop turn into one multiple-ack", async () => {
    const { channel, sent } = recordingChannel();
    const acks = new ConsumerAcks(channel, silentLogger, 20);
    for (const tag of [3, 1, 2]) acks.ack(tag);
    await turn();
    expect(sent).toEqual(["multiple 3"]);
    acks.stop();
  });

  it("acks one by one what waits behind a delivery that has not settled for a period, and only then", async () => {
    const { channel, sent } = recordingChannel();
    const acks = new ConsumerAcks(channel, silentLogger, 20);
    for (const tag of [2, 3, 4]) acks.ack(tag);
    await turn();
    expect(sent).toEqual([]);
    // A lower delivery that does settle within the period: one multiple-ack, nothing alone.
    acks.ack(1);
    await turn();
    expect(sent).toEqual(["multiple 4"]);
    // Tag 5 does not settle (its copy's confirm is withheld): 6 and 7 go alone within two periods.
    acks.ack(6);
    acks.ack(7);
    await expect.poll(() => sent.length, { timeout: 5000, interval: 5 }).toBe(3);
    expect(sent.slice(1).sort()).toEqual(["one 6", "one 7"]);
    // When 5 settles, one multiple-ack covers it and 8, passing 6 and 7 (acked already) without targeting them.
    acks.copied(5);
    acks.ack(8);
    await turn();
    expect(sent.slice(3)).toEqual(["multiple 8"]);
    acks.stop();
  });

  it("sends nothing once stopped (the channel is closing)", async () => {
    const { channel, sent } = recordingChannel();
    const acks = new ConsumerAcks(channel, silentLogger, 20);
    acks.stop();
    acks.ack(1);
    acks.requeue(2);
    await turn();
    expect(sent).toEqual([]);
  });

  it("a requeue on a channel amqplib says is closing does not throw (the broker gives the delivery back anyway)", async () => {
    const { channel, sent } = recordingChannel();
    (channel as unknown as { nack: () => void }).nack = () => {
      throw new Error("Channel closing");
    };
    const acks = new ConsumerAcks(channel, silentLogger, 20);
    expect(() => acks.requeue(1)).not.toThrow();
    // And it counts as settled: a later multiple-ack passes it without targeting it.
    acks.ack(2);
    await turn();
    expect(sent).toEqual(["multiple 2"]);
    acks.stop();
  });

  it("finish: before the channel closes, what can be is multiple-acked and what waits behind an open delivery is acked one by one", async () => {
    const { channel, sent } = recordingChannel();
    const acks = new ConsumerAcks(channel, silentLogger, 60_000);
    for (const tag of [1, 2, 4, 5]) acks.ack(tag);
    acks.finish();
    expect(sent).toEqual(["multiple 2", "one 4", "one 5"]);
    await turn();
    expect(sent).toHaveLength(3); // nothing twice
    acks.stop();
  });
});
