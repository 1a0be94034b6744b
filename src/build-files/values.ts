import type { LiteralValue, ValueNode } from './types.js';

/** The value of a node with its spans dropped: str, number, boolean, null, arrays, objects. */
export function toPlain(node: ValueNode): LiteralValue {
  switch (node.kind) {
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
    case 'none':
      return node.value;
    case 'list':
    case 'tuple':
      return node.items.map(toPlain);
    case 'dict': {
      const out: { [key: string]: LiteralValue } = {};
      for (const e of node.entries) {
        // Plain assignment of `__proto__` would replace the prototype instead of adding a key.
        if (e.key === '__proto__') {
          Object.defineProperty(out, e.key, { value: toPlain(e.value), enumerable: true, writable: true, configurable: true });
        } else {
          out[e.key] = toPlain(e.value);
        }
      }
      return out;
    }
  }
}

/** How a type error names a value: `expected a list, got a string`. */
export function describeKind(node: ValueNode): string {
  switch (node.kind) {
    case 'str':
      return 'a string';
    case 'int':
      return 'an integer';
    case 'float':
      return 'a float';
    case 'bool':
      return 'a boolean';
    case 'none':
      return 'None';
    case 'list':
      return 'a list';
    case 'tuple':
      return 'a tuple';
    case 'dict':
      return 'a dict';
  }
}
