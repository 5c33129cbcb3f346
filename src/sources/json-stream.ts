/**
 * Incremental reading of a large JSON document whose top level is an object holding big arrays
 * (the assist schedule: `{"synced_at": ..., "events": [ ~750-byte objects x 50,000 ]}`): text
 * goes in chunk by chunk, the top-level members come out one at a time, and an array member's
 * elements come out one at a time, so the document is never held whole, as text or as objects.
 *
 * Why not a streaming JSON library: measured on the 37.5 MB generated season (CPU seconds, file
 * read included), JSON.parse of the whole text 0.79 s, @streamparser/json 2.5 s, stream-json
 * 8.1 s: a character-by-character tokenizer in JavaScript costs 3-10x V8's native parser, i.e.
 * 35-150 us more per match on a scrape that spends ~160 us per match in all. So this only finds
 * where each value starts and ends (tracking strings, escapes and nesting, jumping through string
 * contents with the native `indexOf`) and hands each value's text to JSON.parse, which does the
 * real parsing and validates it: about the cost of JSON.parse alone, for bounded memory.
 *
 * The whole document is checked as JSON.parse would check it (structure between the values
 * here, each value by JSON.parse): any error is a `NotJsonError`, whatever the chunking.
 */

import { MAX_VALUE_CHARS, TooLargeError } from "./limits.js";

/** The text is not JSON (an HTML page, a truncated or corrupt document). */
export class NotJsonError extends Error {}

/** JSON that stopped mid-document: over HTTP, a connection closed early (a body without a length). */
export class TruncatedJsonError extends NotJsonError {}

/** What a document's top level turned out to be. Only an object's members are handed out. */
export type TopLevel = "object" | "array" | "scalar";

export interface TopLevelHandler {
  /** An element of a top-level array, parsed (without this handler, a top-level array is only checked). */
  rootElement?(index: number, value: unknown): void;
  /** A member of the top-level object whose value is not an array, parsed (duplicates: each one, in order). */
  member(key: string, value: unknown): void;
  /** A member of the top-level object whose value is an array: its elements follow. */
  arrayStart(key: string): void;
  /** One element of the array member `key`, parsed; `index` counts from 0. */
  element(key: string, index: number, value: unknown): void;
}

const enum State {
  RootValue,
  /** After `{`: a key or `}`. */
  FirstKey,
  /** After `,` in the object: a key. */
  Key,
  Colon,
  MemberValue,
  MemberNext,
  /** After `[`: an element or `]`. */
  FirstElement,
  Element,
  ElementNext,
  Done,
}

/** What the value being captured is, i.e. where its parsed value goes. */
const enum Slot {
  Root,
  Key,
  Member,
  Element,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Where a number or a literal (true, false, null) ends. */
const endsScalar = (c: number) => isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET;

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new NotJsonError((err as Error).message);
  }
}

/**
 * Push-style splitter: `push()` text chunks in order, then `end()`. Handler calls happen during
 * `push()`/`end()`; an error (NotJsonError, or the handler's own) leaves the splitter unusable.
 */
export class TopLevelSplitter {
  /** Unconsumed text: from the start of the value being captured, or empty. */
  private buf = "";
  private pos = 0;
  private state = State.RootValue;
  private top: TopLevel | undefined;
  private key = "";
  private index = 0;
  // The value being captured, if any: it starts at buf[0] once the chunk is consumed.
  private capturing = false;
  private slot = Slot.Root;
  private kind: "container" | "string" | "scalar" = "scalar";
  private start = 0;
  private depth = 0;
  /** Inside a container's or a string's quoted text: the search for its closing quote resumes here. */
  private stringFrom = -1;

  /**
   * `maxValueChars`: a value handed on alone (a member, an element, the root scalar) longer than
   * this throws TooLargeError as soon as its text passes it, instead of being held (sources/limits.ts).
   */
  constructor(
    private readonly handler: TopLevelHandler,
    private readonly maxValueChars = MAX_VALUE_CHARS,
  ) {}

