/**
 * get_system_info's data: this Codecell, the executor and its runtimes (Executor.systemInfo, which
 * asks the runtimes themselves and caches the answer), and the limits every run gets.
 */
import type { Settings } from '../config/settings.js';
import { STATEFUL_LANGUAGES, type Language, type OneShotLanguageInfo } from '../domain/types.js';
import type { Executor } from '../executor/executor.js';
import type { SystemInfo } from './types.js';

/** The limits a run gets, as get_system_info reports them (whole MiB, seconds). */
export function limitsInfo(settings: Settings, executorKind: SystemInfo['executor']['kind']): SystemInfo['limits'] {
  const { limits, sessions } = settings;
  return {
    timeoutSeconds: limits.timeoutMs / 1000,
    maxOutputChars: limits.maxOutputChars,
    memoryMb: Math.round(limits.memoryBytes / 1024 / 1024),
    cpus: limits.nanoCpus / 1e9,
    pidsLimit: limits.pidsLimit,
    maxFileMb: Math.round(limits.maxFileBytes / 1024 / 1024),
    sessionQuotaMb: Math.round(limits.sessionQuotaBytes / 1024 / 1024),
    maxImagesPerRun: limits.maxImagesPerRun,
    sessionTtlSeconds: sessions.ttlMs / 1000,
    maxSessions: sessions.maxSessions,
    tmpMb: executorKind === 'docker' ? Math.round(limits.tmpfsBytes / 1024 / 1024) : null,
  };
}

/**
 * The languages a call can run here: the stateful ones, and a one-shot language only when its image
 * is installed (the process executor of a Space has none), so the model is not told about C or Go
 * where every such call ends in LanguageNotInstalled.
 */
export function runnableLanguages(oneShotLanguages: readonly OneShotLanguageInfo[]): Language[] {
  return [...STATEFUL_LANGUAGES, ...oneShotLanguages.filter((entry) => entry.installed).map((entry) => entry.language)];
}

export async function describeSystem(settings: Settings, executor: Executor, version: string): Promise<SystemInfo> {
  const { executor: info, runtimes, oneShotLanguages } = await executor.systemInfo();
  return {
    codecellVersion: version,
    executor: info,
    languages: runnableLanguages(oneShotLanguages),
    runtimes,
    oneShotLanguages,
    limits: limitsInfo(settings, info.kind),
    network: 'none',
    workingDirectory: '/mnt/data',
  };
}
