// A used-up object says so. wasm-bindgen's classes hold a pointer into the module; after
// `free()`, or after a call that takes the object (readMetrics takes its Metrics, stackTrainSteps
// its batches), the pointer is 0 and any use throws wasm-bindgen's "null pointer passed to rust",
// which says nothing of what went wrong. `guard` wraps a module's classes and functions so that
// such a use throws an Error naming the class and the cause, and makes a second `free()` harmless.

const USED = Symbol('actlab.used');
type Used = 'freed' | 'consumed';
interface Instance { __wbg_ptr: number; [USED]?: Used }

/** What to do instead, by class and cause (the generic sentence otherwise). */
const HINTS: Record<string, Partial<Record<Used, string>>> = {
  TrainState: { freed: 'use the state that trainStep returned (each step returns a new one; the old one stays valid until freed)' },
  Metrics: { consumed: 'read() and readMetrics take it: each can be read once' },
  StackMetrics: { consumed: 'readStackMetrics takes it: each can be read once' },
  StackBatch: { consumed: 'stackTrainSteps and stackEvalSteps take their batches: make another (epoch.batch(i), data.range(start, n))' },
  StackState: { freed: 'use the state that stackTrainStep returned' },
  Gpu: { freed: 'create another with Gpu.create()' },
  Cpu: { freed: 'create another with createDevice()' },
  FashionData: { freed: 'load the data again (loadFashionMnist)' },
  Batch: { freed: 'make another (split.range(start, n), epoch.batch(i), data.batch(...))' },
};

function used(name: string, how: Used): Error {
  const hint = HINTS[name]?.[how];
  const cause = how === 'freed' ? 'was freed (free() was called on it)' : 'was used up by a call that takes it';
  return new Error(`this ${name} ${cause}${hint ? `; ${hint}` : ''}`);
}

const isInstance = (v: unknown): v is Instance => typeof v === 'object' && v !== null && '__wbg_ptr' in v;

/** The class names of the instances the module made, by prototype (also for arguments). */
const names = new WeakMap<object, string>();

function check(v: unknown): void {
  if (isInstance(v) && v.__wbg_ptr === 0) {
    throw used(names.get(Object.getPrototypeOf(v) as object) ?? 'object', v[USED] ?? 'consumed');
  }
}

function checkArgs(args: unknown[]): void {
  for (const a of args) {
    check(a);
    if (Array.isArray(a)) a.forEach(check);
  }
}

function wrapFn<F extends (...a: never[]) => unknown>(f: F): F {
  return function (this: unknown, ...args: unknown[]) {
    checkArgs(args);
    return (f as unknown as (...a: unknown[]) => unknown).apply(this, args);
  } as unknown as F;
}

/** `Symbol.dispose` where the engine has it (wasm-bindgen aliases it to `free`). */
const DISPOSE: symbol | undefined = (Symbol as unknown as { dispose?: symbol }).dispose;

const done = new WeakSet<object>();

function guardClass(name: string, cls: { prototype: object }): void {
  const proto = cls.prototype as Record<string | symbol, unknown>;
  if (done.has(proto)) return;
  done.add(proto);
  names.set(proto, name);
  const destroy = proto.__destroy_into_raw as (this: Instance) => number;
  const free = proto.free as (this: Instance) => void;
  proto.__destroy_into_raw = function (this: Instance) {
    // Also how a call that takes the object (by value) claims it.
    if (this.__wbg_ptr !== 0 && !this[USED]) this[USED] = 'consumed';
    return destroy.call(this);
  };
  const guardedFree = function (this: Instance) {
    if (this.__wbg_ptr === 0) return; // a second free() does nothing
    this[USED] = 'freed';
    free.call(this);
  };
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || key === '__destroy_into_raw' || key === 'free' || key === DISPOSE) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    const self = (fn: (...a: unknown[]) => unknown) => function (this: Instance, ...args: unknown[]) {
      check(this);
      checkArgs(args);
      return fn.apply(this, args);
    };
    Object.defineProperty(proto, key, {
      ...d,
      ...(typeof d.value === 'function' ? { value: self(d.value as (...a: unknown[]) => unknown) } : {}),
      ...(d.get ? { get: self(d.get) } : {}),
      ...(d.set ? { set: self(d.set) } : {}),
    });
  }
  proto.free = guardedFree;
  if (DISPOSE && proto[DISPOSE]) proto[DISPOSE] = guardedFree;
  // Static constructors (Gpu.create, FashionData.parse) check the instances they are given.
  for (const key of Object.getOwnPropertyNames(cls)) {
    const v = (cls as unknown as Record<string, unknown>)[key];
    if (typeof v === 'function' && !key.startsWith('__')) {
      (cls as unknown as Record<string, unknown>)[key] = wrapFn(v as (...a: never[]) => unknown);
    }
  }
}

/**
 * The module with its classes guarded in place and its functions wrapped: a use of a freed or
 * used-up object throws an Error naming its class and the cause.
 */
export function guard<T extends object>(mod: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(mod)) {
    const proto = typeof v === 'function' ? (v as { prototype?: object }).prototype : undefined;
    if (proto && Object.prototype.hasOwnProperty.call(proto, '__destroy_into_raw')) {
      guardClass(name, v as { prototype: object });
      out[name] = v;
    } else if (typeof v === 'function' && name !== 'default' && name !== 'initSync') {
      out[name] = wrapFn(v as (...a: never[]) => unknown);
    } else {
      out[name] = v;
    }
  }
  return out as T;
}