  push(chunk: string): void {
    if (this.capturing) {
      // Keep only the partial value; its scan state (depth, stringFrom) is relative to its start.
      const shift = this.start;
      this.buf = this.buf.slice(shift) + chunk;
      this.start = 0;
      this.pos -= shift;
      if (this.stringFrom >= 0) this.stringFrom -= shift;
    } else {
      this.buf = chunk;
      this.pos = 0;
    }
    this.run();
    if (!this.capturing) this.buf = "";
    // Checked once a chunk: a value is refused at most one chunk past the limit.
    else if (this.buf.length - this.start > this.maxValueChars) throw new TooLargeError(this.capturedPart(), this.maxValueChars);
  }

  /** The value being captured, for messages: `element 12 of "events"`, `the value of "synced_at"`. */
  private capturedPart(): string {
    switch (this.slot) {
      case Slot.Root:
        return "the document's value";
      case Slot.Key:
        return "a key";
      case Slot.Member:
        return `the value of "${this.key.slice(0, 40)}"`;
      case Slot.Element:
        return this.top === "object" ? `element ${this.index} of "${this.key.slice(0, 40)}"` : `element ${this.index} of the array`;
    }
  }

  /** The input is complete: checks that the document is, and says what its top level was. */
  end(): TopLevel {
    if (this.capturing && this.kind === "scalar" && this.slot === Slot.Root) this.complete(this.buf.length);
    if (this.state === State.RootValue) throw new NotJsonError("empty document");
    if (this.state !== State.Done || this.top === undefined) throw new TruncatedJsonError("unexpected end of the document");
    return this.top;
  }

  private run(): void {
    const buf = this.buf;
    const len = buf.length;
    while (this.pos < len) {
      if (this.capturing) {
        const end = this.scan();
        if (end < 0) return;
        this.complete(end);
        continue;
      }
      const c = buf.charCodeAt(this.pos);
      if (isSpace(c)) {
        this.pos++;
        continue;
      }
      this.structure(c);
    }
  }

  /** One structural character (or the first of a value) outside any captured value. */
  private structure(c: number): void {
    switch (this.state) {
      case State.RootValue:
        if (c === OPEN_BRACE) return this.enter(State.FirstKey, "object");
        if (c === OPEN_BRACKET) return this.enter(State.FirstElement, "array");
        this.top = "scalar";
        return this.capture(Slot.Root, c);
      case State.FirstKey:
        if (c === CLOSE_BRACE) return this.enter(State.Done);
        return this.expectKey(c);
      case State.Key:
        return this.expectKey(c);
      case State.Colon:
        if (c !== COLON) throw new NotJsonError(`expected ":" after the key "${this.key}"`);
        return this.enter(State.MemberValue);
      case State.MemberValue:
        if (c === OPEN_BRACKET) {
          this.index = 0;
          this.handler.arrayStart(this.key);
          return this.enter(State.FirstElement);
        }
        return this.capture(Slot.Member, c);
      case State.MemberNext:
        if (c === COMMA) return this.enter(State.Key);
        if (c === CLOSE_BRACE) return this.enter(State.Done);
        throw new NotJsonError("expected \",\" or \"}\" after a member");
      case State.FirstElement:
        if (c === CLOSE_BRACKET) return this.enter(this.top === "array" ? State.Done : State.MemberNext);
        return this.capture(Slot.Element, c);
      case State.Element:
        return this.capture(Slot.Element, c);
      case State.ElementNext:
        if (c === COMMA) return this.enter(State.Element);
        if (c === CLOSE_BRACKET) return this.enter(this.top === "array" ? State.Done : State.MemberNext);
        throw new NotJsonError("expected \",\" or \"]\" after an element");
      case State.Done:
        throw new NotJsonError("unexpected text after the document");
    }
  }

  private enter(state: State, top?: TopLevel): void {
    if (top) this.top = top;
    this.state = state;
    this.pos++;
  }

  private expectKey(c: number): void {
    if (c !== QUOTE) throw new NotJsonError("expected a quoted key");
    this.capture(Slot.Key, c);
  }

  private capture(slot: Slot, c: number): void {
    if (c === COMMA || c === COLON || c === CLOSE_BRACE || c === CLOSE_BRACKET) throw new NotJsonError(`unexpected "${String.fromCharCode(c)}"`);
    this.capturing = true;
    this.slot = slot;
    this.start = this.pos;
    this.kind = c === OPEN_BRACE || c === OPEN_BRACKET ? "container" : c === QUOTE ? "string" : "scalar";
    this.depth = 0;
    this.stringFrom = -1;
  }

