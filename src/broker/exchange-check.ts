/**
 * Whether an exchange exists, asked before a Celery follow-up is published to an exchange its
 * signature names. Publishing to a missing exchange is not returned like an unroutable message:
 * the broker closes the channel (404), and with it every copy in flight on the worker's confirm
 * channel (retries, dead letters of other tasks). A passive declare on a channel of its own
 * finds out instead; an exchange seen to exist is not asked about again for a while.
 */
import type { Channel } from "amqplib";
import { TransientError } from "../errors.js";

/** How long an exchange seen to exist is believed to: a deletion within it costs the confirm channel. */
const KNOWN_FOR_MS = 10_000;
/** Names remembered at most (producers choose them). */
const MAX_KNOWN = 256;

export class ExchangeCheck {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly openChannel: () => Promise<Channel>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws TransientError `unroutable` when `exchange` does not exist; other failures as they come. */
  async require(exchange: string): Promise<void> {
    const seen = this.known.get(exchange);
    if (seen !== undefined && this.now() - seen < KNOWN_FOR_MS) return;
    const channel = await this.openChannel();
    // The 404 closes this channel; the failing call reports it.
    channel.on("error", () => undefined);
    try {
      await channel.checkExchange(exchange);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) throw new TransientError("unroutable", `exchange "${exchange}" does not exist`, { cause: err, details: { missingExchange: exchange } });
      throw err;
    }
    await channel.close().catch(() => undefined);
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(exchange, this.now());
  }
}

/** The `unroutable` error of `require`: the exchange itself is missing (not merely unbound). */
export function isMissingExchange(err: unknown): err is TransientError {
  return err instanceof TransientError && typeof (err.details as { missingExchange?: unknown } | undefined)?.missingExchange === "string";
}
