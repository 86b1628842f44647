/** The baseline for cold starts: no import at all, so its cold start is Node and the runtime client alone. */
export async function handler(): Promise<Record<string, never>> {
  return {};
}
