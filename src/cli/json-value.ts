/**
 * How `ringwal dump` and `ringwal state` show a decoded entry value as JSON (README, "Operating
 * a log"). JSON has no form for some values msgpack carries, so each gets one that loses
 * nothing a reader needs and stays easy to use from jq:
 *
 * | value                                    | JSON                                        |
 * |------------------------------------------|---------------------------------------------|
 * | Buffer, Uint8Array, other typed arrays    | `{"$buffer": "<base64 of the bytes>"}`       |
 * | BigInt                                   | its decimal digits as a string: `"123"`     |
 * | Date                                     | ISO 8601 string: `"2026-12-07T08:51:53.946Z"` (an invalid one: `null`) |
 * | NaN, Infinity, -Infinity                 | the strings `"NaN"`, `"Infinity"`, `"-Infinity"` |
 * | undefined (a value, a property, an item) | `null` (a property keeps its key)           |
 * | Map                                      | an object, keys as strings                  |
 * | Set                                      | an array                                    |
 *
 * (msgpackr decodes maps as plain objects and sets as arrays already, so Map and Set only
 * matter for values handed in some other way.)
 */

export function toJsonValue(value: unknown): unknown {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      // Functions and symbols never come out of msgpack; say what they are rather than drop them.
      return String(value);
  }
  if (value === null) return null;
  if (ArrayBuffer.isView(value)) {
    return { $buffer: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (value instanceof ArrayBuffer) return { $buffer: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Set) return Array.from(value, toJsonValue);
  // No prototype: a key "__proto__" is then a key like any other.
  const out: Record<string, unknown> = Object.create(null);
  if (value instanceof Map) {
    for (const [k, v] of value) out[String(k)] = toJsonValue(v);
    return out;
  }
  for (const key of Object.keys(value)) out[key] = toJsonValue((value as Record<string, unknown>)[key]);
  return out;
}

/** The value as one line of JSON. */
export function jsonText(value: unknown): string {
  return JSON.stringify(toJsonValue(value));
}
