import type { Failure } from './failure.js';

/** Expected outcomes are values: a computation either produced `value` or a `failure` it can explain. */
export type Result<T, F = Failure> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: F };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<F = Failure>(failure: F): { readonly ok: false; readonly failure: F } {
  return { ok: false, failure };
}
