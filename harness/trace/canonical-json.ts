/** JSON with object keys sorted and undefined members dropped, so equal values give equal strings (hashes, signatures, trace comparison). */
export function canonicalJson(value: unknown): string {
  // one string built in place: the map/filter/join chains allocated three arrays per object
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i])
    return `${out}]`
  }
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).sort()
    let out = '{'
    for (const k of keys) {
      const v = obj[k]
      if (v === undefined) continue
      out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(v)}`
    }
    return `${out}}`
  }
  return JSON.stringify(value) ?? 'null'
}
