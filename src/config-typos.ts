/**
 * Environment names that look like a misspelt setting. loadConfig reads its own names only, so
 * `WORKER_CONCURENCY=8` (or `rabbitmq_url`, or `MATCHFLOW_LOG_LEVEL`) left the default without a
 * word. Said as warnings when a command starts (cli/context.ts), not refused: the environment
 * also holds other programs' variables, among them Kubernetes' service links (`RABBITMQ_PORT`,
 * `MATCHFLOW_WORKER_SERVICE_HOST`), none of which is one edit away from a setting. Pure.
 */
import { ENV_VARIABLES } from "./config.js";

/** One insertion, deletion, substitution or swap of two neighbours turns `a` into `b` (a != b). */
function oneEditApart(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (a[i] === b[i]) i++;
  const swapped = a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  return swapped || a.slice(i + 1) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i) || a.slice(i) === b.slice(i + 1);
}

/** The setting `name` was probably meant to be, if it is none itself. */
function meant(name: string): string | undefined {
  if (ENV_VARIABLES.includes(name)) return undefined;
  const upper = name.toUpperCase();
  const bare = upper.replace(/^MATCHFLOW_/, "");
  return ENV_VARIABLES.find((known) => known === bare) ?? ENV_VARIABLES.find((known) => known.length >= 6 && oneEditApart(upper, known));
}

/** One warning per variable set (not blank) whose name is a near miss of a setting's. */
export function misspeltSettings(env: Record<string, string | undefined>): string[] {
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value.trim() === "") continue;
    const setting = meant(name);
    // The value is not said: it may be a password.
    if (setting !== undefined) warnings.push(`${name} is not a setting and is ignored: did you mean ${setting}?`);
  }
  return warnings;
}
