/**
 * What a reload keeps of the page, in sessionStorage (this tab only, gone with it): the selected
 * session and, per session, the editor's language and text. Stored values are read back through a
 * check, since anything in storage may be stale or edited.
 */
const SESSION_KEY = 'codecell.session';
const DRAFT_PREFIX = 'codecell.draft.';

export interface Draft {
  readonly language: string;
  readonly code: string;
}

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

function write(key: string, value: string): void {
  try {
    storage()?.setItem(key, value);
  } catch {
    // A full or disabled storage only costs the reload its state.
  }
}

export function savedSession(): string | undefined {
  return storage()?.getItem(SESSION_KEY) ?? undefined;
}

export function saveSession(session: string): void {
  write(SESSION_KEY, session);
}

export function savedDraft(session: string): Draft | undefined {
  const raw = storage()?.getItem(DRAFT_PREFIX + session);
  if (raw === null || raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<Draft> | null;
    return typeof parsed?.language === 'string' && typeof parsed.code === 'string' ? { language: parsed.language, code: parsed.code } : undefined;
  } catch {
    return undefined;
  }
}

export function saveDraft(session: string, draft: Draft): void {
  write(DRAFT_PREFIX + session, JSON.stringify(draft));
}
