/**
 * The Python runner's snapshots (images/python/codecell_runner/snapshot*.py) with what models
 * write: every construct is defined in one container and used in the next, and what cannot be
 * carried is named by the run that made it, without taking any other value with it.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { useImageHarness, type Run, type Session } from './run-image.js';

const harness = useImageHarness('python');

/** Runs `first`, then `second` in a new container that restores the first one's snapshot. */
async function twoCalls(first: string, second: string): Promise<{ first: Run; second: Run; session: Session }> {
  const session = new harness.Session();
  const one = await session.run(first);
  expect(one.result).toMatchObject({ outcome: 'ok', error: null, stateSaved: true, stateError: null, notCarried: [] });
  const two = await session.run(second);
  expect(two.result).toMatchObject({ outcome: 'ok', error: null, notCarried: [] });
  return { first: one, second: two, session };
}

const lines = (...code: string[]): string => code.join('\n');

describe('python runner: constructs carried across two calls', () => {
  it('functools.cache and lru_cache functions: still cached functions with their parameters (the cache starts empty)', async () => {
    const { second } = await twoCalls(
      lines(
        'import functools',
        '@functools.cache',
        'def fib(n):',
        '    return n if n < 2 else fib(n - 1) + fib(n - 2)',
        '@functools.lru_cache(maxsize=8, typed=True)',
        'def square(n):',
        '    return n * n',
        'square.note = "kept"',
        'print(fib(30), square(3))',
      ),
      lines(
        'print(fib(40), fib.cache_info().hits > 0, fib.cache_parameters())',
        'print(square(4), square.cache_parameters(), square.note, square.__wrapped__(5), square.__name__)',
      ),
    );
    expect(second.output).toBe(
      "102334155 True {'maxsize': None, 'typed': False}\n16 {'maxsize': 8, 'typed': True} kept 25 square\n",
    );
  });

  it('typing.NamedTuple and collections.namedtuple classes and instances', async () => {
    const { second } = await twoCalls(
      lines(
        'import collections, typing',
        'class Point(typing.NamedTuple):',
        '    """A point in the plane."""',
        '    x: float',
        '    y: float = 0.0',
        '    def norm(self):',
        '        return (self.x ** 2 + self.y ** 2) ** 0.5',
        'Pair = collections.namedtuple("Pair", "left right", defaults=[None])',
        'pt = Point(3.0, 4.0)',
        'pair = Pair(1)',
      ),
      lines(
        'print(pt.norm(), isinstance(pt, Point), type(pt) is Point, pt._asdict(), Point(1.0), Point.__doc__)',
        'print(pair, isinstance(pair, Pair), Pair(1, 2)._replace(left=0), Pair._fields, Point.__annotations__["x"].__name__)',
      ),
    );
    expect(second.output).toBe(
      "5.0 True True {'x': 3.0, 'y': 4.0} Point(x=1.0, y=0.0) A point in the plane.\n" +
        "Pair(left=1, right=None) True Pair(left=0, right=2) ('left', 'right') float\n",
    );
  });

  it('Enum, IntEnum and Flag classes and members, with their identity', async () => {
    const { second } = await twoCalls(
      lines(
        'import enum',
        'class Color(enum.Enum):',
        '    RED = 1',
        '    GREEN = 2',
        'class Level(enum.IntEnum):',
        '    LOW = 1',
        '    HIGH = 2',
        'class Perm(enum.Flag):',
        '    R = 4',
        '    W = 2',
        '    X = 1',
        'favourite = Color.RED',
        'levels = {Level.HIGH: "high"}',
        'rw = Perm.R | Perm.W',
      ),
      lines(
        'print(favourite is Color.RED, Color(1) is Color.RED, Color["GREEN"] is Color.GREEN, isinstance(favourite, Color))',
        'print(levels[Level.HIGH], Level.HIGH > Level.LOW, Level.HIGH == 2, [c.name for c in Color])',
        'print(rw, Perm.R in rw, Perm.X in rw, rw == Perm(6), type(rw) is Perm)',
      ),
    );
    expect(second.output).toBe(
      'True True True True\nhigh True True [\'RED\', \'GREEN\']\nPerm.R|W True False True True\n',
    );
  });

  it('dataclasses: plain with default_factory, property, staticmethod and classmethod; frozen and ordered', async () => {
    const { second } = await twoCalls(
      lines(
        'import dataclasses',
        '@dataclasses.dataclass',
        'class Item:',
        '    name: str',
        '    tags: list = dataclasses.field(default_factory=list)',
        '    @property',
        '    def label(self):',
        '        return self.name.upper()',
        '    @staticmethod',
        '    def make(name):',
        '        return Item(name, ["made"])',
        '    @classmethod',
        '    def blank(cls):',
        '        return cls("blank")',
        '@dataclasses.dataclass(frozen=True, order=True)',
        'class Version:',
        '    major: int',
        '    minor: int = 0',
        'item = Item("pen")',
        'item.tags.append("blue")',
        'versions = [Version(2, 1), Version(1, 5)]',
      ),
      lines(
        'print(item, item.label, Item.make("cap"), Item.blank(), Item("a").tags is not Item("b").tags)',
        'print([f.name for f in dataclasses.fields(Item)], dataclasses.asdict(item), dataclasses.replace(item, name="ink"))',
        'print(sorted(versions), Version(1) < Version(1, 1), hash(Version(1)) == hash(Version(1, 0)))',
        'try:',
        '    versions[0].major = 9',
        'except dataclasses.FrozenInstanceError as error:',
        '    print("frozen:", error)',
      ),
    );
    expect(second.output).toBe(
      "Item(name='pen', tags=['blue']) PEN Item(name='cap', tags=['made']) Item(name='blank', tags=[]) True\n" +
        "['name', 'tags'] {'name': 'pen', 'tags': ['blue']} Item(name='ink', tags=['blue'])\n" +
        '[Version(major=1, minor=5), Version(major=2, minor=1)] True True\n' +
        "frozen: cannot assign to field 'major'\n",
    );
  });

  it('functools.partial, np.vectorize, functools.wraps decorators, closures with nonlocal state, lambdas', async () => {
    const { second } = await twoCalls(
      lines(
        'import functools',
        'import numpy as np',
        'def power(base, exponent):',
        '    return base ** exponent',
        'cube = functools.partial(power, exponent=3)',
        'clip10 = np.vectorize(lambda v: min(v, 10))',
        'def counted(fn):',
        '    @functools.wraps(fn)',
        '    def wrapper(*args):',
        '        wrapper.calls += 1',
        '        return fn(*args)',
        '    wrapper.calls = 0',
        '    return wrapper',
        '@counted',
        'def add(a, b):',
        '    """Adds two numbers."""',
        '    return a + b',
        'add(1, 2)',
        'def make_counter():',
        '    count = 0',
        '    def increment():',
        '        nonlocal count',
        '        count += 1',
        '        return count',
        '    def current():',
        '        return count',
        '    return increment, current',
        'increment, current = make_counter()',
        'increment(); increment()',
        'def make_countdown():',
        '    def countdown(n):',
        '        return [] if n == 0 else [n] + countdown(n - 1)',
        '    return countdown',
        'countdown = make_countdown()',
        'double = lambda v: v * 2',
      ),
      lines(
        'print(cube(2), cube.keywords, clip10([5, 50]).tolist())',
        'print(add(2, 3), add.calls, add.__name__, add.__doc__, add.__wrapped__(1, 1))',
        'print(increment(), current(), increment(), current(), countdown(3), double(21))',
      ),
    );
    expect(second.output).toBe(
      "8 {'exponent': 3} [5, 10]\n5 2 add Adds two numbers. 2\n3 3 4 4 [3, 2, 1] 42\n",
    );
  });

  it('nested classes, instances referring to each other, class hierarchies with super()', async () => {
    const { second } = await twoCalls(
      lines(
        'class Outer:',
        '    class Inner:',
        '        def hello(self):',
        '            return "inner"',
        '    def make(self):',
        '        return Outer.Inner()',
        'inner = Outer().make()',
        'class Node:',
        '    def __init__(self, name):',
        '        self.name = name',
        '        self.peer = None',
        'a = Node("a")',
        'b = Node("b")',
        'a.peer, b.peer = b, a',
        'class Animal:',
        '    def __init__(self, name):',
        '        self.name = name',
        '    def speak(self):',
        '        return "..."',
        '    def describe(self):',
        '        return f"{self.name} says {self.speak()}"',
        'class Dog(Animal):',
        '    def __init__(self, name):',
        '        super().__init__(name.title())',
        '    def speak(self):',
        '        return "woof " + super().speak()',
        'dog = Dog("rex")',
      ),
      lines(
        'print(inner.hello(), isinstance(inner, Outer.Inner), Outer.Inner.__qualname__)',
        'print(a.peer is b, b.peer is a, a.peer.peer is a, type(a) is Node)',
        'print(dog.describe(), isinstance(dog, Animal), Dog("max").describe(), Dog.__mro__[1] is Animal)',
      ),
    );
    expect(second.output).toBe(
      'inner True Outer.Inner\nTrue True True True\nRex says woof ... True Max says woof ... True\n',
    );
  });

  it('module aliases, shared lists and dicts (also inside other values), sets and dicts of instances, a DataFrame with a column of a user class', async () => {
    const { second } = await twoCalls(
      lines(
        'import numpy as np',
        'import pandas as pd',
        'class Money:',
        '    def __init__(self, cents):',
        '        self.cents = cents',
        '    def __repr__(self):',
        '        return f"Money({self.cents})"',
        '    def __eq__(self, other):',
        '        return isinstance(other, Money) and other.cents == self.cents',
        '    def __hash__(self):',
        '        return hash(self.cents)',
        'shared = [1, 2]',
        'alias = shared',
        'wallet = Money(5)',
        'coins = {Money(1), Money(1), Money(2)}',
        'by_name = {"wallet": wallet}',
        'frame = pd.DataFrame({"n": [1, 2], "money": [wallet, Money(7)]})',
        'rows = [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]',
        'row = rows[0]',
        'tags = rows[1]["tags"]',
      ),
      lines(
        'alias.append(3)',
        'print(np.__name__, pd.__name__, shared, alias is shared)',
        'print(len(coins), Money(2) in coins, all(type(c) is Money for c in coins), by_name["wallet"] is wallet)',
        'print(frame["money"].iloc[0] is wallet, isinstance(frame["money"].iloc[1], Money), frame["money"].iloc[1], int(frame["n"].sum()))',
        'row["id"] = 9',
        'tags.append("b")',
        'print(rows, row is rows[0], tags is rows[1]["tags"])',
      ),
    );
    expect(second.output).toBe(
      'numpy pandas [1, 2, 3] True\n2 True True True\nTrue True Money(7) 3\n' +
        "[{'id': 9, 'tags': ['a']}, {'id': 2, 'tags': ['b']}] True True\n",
    );
  });

  it('TypeVars and Generic classes over them (a TypeVar would otherwise be looked up by name)', async () => {
    const { second } = await twoCalls(
      lines(
        'from typing import Generic, TypeVar',
        'T = TypeVar("T")',
        'Number = TypeVar("Number", int, float)',
        'class Stack(Generic[T]):',
        '    def __init__(self):',
        '        self.items = []',
        '    def push(self, item):',
        '        self.items.append(item)',
        'stack = Stack[int]()',
        'stack.push(3)',
      ),
      'print(T, Number.__constraints__, Stack.__parameters__[0] is T, stack.items, isinstance(stack, Stack), Stack[str])',
    );
    expect(second.output).toBe("~T (<class 'int'>, <class 'float'>) True [3] True __main__.Stack[str]\n");
  });

  it('a carried function sees globals assigned in later calls, and a third call still has everything', async () => {
    const session = new harness.Session();
    await session.run(
      lines('import functools', 'rate = 2', '@functools.cache', 'def scaled(v):', '    return v * rate', 'scaled(1)'),
    );
    const second = await session.run('rate = 10\nscaled(3)');
    expect(second.result).toMatchObject({ outcome: 'ok', value: '30', notCarried: [] });
    const third = await session.run('scaled(4), rate');
    expect(third.result).toMatchObject({ outcome: 'ok', value: '(40, 10)', notCarried: [] });
  });
});

