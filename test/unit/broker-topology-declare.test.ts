/** declareTopology's own failures, with a channel that fails the way amqplib's does (no broker needed for these). */
import { EventEmitter } from "node:events";
import type { Channel } from "amqplib";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { declareTopology } from "../../src/broker/topology.js";
import { topologyNames } from "../../src/broker/topology-names.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);

/** A channel whose declarations succeed unless `fail` says otherwise, and whose close is as given. */
function fakeChannel(options: { fail?: Error; close: (ch: EventEmitter) => Promise<void> }): Channel {
  const ch = new EventEmitter();
  const ok = () => (options.fail ? Promise.reject(options.fail) : Promise.resolve({}));
  return Object.assign(ch, { assertExchange: ok, assertQueue: ok, bindQueue: ok, checkExchange: ok, checkQueue: ok, close: () => options.close(ch) }) as unknown as Channel;
}

describe("declareTopology", () => {
  it("returns when the connection goes during the channel's close (amqplib never settles that close: publish and scrape hung for good)", async () => {
    const channel = fakeChannel({
      close: (ch) => {
        setImmediate(() => ch.emit("close"));
        return new Promise<void>(() => undefined);
      },
    });
    await expect(declareTopology({ createChannel: () => Promise.resolve(channel) }, names, { queueType: "classic", log: silentLogger })).resolves.toEqual({ warnings: [] });
  }, 5000);

  it("a refused permission is a configuration error (exit 2) naming what to grant; a channel lost, a broker connection error (exit 4); not an internal error (70)", async () => {
    const closes = (ch: EventEmitter) => (ch.emit("close"), Promise.resolve());
    const refused = Object.assign(new Error('Operation failed: ExchangeDeclare; 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to exchange \'matches\' in vhost \'/\' refused for user \'scraper\'"'), { code: 403 });
    const denied: unknown = await declareTopology({ createChannel: () => Promise.resolve(fakeChannel({ fail: refused, close: closes })) }, names, { queueType: "classic", log: silentLogger }).catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: "config_invalid", message: expect.stringMatching(/needs configure permission/) as string });
    const lost: unknown = await declareTopology({ createChannel: () => Promise.resolve(fakeChannel({ fail: new Error("Channel ended, no reply will be forthcoming"), close: closes })) }, names, { queueType: "classic", log: silentLogger }).catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: "broker_connection_lost", kind: "transient" });
  });
});
