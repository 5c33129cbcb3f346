/**
 * The first `chars` code points of `text`, never half a surrogate pair: for producer-chosen text
 * (task ids, external ids) cut short in log lines and failure records. Only the first 2 x `chars`
 * UTF-16 units are looked at, so a huge text costs no more than a short one. Pure.
 */
export function textHead(text: string, chars: number): string {
  return Array.from(text.slice(0, 2 * chars)).slice(0, chars).join("");
}
