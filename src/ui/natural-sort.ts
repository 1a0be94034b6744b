/**
 * Compares the way a person counts: runs of digits by their value, so `p2`
 * comes before `p10` and `shard-9` before `shard-10`; otherwise by code
 * unit, so the order is total and the same on every machine (no locale).
 */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      let ei = i;
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
      let ej = j;
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
      // Leading zeros do not change the value (the last digit stays); compare the significant
      // digits by length, then text. In place: a sort of a few hundred addresses calls this
      // thousands of times, and two slices and two regexp replaces per digit run showed in
      // a cold process's profile.
      let si = i;
      while (si < ei - 1 && a.charCodeAt(si) === 48) si++;
      let sj = j;
      while (sj < ej - 1 && b.charCodeAt(sj) === 48) sj++;
      if (ei - si !== ej - sj) return ei - si - (ej - sj);
      for (let k = 0; k < ei - si; k++) {
        const d = a.charCodeAt(si + k) - b.charCodeAt(sj + k);
        if (d !== 0) return d < 0 ? -1 : 1;
      }
      // Equal values: fewer leading zeros first, so `1` < `01` and the order stays total.
      if (ei - i !== ej - j) return ei - i - (ej - j);
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca - cb;
    i++;
    j++;
  }
  return a.length - i - (b.length - j);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