  /** Advances through the captured value: the index just past its end, or -1 (needs more text). */
  private scan(): number {
    const buf = this.buf;
    const len = buf.length;
    let i = this.pos;
    if (this.kind === "scalar") {
      while (i < len && !endsScalar(buf.charCodeAt(i))) i++;
      this.pos = i;
      return i < len ? i : -1;
    }
    if (this.kind === "string") {
      const close = this.closingQuote(this.stringFrom >= 0 ? this.stringFrom : i + 1);
      return close < 0 ? -1 : close + 1;
    }
    let depth = this.depth;
    if (this.stringFrom >= 0) {
      const close = this.closingQuote(this.stringFrom);
      if (close < 0) return -1;
      i = close + 1;
    }
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c === QUOTE) {
        const close = this.closingQuote(i + 1);
        if (close < 0) {
          this.depth = depth;
          return -1;
        }
        i = close + 1;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    this.depth = depth;
    this.pos = len;
    return -1;
  }

  /**
   * The index of the quote closing a string whose contents are searched from `from` on, or -1
   * when it is not in the buffer yet (the search resumes there with the next chunk). A quote is
   * escaped when an odd number of backslashes precede it; the opening quote bounds that count.
   */
  private closingQuote(from: number): number {
    const buf = this.buf;
    let q = buf.indexOf('"', from);
    while (q >= 0) {
      let k = q - 1;
      while (buf.charCodeAt(k) === BACKSLASH) k--;
      if ((q - 1 - k) % 2 === 0) {
        this.stringFrom = -1;
        return q;
      }
      q = buf.indexOf('"', q + 1);
    }
    // Resume after the last character: a backslash there is still counted, as the quote's left neighbour.
    this.stringFrom = buf.length;
    this.pos = buf.length;
    return -1;
  }

  /** The captured value ends just before `end`: parse it and hand it on. */
  private complete(end: number): void {
    // Also here: a value that ends in the chunk that takes it past the limit is refused all the same.
    if (end - this.start > this.maxValueChars) throw new TooLargeError(this.capturedPart(), this.maxValueChars);
    const value = parse(this.buf.slice(this.start, end));
    this.capturing = false;
    this.pos = end;
    switch (this.slot) {
      case Slot.Root:
        this.state = State.Done;
        return;
      case Slot.Key:
        this.key = value as string;
        this.state = State.Colon;
        return;
      case Slot.Member:
        this.handler.member(this.key, value);
        this.state = State.MemberNext;
        return;
      case Slot.Element:
        if (this.top === "object") this.handler.element(this.key, this.index, value);
        else this.handler.rootElement?.(this.index, value);
        this.index++;
        this.state = State.ElementNext;
        return;
    }
  }
}

/**
 * JSON.parse of a document read whole, with the splitter's verdicts: text that stops mid-document
 * is a TruncatedJsonError (over HTTP, a connection closed early: worth downloading again, as a
 * streamed document is), anything else that is not JSON a NotJsonError with JSON.parse's message.
 * The splitter only runs once JSON.parse has failed: the usual document is parsed once.
 */
export function parseWholeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // No value limit: the text is held already, and its own limit was checked as it was read.
    const splitter = new TopLevelSplitter({ member: () => undefined, arrayStart: () => undefined, element: () => undefined }, Infinity);
    try {
      splitter.push(text);
      splitter.end();
    } catch (verdict) {
      if (verdict instanceof TruncatedJsonError) throw verdict;
    }
    throw new NotJsonError((err as Error).message);
  }
}

/** Runs chunks through a splitter: what the document's top level was, or NotJsonError. */
export async function splitTopLevel(chunks: AsyncIterable<string> | Iterable<string>, handler: TopLevelHandler, maxValueChars = MAX_VALUE_CHARS): Promise<TopLevel> {
  const splitter = new TopLevelSplitter(handler, maxValueChars);
  for await (const chunk of chunks) splitter.push(chunk);
  return splitter.end();
}