describe('python runner: values that cannot be carried', () => {
  it('names each one in the run that made it, with the reason, and carries every other value intact', async () => {
    const session = new harness.Session();
    const first = await session.run(
      lines(
        'import functools, threading',
        'class Fragile:',
        '    def __init__(self):',
        '        self.size = 1',
        '    def __setstate__(self, state):',
        '        raise RuntimeError("cannot come back")',
        'shared = [1, 2]',
        'alias = shared',
        'fragile = Fragile()',
        'holder = {"fragile": fragile, "shared": shared}',
        'same = fragile',
        'locked = {"lock": threading.Lock()}',
        'squares = (n * n for n in range(3))',
        '@functools.cache',
        'def total():',
        '    return sum(shared)',
        'kept = {"answer": 42}',
      ),
    );
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, stateError: null });
    expect(first.result.notCarried).toEqual([
      { name: 'fragile', type: 'Fragile', reason: 'cannot be restored in the next run: RuntimeError: cannot come back' },
      {
        name: 'holder',
        type: 'dict',
        reason: 'cannot be restored in the next run: it shares objects with fragile, which could not be restored',
      },
      { name: 'same', type: 'Fragile', reason: 'it is the same object as fragile, which is not carried' },
      { name: 'locked', type: 'dict', reason: "cannot be pickled: TypeError: cannot pickle '_thread.lock' object" },
      {
        name: 'squares',
        type: 'generator',
        reason: 'generators and coroutines cannot be carried between runs; create it again',
      },
    ]);

    const second = await session.run(
      lines(
        'print(sorted(k for k in globals() if not k.startswith("__")))',
        'print(alias is shared, total(), kept, isinstance(Fragile(), Fragile))',
      ),
    );
    expect(second.result).toMatchObject({ outcome: 'ok', notCarried: [] });
    expect(second.output).toBe(
      "['Fragile', 'alias', 'functools', 'kept', 'shared', 'threading', 'total']\nTrue 3 {'answer': 42} True\n",
    );
  });

  it('saves what a cell that raised had assigned, enum identity included', async () => {
    const session = new harness.Session();
    await session.run('import enum\nclass Mode(enum.Enum):\n    ON = 1\nmode = Mode.ON');
    const failing = await session.run('extra = [mode]\nraise ValueError("late")');
    expect(failing.result).toMatchObject({ outcome: 'error', stateSaved: true, notCarried: [] });
    const third = await session.run('extra[0] is mode is Mode.ON');
    expect(third.result).toMatchObject({ outcome: 'ok', value: 'True', notCarried: [] });
  });

  it('functools.singledispatch functions, singledispatchmethod methods with their registrations, and cached_property', async () => {
    const { second } = await twoCalls(
      lines(
        'import functools',
        '@functools.singledispatch',
        'def kind(x):',
        '    return "obj"',
        '@kind.register',
        'def _(x: int):',
        '    return "int"',
        'kind.note = "kept"',
        'class Fmt:',
        '    @functools.singledispatchmethod',
        '    def show(self, x):',
        '        return "obj"',
        '    @show.register',
        '    def _(self, x: str):',
        '        return "str:" + x',
        '    @functools.cached_property',
        '    def heavy(self):',
        '        return [42]',
        'fmt = Fmt()',
        'print(kind(1), fmt.show("a"), fmt.heavy)',
      ),
      lines(
        '@kind.register',
        'def _(x: float):',
        '    return "float"',
        'print(kind(1), kind(2.5), kind([]), kind.note, fmt.show("b"), fmt.show(3), isinstance(fmt, Fmt), fmt.heavy is fmt.heavy, Fmt().heavy)',
      ),
    );
    expect(second.output).toBe('int float obj kept str:b obj True True [42]\n');
  });

  it('writes out files the cell left open, so the next run reads what was written', async () => {
    const session = new harness.Session();
    const first = await session.run(
      lines(
        'import os, pathlib',
        'log = open("log.txt", "w")',
        'log.write("hello")',
        'sinks = {"raw": open("raw.bin", "wb")}',
        'sinks["raw"].write(b"12345")',
        // Opened below Python's open(): a raw descriptor wrapped later, and pathlib.
        'viafd = os.fdopen(os.open("viafd.txt", os.O_WRONLY | os.O_CREAT), "w")',
        'viafd.write("fd")',
        'viapath = pathlib.Path("viapath.txt").open("a")',
        'viapath.write("path")',
      ),
    );
    expect(first.result.notCarried.map((value) => value.name)).toEqual(['log', 'sinks', 'viafd', 'viapath']);
    const second = await session.run('print(*(repr(open(name).read()) for name in ("log.txt", "viafd.txt", "viapath.txt")), len(open("raw.bin", "rb").read()))');
    expect(second.output).toBe("'hello' 'fd' 'path' 5\n");
  });

  it('ends compressed files left open, so the next run reads them whole (gzip text over binary, bz2, lzma)', async () => {
    const session = new harness.Session();
    await session.run(
      lines(
        'import bz2, gzip, lzma',
        'g = gzip.open("h.gz", "wt"); g.write("g" * 200000 + "END")',
        'b = bz2.open("h.bz2", "wb"); b.write(b"b" * 200000 + b"END")',
        'x = lzma.open("h.xz", "wt"); x.write("x" * 200000 + "END")',
      ),
    );
    const second = await session.run(
      'import bz2, gzip, lzma\nprint(gzip.open("h.gz", "rt").read()[-4:], bz2.open("h.bz2").read()[-4:], lzma.open("h.xz", "rt").read()[-4:])',
    );
    expect(second.output).toBe("gEND b'bEND' xEND\n");
  });

  it('writes out a file that a restored value opened, once a later cell wrote to it', async () => {
    const session = new harness.Session();
    await session.run(
      lines(
        'class Log:',
        '    def __init__(self): self.f = None',
        '    def __getstate__(self): return {}',
        '    def __setstate__(self, state): self.f = open("restored.txt", "a")',
        'log = Log()',
      ),
    );
    await session.run('log.f.write("abc" * 1000)');
    const third = await session.run('print(len(open("restored.txt").read()))');
    expect(third.output).toBe('3000\n');
  });

  it('restores a snapshot of the first format (written by earlier runners)', async () => {
    const inDir = harness.hostDir();
    copyFileSync(path.join(import.meta.dirname, 'fixtures', 'python-state-v1.bin'), path.join(inDir, 'state'));
    const run = await harness.runContainer({
      code: 'print(area(1), box.volume(), isinstance(box, Box), alias is shared, math.sqrt(16))',
      dataDir: harness.hostDir(),
      inDir,
      outDir: harness.hostDir(),
      restore: true,
    });
    expect(run.result).toMatchObject({ outcome: 'ok', notCarried: [] });
    expect(run.output).toBe('3.14 27 True True 4.0\n');
  });

  it('restores a snapshot of the format before blobs, and saves its large arrays as blobs from then on', async () => {
    // Written by the runner before blobs (CCPYSNP2): big = np.arange(135_000.0), frame, shared, alias, twice.
    const inDir = harness.hostDir();
    const outDir = harness.hostDir();
    copyFileSync(path.join(import.meta.dirname, 'fixtures', 'python-state-v2.bin'), path.join(inDir, 'state'));
    const run = await harness.runContainer({
      code: "print(big[-1], frame['a'].sum(), alias is shared, twice(21))",
      dataDir: harness.hostDir(),
      inDir,
      outDir,
      restore: true,
    });
    expect(run.result).toMatchObject({ outcome: 'ok', notCarried: [], stateSaved: true });
    expect(run.output).toBe('134999.0 6 True 42\n');
    const listed = readFileSync(path.join(outDir, 'state.blobs'), 'utf8').split('\n').filter(Boolean);
    expect(listed).toHaveLength(1);
    expect(statSync(path.join(outDir, 'blobs', listed[0] ?? '')).size).toBe(135_000 * 8);
    expect(readFileSync(path.join(outDir, 'state')).subarray(0, 8).toString('latin1')).toBe('CCPYSNP3');
  });
});
