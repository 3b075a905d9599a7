/**
 * What the Node runner's snapshot (images/node/lib/snapshot/) carries from one call to the next, for
 * the constructs model-written JavaScript and TypeScript use: private (#) members along a class
 * chain, accessors, statics, symbol keys, bound functions, collections of instances, closures,
 * async and generator functions, null prototypes, frozen objects, TypeScript enums, parameter
 * properties and namespaces. Each test runs real cells in throwaway containers (run-image.ts) and
 * checks values, identity and behaviour after the restore, and that what cannot be carried is named
 * in the run that made it, with everything else intact.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { useImageHarness, type Run } from './run-image.js';
import { compileTypeScript } from './typescript-cell.js';

const { Session } = useImageHarness('node');

/** For cells that print one JSON document: what they printed. */
function printedJson(run: Run): unknown {
  expect(run.result.error).toBeNull();
  return JSON.parse(run.output);
}

function notCarriedByName(run: Run): Record<string, { type: string; reason: string }> {
  return Object.fromEntries(run.result.notCarried.map((entry) => [entry.name, entry]));
}

describe('node runner state', () => {
  it('carries instances of a class chain with private fields, private methods and static privates, without running constructors again', async () => {
    const session = new Session();
    const first = await session.run(`
      class Account {
        #balance;
        static #opened = 0;
        #audit() { return 'audited ' + this.#balance; }
        constructor(balance) { this.#balance = balance; Account.#opened++; console.log('Account constructor ran'); }
        get balance() { return this.#balance; }
        deposit(n) { this.#balance += n; return this.#audit(); }
        static get opened() { return Account.#opened; }
      }
      class Savings extends Account {
        #rate = 0.5;
        constructor(balance, rate) { super(balance); this.#rate = rate; console.log('Savings constructor ran'); }
        interest() { return this.balance * this.#rate; }
        deposit(n) { return 'savings ' + super.deposit(n); }
        get rate() { return this.#rate; }
      }
      class OverdraftError extends Error {
        #needed;
        constructor(needed) { super('overdraft by ' + needed); this.#needed = needed; }
        get needed() { return this.#needed; }
      }
      const lastError = new OverdraftError(7);
      const plain = new Account(10);
      const savings = new Savings(100, 0.25);
      const byOwner = new Map([['ann', savings], ['bob', plain]]);
      const everyone = new Set([savings, plain]);
      const alias = savings;
      savings.deposit(20);
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });
    expect(first.output).toBe('Account constructor ran\nAccount constructor ran\nSavings constructor ran\n');

    const second = await session.run(`console.log(JSON.stringify({
      balance: savings.balance,
      rate: savings.rate,
      interest: savings.interest(),
      audit: savings.deposit(5),
      plain: plain.balance,
      opened: Account.opened,
      classes: [savings instanceof Savings, savings instanceof Account, plain instanceof Savings],
      mapSame: byOwner.get('ann') === savings && byOwner.get('bob') === plain,
      setSame: everyone.has(savings) && everyone.has(plain),
      alias: alias === savings,
      error: [lastError instanceof OverdraftError, lastError instanceof Error, lastError.message, lastError.needed],
    }))`);
    // No constructor ran during the restore: the only output is the cell's.
    expect(printedJson(second)).toEqual({
      balance: 120,
      rate: 0.25,
      interest: 30,
      audit: 'savings audited 125',
      plain: 10,
      opened: 2,
      classes: [true, true, false],
      mapSame: true,
      setSame: true,
      alias: true,
      error: [true, true, 'overdraft by 7', 7],
    });
    expect(second.result.notCarried).toEqual([]);

    // A third call: the restored classes make new instances and carry them again.
    const third = await session.run('const later = new Savings(8, 2); [later.interest(), savings.balance, Account.opened]');
    expect(third.result.value).toBe('[ 16, 125, 3 ]');
    expect((await session.run('[later.interest(), later.deposit(1), byOwner.get("ann").balance]')).result.value).toBe(
      "[ 16, 'savings audited 9', 125 ]",
    );
  });

  it('carries getters and setters, statics, symbol keys, null prototypes and frozen or sealed objects', async () => {
    const session = new Session();
    const first = await session.run(`
      class Temperature {
        static unit = 'C';
        static created = 0;
        static describe = () => this.unit + ' x' + this.created;
        static seen = new WeakSet();
        constructor(c) { this.c = c; Temperature.created++; }
        get f() { return this.c * 9 / 5 + 32; }
        set f(value) { this.c = (value - 32) * 5 / 9; }
        static fromF(f) { const t = new Temperature(0); t.f = f; return t; }
        *[Symbol.iterator]() { yield this.c; yield this.f; }
      }
      Temperature.unit = 'Celsius';
      const boiling = Temperature.fromF(212);
      const box = { w: 2, h: 3, get area() { return this.w * this.h; }, set area(a) { this.w = a / this.h; } };
      Object.defineProperty(box, 'id', { value: 'box-1', enumerable: false });
      Object.defineProperty(box, 'twice', { get: () => 2 * 21, enumerable: true });
      const registered = Symbol.for('app.key');
      const unique = Symbol('secret');
      const tagged = { [registered]: 'by registry', [unique]: 'by unique symbol', [Symbol.toStringTag]: 'Tagged' };
      const alsoUnique = unique;
      const dict = Object.create(null);
      dict.key = 'value';
      const settings = Object.freeze({ mode: 'strict', limits: Object.freeze([1, 2]) });
      const sealed = Object.seal({ size: 1 });
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    // Named; the class's static initializer makes a new one when the class is restored.
    expect(first.result.notCarried).toEqual([expect.objectContaining({ name: 'Temperature.seen', reason: expect.stringContaining('weak') })]);

    const second = await session.run(`
      box.area = 12;
      sealed.size = 2;
      sealed.extra = 'ignored';
      console.log(JSON.stringify({
        unit: Temperature.unit,
        created: Temperature.created,
        describe: Temperature.describe(),
        seen: Temperature.seen instanceof WeakSet,
        boilingC: boiling.c,
        boilingF: boiling.f,
        iterated: [...boiling],
        fromF: Temperature.fromF(32).c,
        boxW: box.w,
        area: box.area,
        areaIsAccessor: typeof Object.getOwnPropertyDescriptor(box, 'area').get,
        id: box.id,
        idHidden: !Object.keys(box).includes('id'),
        twice: box.twice,
        registered: tagged[Symbol.for('app.key')],
        sameRegistered: registered === Symbol.for('app.key'),
        unique: tagged[unique],
        uniqueShared: alsoUnique === unique,
        uniqueDescription: unique.description,
        toStringTag: Object.prototype.toString.call(tagged),
        dictProto: Object.getPrototypeOf(dict) === null,
        dictKey: dict.key,
        frozen: [Object.isFrozen(settings), Object.isFrozen(settings.limits), settings.mode, settings.limits],
        sealed: [Object.isSealed(sealed), Object.isFrozen(sealed), sealed.size, 'extra' in sealed],
      }));
    `);
    expect(printedJson(second)).toEqual({
      unit: 'Celsius',
      created: 1,
      describe: 'Celsius x1',
      seen: true,
      boilingC: 100,
      boilingF: 212,
      iterated: [100, 212],
      fromF: 0,
      boxW: 4,
      area: 12,
      areaIsAccessor: 'function',
      id: 'box-1',
      idHidden: true,
      twice: 42,
      registered: 'by registry',
      sameRegistered: true,
      unique: 'by unique symbol',
      uniqueShared: true,
      uniqueDescription: 'secret',
      toStringTag: '[object Tagged]',
      dictProto: true,
      dictKey: 'value',
      frozen: [true, true, 'strict', [1, 2]],
      sealed: [true, false, 2, false],
    });
  });

  it('carries bound functions, closures over top-level state, async and generator functions; names closures over locals in the run that made them', async () => {
    const session = new Session();
    const first = await session.run(`
      let total = 0;
      function add(n) { total += n; return total; }
      const addTen = add.bind(null, 10);
      addTen.label = 'ten';
      const self = {};
      self.get = function () { return this; }.bind(self);
      class Greeter { #greeting; constructor(g) { this.#greeting = g; } greet(name, mark) { return this.#greeting + ', ' + name + mark; } }
      const hello = new Greeter('Hello');
      const greetAnn = hello.greet.bind(hello, 'Ann');
      const looseGreet = hello.greet;
      const biggest = Math.max.bind(null, 7);
      const scale = 3;
      const times = (x) => x * scale;
      const counter = (() => { let n = 0; return () => ++n; })();
      function makeAdder(k) { return (x) => x + k; }
      const addFive = makeAdder(5);
      class Clicker { clicks = 0; onClick = () => ++this.clicks; }
      const clicker = new Clicker();
      async function slowDouble(x) { await null; return x * 2; }
      const asyncArrow = async (x) => x + 1;
      function* upTo(n) { for (let i = 1; i <= n; i++) yield i; }
      const running = upTo(3);
      const tools = { counter, times, label: 'tools' };
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    const notCarried = notCarriedByName(first);
    expect(Object.keys(notCarried).sort()).toEqual(['addFive', 'counter', 'looseGreet', 'running', 'tools.counter']);
    // A method on its own, away from its class, whose private names do not compile there.
    expect(notCarried.looseGreet!.reason).toContain('does not compile on its own');
    expect(notCarried.counter!.reason).toContain('closes over n ');
    expect(notCarried.addFive!.reason).toContain('closes over k ');
    expect(notCarried.running!.reason).toContain("generator's paused state");

    const second = await session.run(`
      const results = { addTen: addTen(), total, greet: greetAnn('!'), biggest: biggest(3), times: times(4), toolsTimes: tools.times === times,
        toolsLabel: tools.label, counter: typeof counter, toolsCounter: tools.counter, clicks: clicker.clicks, upTo: [...upTo(4)],
        asyncKind: slowDouble.constructor.name, boundName: addTen.name,
        boundLabel: addTen.label, selfBound: self.get() === self, click: [clicker.onClick(), clicker.onClick(), clicker.clicks] };
      results.slow = await slowDouble(21);
      results.arrow = await asyncArrow(1);
      console.log(JSON.stringify(results));
    `);
    expect(printedJson(second)).toEqual({
      addTen: 10,
      total: 10,
      greet: 'Hello, Ann!',
      biggest: 7,
      times: 12,
      toolsTimes: true,
      toolsLabel: 'tools',
      counter: 'undefined',
      clicks: 0,
      upTo: [1, 2, 3, 4],
      asyncKind: 'AsyncFunction',
      boundName: 'bound add',
      boundLabel: 'ten',
      selfBound: true,
      click: [1, 2, 2],
      slow: 42,
      arrow: 2,
    });
    // The restored bound function is carried again, and its target still counts the same global.
    // Made from restored definitions, an arrow field is carried again and a closure over a local
    // is named again.
    const third = await session.run('const other = new Clicker();\nother.onClick();\nconst addTwo = makeAdder(2);\n[addTen(), total]');
    expect(third.result.value).toBe('[ 20, 20 ]');
    expect(third.result.notCarried.map((entry) => entry.name)).toEqual(['addTwo']);
    expect((await session.run('[other.onClick(), clicker.onClick(), other.clicks, clicker.clicks]')).result.value).toBe('[ 2, 3, 2, 3 ]');
  });

  it('keeps every other value, and sharing between names, when one value cannot be carried', async () => {
    const session = new Session();
    const first = await session.run(`
      const Hidden = eval('(class Hidden { #x = 1; get x() { return this.#x; } })');
      const broken = new Hidden();
      const shared = { items: [1, 2], broken, when: new Date(0) };
      const sameShared = shared;
      const list = [shared, broken, 'tail'];
      const fine = { n: 42 };
      class Poller { #timer = setInterval(() => {}, 1000); #polls = 3; get polls() { return this.#polls; } stop() { clearInterval(this.#timer); } }
      const poller = new Poller();
      poller.stop();
      // Too deep to save; the records after it have the same keys (the snapshot writes keys once).
      let chain = { next: null, n: 0 };
      for (let i = 1; i < 200000; i++) chain = { next: chain, n: i };
      const pairs = [{ next: 'a', n: 1 }, { next: 'b', n: 2 }];
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    const notCarried = notCarriedByName(first);
    expect(Object.keys(notCarried).sort()).toEqual(['broken', 'chain', 'list[1]', 'poller.#timer', 'shared.broken']);
    expect(notCarried.chain!.reason).toContain('nested too deeply');
    expect(notCarried.broken!.reason).toContain('private (#) members');
    expect(notCarried['poller.#timer']).toMatchObject({ type: 'Timeout', reason: expect.stringContaining('timers') });

    const second = await session.run(`console.log(JSON.stringify({
      shared: sameShared === shared && list[0] === shared,
      items: shared.items,
      when: shared.when.getTime(),
      brokenGone: [typeof broken, shared.broken === undefined, list[1] === undefined, list[2]],
      hidden: new Hidden().x,
      fine: fine.n,
      polls: poller.polls,
      pairs,
      chain: typeof chain,
    }))`);
    expect(printedJson(second)).toEqual({
      shared: true,
      items: [1, 2],
      when: 0,
      brokenGone: ['undefined', true, true, 'tail'],
      hidden: 1,
      fine: 42,
      polls: 3,
      pairs: [{ next: 'a', n: 1 }, { next: 'b', n: 2 }],
      chain: 'undefined',
    });
    expect(second.result.notCarried).toEqual([]);
  });

  it('names an object of Node.js that lost a part in the run that made it, instead of carrying it broken', async () => {
    const session = new Session();
    const first = await session.run(`
      const http = require('http');
      const { EventEmitter } = require('events');
      const server = http.createServer((req, res) => res.end('ok'));
      const bus = new EventEmitter();
      const seen = [];
      bus.on('msg', (m) => seen.push(m));
      const port = 3000;
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    const notCarried = notCarriedByName(first);
    expect(Object.keys(notCarried)).toEqual(['server']);
    expect(notCarried.server).toMatchObject({ type: 'Server', reason: expect.stringContaining('make it again in the next cell') });

    const second = await session.run(`bus.emit('msg', 'hi'); console.log(JSON.stringify([typeof server, seen, port]))`);
    expect(printedJson(second)).toEqual(['undefined', ['hi'], 3000]);
  });

  it('carries TypeScript enums, classes with parameter properties and private members, and namespaces', async () => {
    const session = new Session();
    const first = compileTypeScript(`
      enum Level { Low = 1, High = 5 }
      enum Color { Red = 'red', Blue = 'blue' }
      class Task {
        #done = false;
        constructor(public readonly title: string, private level: Level) {}
        finish(): this { this.#done = true; return this; }
        get summary(): string { return \`\${this.title}:\${Level[this.level]}:\${this.#done}\`; }
      }
      namespace Units {
        export const factor = 1000;
        const hidden = 3;
        export function toMilli(x: number): number { return x * factor; }
        export function scaled(x: number): number { return x * hidden; }
      }
      const task = new Task('write', Level.High).finish();
      const favourite: Color = Color.Blue;
    `);
    const run = await session.run(first.code, 'typescript');
    expect(run.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    // A namespace function that uses an exported member is carried; one that uses a local of the
    // namespace is named, and the rest of the namespace stays.
    expect(notCarriedByName(run)).toEqual({
      'Units.scaled': expect.objectContaining({ reason: expect.stringContaining('closes over hidden ') }),
    });

    const second = compileTypeScript(`
      const later: Task = new Task('read', Level.Low);
      console.log(JSON.stringify({
        summary: task.summary,
        later: later.summary,
        instance: task instanceof Task,
        level: [Level.High, Level[5]],
        color: [favourite, Color.Red],
        factor: Units.factor,
        toMilli: Units.toMilli(2),
        scaled: typeof Units.scaled,
      }));
    `);
    expect(printedJson(await session.run(second.code, 'typescript'))).toEqual({
      summary: 'write:High:true',
      later: 'read:Low:false',
      instance: true,
      level: [5, 'High'],
      color: ['blue', 'red'],
      factor: 1000,
      toMilli: 2000,
      scaled: 'undefined',
    });
  });

  it('reads snapshots of the previous format, and names private members it cannot reach in them', async () => {
    const session = new Session();
    await session.run('0');
    const Point = 'class Point { #tag = 1; constructor(x) { this.x = x } get double() { return this.x * 2 } }';
    writeFileSync(
      session.statePath,
      JSON.stringify({
        format: 'codecell-node-state/1',
        names: ['Point', 'p', 'label'],
        values: [['F', Point, 'Point', null, 0, 1, 0], ['o', ['r', 0], 'x', 4], 'kept'],
      }),
    );
    const run = await session.run('const q = new Point(5);\n[p.double, q.double, label]');
    expect(run.result.value).toBe("[ 8, 10, 'kept' ]");
    // Version 1 carried the class without what reads its private members: instances made from it
    // (the restored one, which never had them, and a new one) are named, not saved broken.
    const notCarried = notCarriedByName(run);
    expect(Object.keys(notCarried).sort()).toEqual(['p', 'q']);
    expect(notCarried.q!.reason).toContain('snapshot of an older runner');
  });
});
