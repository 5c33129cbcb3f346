/**
 * A season's events in columns rather than one object each. A run keeps every event of the
 * season (50,000) from the download to the last publish: as objects they were ~160 bytes each
 * on the garbage-collected heap (a boxed start instant each), traced by every full collection
 * while the matches are published. Here numbers sit in typed arrays (NaN: none) and the strings
 * that repeat (clubs, venues, zones, age groups, competitions) are indexes into one table:
 * ~90 bytes an event, outside the heap but the game keys. `get()` gives an event back as an
 * `AssistEvent`, made when asked.
 */
import type { AssistEvent } from "./parse.js";

/** Number columns, in this order. */
const NUMS = ["startMs", "homeSquadId", "awaySquadId", "homeScore", "awayScore", "homePenalties", "awayPenalties"] as const;
/** String columns (0 = none), in this order. */
const REFS = ["timezone", "squadAgeGroup", "competition", "homeClub", "awayClub", "location"] as const;
/** Column positions by name, from the lists above (one place decides the order). */
const N = Object.fromEntries(NUMS.map((name, i) => [name, i])) as Record<(typeof NUMS)[number], number>;
const R = Object.fromEntries(REFS.map((name, i) => [name, i])) as Record<(typeof REFS)[number], number>;
const NONE = 0;

const num = (v: number) => (Number.isNaN(v) ? undefined : v);

export class EventTable {
  private count = 0;
  private readonly keys: string[] = [];
  private nums = new Float64Array(NUMS.length * 1024);
  private refs = new Uint32Array(REFS.length * 1024);
  private done = new Uint8Array(1024);
  private readonly strings: (string | undefined)[] = [undefined];
  private readonly ids = new Map<string, number>();

  get length(): number {
    return this.count;
  }

  push(e: AssistEvent): void {
    if (this.count >= this.done.length) this.grow();
    const i = this.count++;
    this.keys.push(e.gameKey);
    for (let c = 0; c < NUMS.length; c++) this.nums[i * NUMS.length + c] = e[NUMS[c]!] ?? NaN;
    for (let c = 0; c < REFS.length; c++) this.refs[i * REFS.length + c] = this.idOf(e[REFS[c]!]);
    this.done[i] = e.completed ? 1 : 0;
  }

  get(i: number): AssistEvent {
    const n = (c: number) => num(this.nums[i * NUMS.length + c]!);
    const s = (c: number) => this.strings[this.refs[i * REFS.length + c]!];
    return {
      gameKey: this.keys[i]!,
      startMs: n(N.startMs)!,
      timezone: s(R.timezone),
      homeSquadId: n(N.homeSquadId),
      awaySquadId: n(N.awaySquadId),
      squadAgeGroup: s(R.squadAgeGroup),
      competition: s(R.competition),
      completed: this.done[i] === 1,
      homeClub: s(R.homeClub)!,
      awayClub: s(R.awayClub)!,
      homeScore: n(N.homeScore),
      awayScore: n(N.awayScore),
      homePenalties: n(N.homePenalties),
      awayPenalties: n(N.awayPenalties),
      location: s(R.location),
    };
  }

  // What the first pass over a season reads, without making the events.
  gameKey(i: number): string {
    return this.keys[i]!;
  }
  startMs(i: number): number {
    return this.nums[i * NUMS.length + N.startMs]!;
  }
  timezone(i: number): string | undefined {
    return this.strings[this.refs[i * REFS.length + R.timezone]!];
  }
  squadIds(i: number): [number | undefined, number | undefined] {
    return [num(this.nums[i * NUMS.length + N.homeSquadId]!), num(this.nums[i * NUMS.length + N.awaySquadId]!)];
  }
  completed(i: number): boolean {
    return this.done[i] === 1;
  }
  /** Both scores known (`hasResult`). */
  hasResult(i: number): boolean {
    return !Number.isNaN(this.nums[i * NUMS.length + N.homeScore]!) && !Number.isNaN(this.nums[i * NUMS.length + N.awayScore]!);
  }

  /** Gives back the columns' unused room (up to half of them) once every event is in. */
  trim(): this {
    const size = Math.max(1, this.count);
    this.nums = this.nums.slice(0, size * NUMS.length);
    this.refs = this.refs.slice(0, size * REFS.length);
    this.done = this.done.slice(0, size);
    return this;
  }

  *[Symbol.iterator](): Generator<AssistEvent> {
    for (let i = 0; i < this.count; i++) yield this.get(i);
  }

  private idOf(s: string | undefined): number {
    if (s === undefined) return NONE;
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.push(s) - 1;
      this.ids.set(s, id);
    }
    return id;
  }

  private grow(): void {
    const nums = new Float64Array(this.nums.length * 2);
    nums.set(this.nums);
    this.nums = nums;
    const refs = new Uint32Array(this.refs.length * 2);
    refs.set(this.refs);
    this.refs = refs;
    const done = new Uint8Array(this.done.length * 2);
    done.set(this.done);
    this.done = done;
  }
}
