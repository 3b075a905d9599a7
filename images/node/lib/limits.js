'use strict';
// What the sandbox is, told where code looks for it: the CPU cap instead of the host's CPUs, and a
// network error that names its cause instead of a bare "fetch failed". Applied at warm-up, before
// the built-ins are collected for the snapshot (snapshot/known.js), so these count as built-ins.

const os = require('os');
const { syncBuiltinESMExports } = require('module');

/** The CPU cap in whole CPUs (src/executor/docker/limits-env.ts sets it), or null when absent. */
function cpuCap() {
  const count = Number.parseInt(process.env.CODECELL_CPU_COUNT ?? '', 10);
  return Number.isSafeInteger(count) && count > 0 ? count : null;
}

/** os.availableParallelism() and os.cpus() answer the cap (cpus() lists the first CPUs the host has). */
function reportCpuCap() {
  const cap = cpuCap();
  if (cap === null) return;
  const hostCpus = os.cpus;
  const hostParallelism = os.availableParallelism;
  os.cpus = function cpus() {
    return hostCpus().slice(0, cap);
  };
  if (typeof hostParallelism === 'function') {
    os.availableParallelism = function availableParallelism() {
      return Math.min(cap, hostParallelism());
    };
  }
  syncBuiltinESMExports(); // import { cpus } from 'node:os' sees the same functions
}

/**
 * fetch() rejects with a TypeError "fetch failed" whose cause (getaddrinfo EAI_AGAIN example.com,
 * connect ENETUNREACH …) is only in `cause`, which most error printing leaves out: the message
 * carries it here. Node 18 defines fetch as a lazy accessor; the real one is read at the first call.
 */
function explainFetchFailures() {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  if (descriptor === undefined) return;
  let realFetch = null;
  const fetch = async function fetch(...args) {
    realFetch ??= 'value' in descriptor ? descriptor.value : descriptor.get.call(globalThis);
    try {
      return await realFetch.apply(this, args);
    } catch (error) {
      throw withCause(error);
    }
  };
  Object.defineProperty(globalThis, 'fetch', {
    value: fetch,
    writable: true,
    enumerable: descriptor.enumerable,
    configurable: true,
  });
}

function withCause(error) {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return error;
  const cause = error.cause;
  // An AggregateError (one attempt per address) has no message of its own: its first attempt's.
  const first = cause instanceof AggregateError ? cause.errors[0] : cause;
  const detail = first instanceof Error ? first.message || first.code : null;
  if (!detail) return error;
  return new TypeError(`fetch failed: ${detail}`, { cause });
}

function applyLimits() {
  reportCpuCap();
  explainFetchFailures();
}

module.exports = { applyLimits };
