/**
 * fnmatch, as kombu matches a control message's `pattern` (matcher "glob") against a node name:
 * `*` any run, `?` one character, `[...]` a set (`[!...]` its complement, `a-z` ranges); the rest
 * literal. Pure.
 *
 * Not a regular expression: one built with `.*` per star backtracked exponentially, so a single
 * control message with "**********Z" held every worker's event loop for minutes (the mailbox is a
 * fanout). This greedy two-pointer match is O(pattern x name) whatever the pattern.
 */
type Token = { kind: "star" } | { kind: "any" } | { kind: "set"; negate: boolean; ranges: [string, string][] } | { kind: "char"; char: string };

/** Where the set opened at `open` ends (its "]"), or -1: as fnmatch, a "]" right after "[" or "[!" belongs to the set. */
function setEnd(chars: string[], open: number): number {
  let j = open + 1;
  if (chars[j] === "!") j++;
  if (chars[j] === "]") j++;
  return chars.indexOf("]", j);
}

function tokens(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const out: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "*") {
      if (out.at(-1)?.kind !== "star") out.push({ kind: "star" });
    } else if (c === "?") out.push({ kind: "any" });
    else if (c === "[" && setEnd(chars, i) > i) {
      const end = setEnd(chars, i);
      let body = chars.slice(i + 1, end);
      const negate = body[0] === "!";
      if (negate) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        const from = body[k] as string;
        if (body[k + 1] === "-" && k + 2 < body.length) {
          ranges.push([from, body[k + 2] as string]);
          k += 2;
        } else ranges.push([from, from]);
      }
      out.push({ kind: "set", negate, ranges });
      i = end;
    } else out.push({ kind: "char", char: c });
  }
  return out;
}

function matchesOne(token: Token, char: string): boolean {
  if (token.kind === "any") return true;
  if (token.kind === "char") return token.char === char;
  if (token.kind === "set") {
    const cp = char.codePointAt(0) as number;
    const inside = token.ranges.some(([from, to]) => cp >= (from.codePointAt(0) as number) && cp <= (to.codePointAt(0) as number));
    return inside !== token.negate;
  }
  return false;
}

export function globMatches(pattern: string, name: string): boolean {
  const toks = tokens(pattern);
  const chars = Array.from(name);
  let t = 0;
  let n = 0;
  // The last star seen, and where in the name it started matching: on a mismatch, it takes one more character.
  let star = -1;
  let starFrom = 0;
  while (n < chars.length) {
    const token = toks[t];
    if (token !== undefined && token.kind !== "star" && matchesOne(token, chars[n] as string)) {
      t++;
      n++;
    } else if (token?.kind === "star") {
      star = t++;
      starFrom = n;
    } else if (star >= 0) {
      t = star + 1;
      n = ++starFrom;
    } else return false;
  }
  while (toks[t]?.kind === "star") t++;
  return t === toks.length;
}
