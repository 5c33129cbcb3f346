/**
 * Name resolution for the write path: league, season, age group, division, match type and
 * teams of a batch of matches -> ids, inside the caller's transaction.
 *
 * - `create` mode: missing rows are created race-free; `strict` mode: a missing name is an
 *   `unresolved_name` permanent failure of that match only, never of its neighbours.
 * - Ids are cached across batches, but only once the transaction that saw them committed:
 *   an id inserted by a transaction that then rolled back must never be reused. The caller
 *   confirms with `commitCache(tx)` after COMMIT (or `discardPending(tx)` after ROLLBACK);
 *   `resolveInTransaction` does both for it.
 */
import { DEFAULT_LEAGUE, seasonBounds, seasonForDate, type MatchData } from "../contract/index.js";
import { PermanentError, type MatchflowError } from "../errors.js";
import type { Database, Queryable, TransactionOptions } from "./database.js";
import { classifyDbError, isDataError } from "./errors.js";
import { findOrCreate, lookupIds, type FoundId, type NameKey, type NameKind } from "./resolve-sql.js";

export type NameResolutionMode = "create" | "strict";

export interface ResolvedIds {
  leagueId: number;
  seasonId: number;
  ageGroupId: number;
  divisionId: number | null;
  matchTypeId: number;
  homeTeamId: number;
  awayTeamId: number;
}

/** Per match, in input order: its ids, or why it cannot be stored (a permanent error). */
export type ResolveResult = ResolvedIds | MatchflowError;

export interface NameResolver {
  readonly mode: NameResolutionMode;
  resolveBatch(tx: Queryable, matches: readonly MatchData[]): Promise<ResolveResult[]>;
  /** `resolveBatch` without a round trip: the results when every name is in the committed cache, else undefined. */
  resolveFromCache(matches: readonly MatchData[]): ResolveResult[] | undefined;
  /** Call after `tx` committed: its ids become reusable by later batches. */
  commitCache(tx: Queryable): void;
  /** Call after `tx` rolled back: forget what it saw. */
  discardPending(tx: Queryable): void;
  /** Forget everything (e.g. after an operator merged teams). */
  clearCache(): void;
}

export { DEFAULT_LEAGUE };

const MAX_LENGTH: Record<NameKind, number> = { league: 200, season: 7, age_group: 50, division: 200, match_type: 100, team: 200 };
const KIND_WORDS: Record<NameKind, string> = { league: "league", season: "season", age_group: "age group", division: "division", match_type: "match type", team: "team" };

export function isResolved(r: ResolveResult): r is ResolvedIds {
  return !(r instanceof Error);
}

const cacheKey = (kind: NameKind, k: NameKey) => `${kind}\u0000${k.scope ?? ""}\u0000${k.name}`;

/**
 * Committed ids by kind, then scope (the league id; 0 for global kinds), then the name exactly as
 * the match spells it. Nested maps rather than one map of joined keys: the names come straight
 * from the decoded message, so a lookup hashes each name once and builds no key strings (this
 * runs for every match of every batch).
 */
type CommittedIds = Record<NameKind, Map<number, Map<string, number>>>;

function emptyCommitted(): CommittedIds {
  return { league: new Map(), season: new Map(), age_group: new Map(), division: new Map(), match_type: new Map(), team: new Map() };
}

function remember(committed: CommittedIds, kind: NameKind, scope: number, name: string, id: number): void {
  const byScope = committed[kind];
  let byName = byScope.get(scope);
  if (!byName) byScope.set(scope, (byName = new Map<string, number>()));
  byName.set(name, id);
}

/** Thrown inside one match's resolution; becomes that match's result. */
class MatchProblem extends Error {
  constructor(readonly error: MatchflowError) {
    super(error.message);
  }
}

function checkName(kind: NameKind, name: string): string {
  const trimmed = name.trim();
  // PostgreSQL text cannot hold NUL: refuse it here, or the whole batch's insert would fail.
  if (trimmed === "" || trimmed.length > MAX_LENGTH[kind] || trimmed.includes("\u0000")) {
    throw new MatchProblem(new PermanentError("invalid_name", `${KIND_WORDS[kind]} name "${trimmed.slice(0, 60)}" must be 1 to ${MAX_LENGTH[kind]} characters, without NUL`, { details: { kind, name: trimmed.slice(0, 200) } }));
  }
  if (kind === "season" && seasonBounds(trimmed) === undefined) {
    throw new MatchProblem(new PermanentError("invalid_name", `season "${trimmed}" must be written like 2026-27`, { details: { kind, name: trimmed } }));
  }
  return name;
}

