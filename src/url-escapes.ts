/**
 * The parts of a RabbitMQ URL that matchflow decodes itself (the management API's Basic
 * credentials, an AMQP URL's vhost), decoded as amqplib decodes them for the AMQP connection:
 * valid percent-escapes as UTF-8, and a "%" that starts none ("50%off", "p%zz") kept as it is.
 * `decodeURIComponent` threw URIError on the latter, which ended `queue status` as an internal
 * error (exit 70) for a URL whose AMQP connection worked; refusing such a URL instead would break
 * a deployment that works. Pure.
 */
import { unescape as queryUnescape } from "node:querystring";

export function decodeUrlPart(text: string): string {
  return queryUnescape(text);
}
