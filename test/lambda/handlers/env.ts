/** The function's configuration, from its environment as on Lambda; a missing variable fails the init. */
export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set for this function`);
  return value;
}