function unresolvedError(kind: NameKind, name: string, league?: string): PermanentError {
  const where = league ? ` in league ${league}` : "";
  return new PermanentError("unresolved_name", `unknown ${KIND_WORDS[kind]} "${name.trim()}"${where} (name resolution is strict: add it or an alias first)`, {
    details: { kind, name: name.trim(), ...(league ? { league } : {}) },
  });
}

const leagueName = (m: MatchData) => (m.league ?? "").trim() || DEFAULT_LEAGUE;
const seasonOf = (m: MatchData) => (m.season ?? "").trim() || seasonForDate(m.match_date);

function sameTeam(m: MatchData, teamId: number, league: string): PermanentError {
  return new PermanentError("same_team", `home_team "${m.home_team}" and away_team "${m.away_team}" are the same team in league ${league} (through an alias)`, {
    details: { teamId },
  });
}

export interface NameResolverOptions {
  mode: NameResolutionMode;
  /**
   * How long committed ids are reused before every name is looked up again: an operator's
   * `team_aliases` row or merge of two teams reaches a running worker after at most this.
   * @default for ever (until `clearCache`)
   */
  cacheTtlMs?: number;
  now?: () => number;
}

export function createNameResolver(options: NameResolverOptions): NameResolver {
  const mode = options.mode;
  const now = options.now ?? Date.now;
  const ttlMs = options.cacheTtlMs ?? Infinity;
  let committed = emptyCommitted();
  let committedSince = now();
  /** Once per batch: the cache starts again when it is older than its TTL. */
  const expire = () => {
    const at = now();
    if (at - committedSince < ttlMs) return;
    committed = emptyCommitted();
    committedSince = at;
  };
  const cached = (kind: NameKind, scope: number | null, name: string) => committed[kind].get(scope ?? 0)?.get(name);
  /** Per transaction: ids it saw, by cache key, plus what `commitCache` will keep. */
  const pending = new WeakMap<Queryable, Map<string, FoundId & { kind: NameKind }>>();

  /** Resolves every distinct key of one kind: cache, then one statement (create mode: find or create; strict: lookup). */
  async function resolveKind(tx: Queryable, kind: NameKind, keys: NameKey[], refused: Map<string, PermanentError>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const txPending = pending.get(tx) ?? new Map<string, FoundId & { kind: NameKind }>();
    pending.set(tx, txPending);
    const missing = new Map<string, NameKey>();
    for (const k of keys) {
      const ck = cacheKey(kind, k);
      const id = cached(kind, k.scope, k.name) ?? txPending.get(ck)?.id;
      if (id !== undefined) out.set(ck, id);
      else missing.set(ck, k);
    }
    const record = (found: FoundId[]) => {
      for (const f of found) {
        const ck = cacheKey(kind, f);
        out.set(ck, f.id);
        txPending.set(ck, { kind, ...f });
        missing.delete(ck);
      }
    };
    // Seasons are created in strict mode too: one follows from the match's date (its bounds are
    // fixed), there is nothing to curate, and refusing it dead-lettered every match of a new
    // season at the August rollover until someone added it by hand.
    if (missing.size > 0 && (mode === "create" || kind === "season")) {
      const create = (ks: NameKey[]) => findOrCreate(tx, kind, ks, (name) => seasonBounds(name) ?? { startDate: "1970-01-01", endDate: "1970-01-01" });
      try {
        record(await create([...missing.values()]));
      } catch (err) {
        // A name the database refuses (a check `checkName` does not know: an operator's
        // constraint, a character its locale tidies away) failed the whole batch, as permanent:
        // every match in it was dead-lettered. Each name alone now, so only its matches fail.
        // (Names are autocommitted; inside a transaction the first failure ends it anyway.)
        if (!isDataError(err)) throw err;
        for (const [ck, k] of [...missing]) {
          try {
            record(await create([k]));
          } catch (one) {
            if (!isDataError(one)) throw one;
            refused.set(ck, new PermanentError("invalid_name", `${KIND_WORDS[kind]} name "${k.name.trim().slice(0, 60)}" refused by the database: ${classifyDbError(one).message}`, { details: { kind, name: k.name.trim().slice(0, 200) } }));
            missing.delete(ck);
          }
        }
      }
    }
    // Strict mode's only lookup; in create mode, names a concurrent transaction created while
    // ours waited on their key (a new statement sees them).
    if (missing.size > 0) record(await lookupIds(tx, kind, [...missing.values()]));
    return out;
  }

  /**
   * The common case, without a round trip or a key string: every name of `m` is already in the
   * committed cache (so it passed `checkName` when it was first resolved). Undefined otherwise.
   */
  function fromCache(m: MatchData): ResolveResult | undefined {
    const leagueId = cached("league", null, leagueName(m));
    if (leagueId === undefined) return undefined;
    const seasonId = cached("season", null, seasonOf(m));
    const ageGroupId = cached("age_group", null, m.age_group);
    const matchTypeId = cached("match_type", null, m.match_type);
    const teams = committed.team.get(leagueId);
    const homeTeamId = teams?.get(m.home_team);
    const awayTeamId = teams?.get(m.away_team);
    const hasDivision = m.division != null && m.division.trim() !== "";
    const divisionId = hasDivision ? cached("division", leagueId, m.division as string) : null;
    if (seasonId === undefined || ageGroupId === undefined || matchTypeId === undefined || homeTeamId === undefined || awayTeamId === undefined || divisionId === undefined) return undefined;
    if (homeTeamId === awayTeamId) return sameTeam(m, homeTeamId, leagueName(m));
    return { leagueId, seasonId, ageGroupId, divisionId, matchTypeId, homeTeamId, awayTeamId };
  }

  async function resolveBatch(tx: Queryable, all: readonly MatchData[]): Promise<ResolveResult[]> {
    expire();
    // Loops, not closures created per call: V8 kept recompiling those in long drains (docs/performance-rounds.md).
    const quick = new Array<ResolveResult | undefined>(all.length);
    const rest: number[] = [];
    for (let i = 0; i < all.length; i++) {
      const r = fromCache(all[i] as MatchData);
      quick[i] = r;
      if (r === undefined) rest.push(i);
    }
    if (rest.length === 0) return quick as ResolveResult[];
    const slow = await resolveUncached(tx, rest.map((i) => all[i] as MatchData));
    for (let j = 0; j < rest.length; j++) quick[rest[j] as number] = slow[j];
    return quick as ResolveResult[];
  }

  /** Everything else: validates names, looks up (and in create mode inserts) what is not cached. */
  async function resolveUncached(tx: Queryable, matches: readonly MatchData[]): Promise<ResolveResult[]> {
    const results: (ResolveResult | undefined)[] = matches.map(() => undefined);
    const refused = new Map<string, PermanentError>();
    const fail = (i: number, err: unknown) => {
      if (err instanceof MatchProblem) results[i] = err.error;
      else throw err;
    };
    // Stage 1: kinds that do not depend on the league.
    const globalKinds: [NameKind, (m: MatchData) => string][] = [
      ["league", leagueName],
      ["season", seasonOf],
      ["age_group", (m) => m.age_group],
      ["match_type", (m) => m.match_type],
    ];
    const wanted = new Map<NameKind, Map<string, NameKey>>();
    const want = (kind: NameKind, key: NameKey) => {
      const byKey = wanted.get(kind) ?? new Map<string, NameKey>();
      wanted.set(kind, byKey);
      byKey.set(cacheKey(kind, key), key);
    };
    matches.forEach((m, i) => {
      try {
        for (const [kind, nameOf] of globalKinds) checkName(kind, nameOf(m));
        for (const team of [m.home_team, m.away_team]) checkName("team", team);
        if (m.division != null && m.division.trim() !== "") checkName("division", m.division);
        for (const [kind, nameOf] of globalKinds) want(kind, { scope: null, name: nameOf(m) });
      } catch (err) {
        fail(i, err);
      }
    });
    // The kinds of a stage do not depend on each other: on a pool (`tx.concurrent`) resolve them
    // at once, each on its own connection, so a batch full of new names costs two stages of round trips,
    // not six kinds one after the other (what made the first second on an empty database slow).
    const ids = new Map<NameKind, Map<string, number>>();
    const resolveAll = async (kinds: readonly NameKind[]) => {
      const one = (kind: NameKind) => resolveKind(tx, kind, [...(wanted.get(kind)?.values() ?? [])], refused);
      if (tx.concurrent) {
        const found = await Promise.all(kinds.map(one));
        kinds.forEach((kind, i) => ids.set(kind, found[i] as Map<string, number>));
      } else {
        for (const kind of kinds) ids.set(kind, await one(kind));
      }
    };
    await resolveAll(globalKinds.map(([kind]) => kind));
    const idOf = (kind: NameKind, key: NameKey) => ids.get(kind)?.get(cacheKey(kind, key));

    // Stage 2: per-league kinds (teams, divisions) of matches whose league is known.
    const leagueIds: (number | undefined)[] = matches.map((m, i) => (results[i] ? undefined : idOf("league", { scope: null, name: leagueName(m) })));
    matches.forEach((m, i) => {
      const leagueId = leagueIds[i];
      if (leagueId === undefined) return;
      want("team", { scope: leagueId, name: m.home_team });
      want("team", { scope: leagueId, name: m.away_team });
      if (m.division != null && m.division.trim() !== "") want("division", { scope: leagueId, name: m.division });
    });
    await resolveAll(["division", "team"]);

    return matches.map((m, i) => {
      const earlier = results[i];
      if (earlier) return earlier;
      const league = leagueName(m);
      const leagueId = leagueIds[i];
      if (leagueId === undefined) return refused.get(cacheKey("league", { scope: null, name: league })) ?? unresolvedError("league", league);
      const lookups: [NameKind, NameKey][] = [
        ["season", { scope: null, name: seasonOf(m) }],
        ["age_group", { scope: null, name: m.age_group }],
        ["match_type", { scope: null, name: m.match_type }],
        ["team", { scope: leagueId, name: m.home_team }],
        ["team", { scope: leagueId, name: m.away_team }],
      ];
      const found: number[] = [];
      for (const [kind, key] of lookups) {
        const id = idOf(kind, key);
        if (id === undefined) return refused.get(cacheKey(kind, key)) ?? unresolvedError(kind, key.name, key.scope === null ? undefined : league);
        found.push(id);
      }
      let divisionId: number | null = null;
      if (m.division != null && m.division.trim() !== "") {
        const key = { scope: leagueId, name: m.division };
        const id = idOf("division", key);
        if (id === undefined) return refused.get(cacheKey("division", key)) ?? unresolvedError("division", m.division, league);
        divisionId = id;
      }
      const [seasonId, ageGroupId, matchTypeId, homeTeamId, awayTeamId] = found as [number, number, number, number, number];
      if (homeTeamId === awayTeamId) return sameTeam(m, homeTeamId, league);
      return { leagueId, seasonId, ageGroupId, divisionId, matchTypeId, homeTeamId, awayTeamId };
    });
  }

  function resolveFromCache(all: readonly MatchData[]): ResolveResult[] | undefined {
    expire();
    const out = new Array<ResolveResult>(all.length);
    for (let i = 0; i < all.length; i++) {
      const r = fromCache(all[i] as MatchData);
      if (r === undefined) return undefined;
      out[i] = r;
    }
    return out;
  }

  return {
    mode,
    resolveBatch,
    resolveFromCache,
    commitCache(tx) {
      const entries = pending.get(tx);
      if (entries) for (const f of entries.values()) remember(committed, f.kind, f.scope ?? 0, f.name, f.id);
      pending.delete(tx);
    },
    discardPending(tx) {
      pending.delete(tx);
    },
    clearCache() {
      committed = emptyCommitted();
    },
  };
}

/**
 * Runs `fn` in a transaction with a resolver bound to it, then confirms or discards the ids the
 * transaction learned. The usual way to use a resolver:
 * `resolveInTransaction(db, resolver, async (tx, resolve) => upsertMatches(tx, items, await resolve(matches)))`.
 */
export async function resolveInTransaction<T>(
  db: Database,
  resolver: NameResolver,
  fn: (tx: Queryable, resolve: (matches: readonly MatchData[]) => Promise<ResolveResult[]>) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  let txSeen: Queryable | undefined;
  try {
    const result = await db.transaction((tx) => {
      txSeen = tx;
      return fn(tx, (matches) => resolver.resolveBatch(tx, matches));
    }, options);
    if (txSeen) resolver.commitCache(txSeen);
    return result;
  } catch (err) {
    if (txSeen) resolver.discardPending(txSeen);
    throw err;
  }
}
