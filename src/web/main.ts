/** The playground page: wires the editor, output, sessions, files, system info and examples to the API. */
import './zod-jitless.js';
import { CodecellApi, forgetKey, storedKey, storeKey, textOf, UnauthorizedError, type FileEntry } from './api.js';
import { createEditor, type CodeEditor } from './editor.js';
import { EXAMPLES } from './examples.js';
import { saveDraft, savedDraft, saveSession, savedSession } from './page-state.js';
import { LiveOutput, showError, showResult } from './output.js';

const DEFAULT_LANGUAGES = ['python', 'javascript', 'typescript', 'bash'];
const DEFAULT_SESSION = 'default';

interface SessionOutput {
  readonly session_id: string;
  readonly is_default: boolean;
  readonly executions: number;
  readonly last_used_at: string;
}

interface HistoryEntry {
  readonly at: string;
  readonly language: string;
  readonly code: string;
  readonly status: string;
  readonly duration_ms: number;
}

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`missing #${id}`);
  return node as T;
}

const ui = {
  language: byId<HTMLSelectElement>('language'),
  run: byId<HTMLButtonElement>('run'),
  stop: byId<HTMLButtonElement>('stop'),
  session: byId<HTMLSelectElement>('session'),
  sessionNew: byId<HTMLButtonElement>('session-new'),
  sessionReset: byId<HTMLButtonElement>('session-reset'),
  sessionClose: byId<HTMLButtonElement>('session-close'),
  status: byId<HTMLElement>('status'),
  forgetKey: byId<HTMLButtonElement>('forget-key'),
  editor: byId<HTMLElement>('editor'),
  output: byId<HTMLElement>('output'),
  examples: byId<HTMLUListElement>('examples'),
  files: byId<HTMLUListElement>('files'),
  filesRefresh: byId<HTMLButtonElement>('files-refresh'),
  fileInput: byId<HTMLInputElement>('file-input'),
  dropzone: byId<HTMLElement>('dropzone'),
  history: byId<HTMLOListElement>('history'),
  system: byId<HTMLElement>('system'),
  keyDialog: byId<HTMLDialogElement>('key-dialog'),
  keyForm: byId<HTMLFormElement>('key-form'),
  keyInput: byId<HTMLInputElement>('key-input'),
  keyError: byId<HTMLElement>('key-error'),
};

let api: CodecellApi | undefined;
let editor: CodeEditor;
let running: AbortController | undefined;
/** Finished runs, on #output as data-run: a signal for whoever waits on the page (tests, scripts). */
let finishedRuns = 0;

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function currentSession(): string | undefined {
  return ui.session.value === '' ? undefined : ui.session.value;
}

function restSession(): string {
  return currentSession() ?? DEFAULT_SESSION;
}

function requireApi(): CodecellApi {
  if (api === undefined) throw new Error('not connected');
  return api;
}

/** Runs an action; a failure becomes the status line rather than an unhandled rejection. */
function act(label: string, action: () => Promise<void>): void {
  action().catch((error: unknown) => {
    if (error instanceof UnauthorizedError) {
      forgetKey();
      window.location.reload();
      return;
    }
    setStatus(`${label} failed: ${error instanceof Error ? error.message : String(error)}`);
  });
}

// ---- key -------------------------------------------------------------------------------------

function askForKey(message?: string): Promise<string> {
  ui.keyError.hidden = message === undefined;
  ui.keyError.textContent = message ?? '';
  ui.keyInput.value = '';
  ui.keyDialog.showModal();
  return new Promise((resolve) => {
    ui.keyForm.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        ui.keyDialog.close();
        resolve(ui.keyInput.value.trim());
      },
      { once: true },
    );
  });
}

/** Connects with no key on an open server, else with the stored key or one the person types (asked again until accepted). */
async function connect(): Promise<CodecellApi> {
  let key = storedKey();
  let message: string | undefined;
  for (;;) {
    try {
      const connected = await CodecellApi.connect(key);
      if (key !== null) {
        storeKey(key);
        ui.forgetKey.hidden = false;
      }
      return connected;
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      if (key !== null) message = 'The server refused that key.';
      key = await askForKey(message);
    }
  }
}

// ---- languages and examples ------------------------------------------------------------------

function fillLanguages(languages: readonly string[]): void {
  const ordered = [...DEFAULT_LANGUAGES.filter((language) => languages.includes(language)), ...languages.filter((language) => !DEFAULT_LANGUAGES.includes(language))];
  ui.language.replaceChildren(...ordered.map((language) => new Option(language, language)));
  ui.language.value = ordered.includes('python') ? 'python' : (ordered[0] ?? '');
  editor.setLanguage(ui.language.value);
}

function fillExamples(): void {
  ui.examples.replaceChildren(
    ...EXAMPLES.map((example) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'example';
      button.textContent = example.title;
      button.addEventListener('click', () => {
        if ([...ui.language.options].some((option) => option.value === example.language)) ui.language.value = example.language;
        editor.setLanguage(example.language);
        editor.setCode(example.code);
        editor.view.focus();
      });
      item.append(button);
      return item;
    }),
  );
}

// ---- running ---------------------------------------------------------------------------------

async function run(): Promise<void> {
  if (running !== undefined) return;
  const code = editor.code();
  if (code.trim() === '') return;
  const controller = new AbortController();
  running = controller;
  ui.run.hidden = true;
  ui.stop.hidden = false;
  setStatus('Running…');
  const live = new LiveOutput(ui.output);
  try {
    const args: Record<string, unknown> = { language: ui.language.value, code };
    const session = currentSession();
    if (session !== undefined) args.session_id = session;
    const result = await requireApi().callTool('execute_code', args, (chunk) => live.append(chunk), controller.signal);
    const ranIn = (result.structuredContent as { session_id?: string } | undefined)?.session_id;
    showResult(ui.output, result, (path) => act('Download', () => downloadFile(path, ranIn)));
    setStatus(result.isError === true ? 'Failed' : 'Done');
    await refreshSessions(ranIn).catch((error: unknown) => setStatus(`Ran; the session list did not refresh: ${String(error)}`));
  } catch (error) {
    if (error instanceof UnauthorizedError) throw error;
    const stopped = controller.signal.aborted;
    showError(ui.output, stopped ? 'Stopped: the run was cancelled.' : error instanceof Error ? error.message : String(error));
    setStatus(stopped ? 'Stopped' : 'Failed');
  } finally {
    running = undefined;
    ui.run.hidden = false;
    ui.stop.hidden = true;
    ui.output.dataset.run = String(++finishedRuns);
  }
}

// ---- sessions --------------------------------------------------------------------------------

async function refreshSessions(select?: string): Promise<void> {
  const { sessions } = await requireApi().structured<{ sessions: SessionOutput[] }>('list_execution_sessions');
  const wanted = select ?? ui.session.value;
  const options = sessions.map((session) => new Option(`${session.session_id.slice(0, 12)}${session.is_default ? ' (default)' : ''} · ${session.executions} run${session.executions === 1 ? '' : 's'}`, session.session_id));
  if (!sessions.some((session) => session.is_default)) options.unshift(new Option('default (new)', ''));
  ui.session.replaceChildren(...options);
  const values = options.map((option) => option.value);
  ui.session.value = values.includes(wanted) ? wanted : (sessions.find((session) => session.is_default)?.session_id ?? values[0] ?? '');
  showSessionDraft();
  await Promise.all([refreshFiles(), refreshHistory()]);
}

/** Remembers the selected session and shows its last editor text, or keeps the editor's text for it. */
function showSessionDraft(): void {
  draftsReady = true;
  saveSession(ui.session.value);
  const draft = savedDraft(ui.session.value);
  if (draft === undefined) {
    saveEditorDraft();
    return;
  }
  if (draft.code === editor.code() && draft.language === ui.language.value) return;
  if ([...ui.language.options].some((option) => option.value === draft.language)) {
    ui.language.value = draft.language;
    editor.setLanguage(draft.language);
  }
  editor.setCode(draft.code);
}

/** Until the sessions are known, editor changes (the first example) must not overwrite a saved draft. */
let draftsReady = false;

function saveEditorDraft(): void {
  if (!draftsReady) return;
  saveDraft(ui.session.value, { language: ui.language.value, code: editor.code() });
}

async function refreshHistory(): Promise<void> {
  const session = currentSession();
  if (session === undefined) {
    ui.history.replaceChildren();
    return;
  }
  const { history } = await requireApi().structured<{ history: HistoryEntry[] }>('get_execution_history', { session_id: session });
  ui.history.replaceChildren(
    ...history.map((entry) => {
      const item = document.createElement('li');
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `${new Date(entry.at).toLocaleTimeString()} · ${entry.language} · ${entry.status}`;
      const code = document.createElement('pre');
      code.textContent = entry.code;
      const reopen = document.createElement('button');
      reopen.type = 'button';
      reopen.textContent = 'Open in editor';
      reopen.addEventListener('click', () => {
        ui.language.value = entry.language;
        editor.setLanguage(entry.language);
        editor.setCode(entry.code);
      });
      item.append(meta, code, reopen);
      return item;
    }),
  );
}

async function newSession(): Promise<void> {
  const created = await requireApi().structured<{ session_id: string }>('create_execution_session');
  await refreshSessions(created.session_id);
  setStatus(`Created session ${created.session_id.slice(0, 12)}`);
}

async function resetSession(): Promise<void> {
  const session = currentSession();
  await requireApi().structured('reset_execution_session', session === undefined ? {} : { session_id: session });
  await refreshSessions();
  setStatus('Session reset: variables gone, files kept');
}

async function closeSession(): Promise<void> {
  const session = currentSession();
  if (session === undefined) return;
  if (!window.confirm('Close this session? Its files and variables are deleted.')) return;
  await requireApi().structured('close_execution_session', { session_id: session });
  await refreshSessions('');
  setStatus('Session closed');
}

// ---- files -----------------------------------------------------------------------------------

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function refreshFiles(): Promise<void> {
  const entries = await requireApi().listFiles(restSession()).catch((error: unknown) => {
    // A session that does not exist yet (the default before its first run) has no files.
    if (currentSession() === undefined) return [] as FileEntry[];
    throw error;
  });
  const files = entries.filter((entry) => entry.kind === undefined || entry.kind === 'file');
  ui.files.replaceChildren(
    ...files.map((entry) => {
      const item = document.createElement('li');
      item.dataset.path = entry.path;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = entry.path;
      name.title = `${entry.path} · ${formatSize(entry.size)}`;
      const size = document.createElement('span');
      size.className = 'meta';
      size.textContent = formatSize(entry.size);
      const download = document.createElement('button');
      download.type = 'button';
      download.textContent = 'Download';
      download.addEventListener('click', () => act('Download', () => downloadFile(entry.path)));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () =>
        act('Delete', async () => {
          await requireApi().deleteFile(restSession(), entry.path);
          await refreshFiles();
        }),
      );
      item.append(name, size, download, remove);
      return item;
    }),
  );
}

async function downloadFile(path: string, session: string = restSession()): Promise<void> {
  const blob = await requireApi().downloadFile(session, path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = path.split('/').pop() ?? 'download';
  document.body.append(link);
  link.click();
  link.remove();
  // The click has handed the blob to the download; free it on the next turn.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

async function uploadFiles(files: readonly File[]): Promise<void> {
  if (files.length === 0) return;
  setStatus(`Uploading ${files.length} file${files.length === 1 ? '' : 's'}…`);
  await requireApi().uploadFiles(restSession(), files);
  await refreshSessions();
  setStatus(`Uploaded ${files.map((file) => file.name).join(', ')}`);
}

// ---- system info -----------------------------------------------------------------------------

interface SystemInfo {
  readonly codecell_version: string;
  readonly executor: Record<string, string>;
  readonly languages: string[];
  readonly runtimes: { runtime: string; language_version: string; packages: Record<string, string> }[];
  readonly one_shot_languages: { language: string; installed: boolean; version: string | null }[];
  readonly limits: Record<string, number>;
}

function showSystem(info: SystemInfo): void {
  const list = document.createElement('dl');
  const add = (term: string, value: string): void => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    list.append(dt, dd);
  };
  add('Version', info.codecell_version);
  add('Executor', Object.values(info.executor).join(' · '));
  add('Languages', info.languages.join(', '));
  for (const runtime of info.runtimes) {
    add(`${runtime.runtime} ${runtime.language_version}`, Object.entries(runtime.packages).map(([name, version]) => `${name} ${version}`).join(', ') || '—');
  }
  const oneShot = info.one_shot_languages.map((entry) => `${entry.language} ${entry.installed ? (entry.version ?? '?') : '(not installed)'}`);
  if (oneShot.length > 0) add('One-shot', oneShot.join(', '));
  for (const [name, value] of Object.entries(info.limits)) add(name.replaceAll('_', ' '), String(value));
  ui.system.replaceChildren(list);
}

// ---- start -----------------------------------------------------------------------------------

function wire(): void {
  editor = createEditor(ui.editor, () => act('Run', run), saveEditorDraft);
  fillExamples();
  const first = EXAMPLES[0];
  if (first !== undefined) editor.setCode(first.code);
  ui.run.addEventListener('click', () => act('Run', run));
  ui.stop.addEventListener('click', () => running?.abort());
  ui.language.addEventListener('change', () => {
    editor.setLanguage(ui.language.value);
    saveEditorDraft();
  });
  ui.session.addEventListener('change', () => {
    showSessionDraft();
    act('Switch session', () => Promise.all([refreshFiles(), refreshHistory()]).then(() => undefined));
  });
  ui.sessionNew.addEventListener('click', () => act('New session', newSession));
  ui.sessionReset.addEventListener('click', () => act('Reset', resetSession));
  ui.sessionClose.addEventListener('click', () => act('Close', closeSession));
  ui.filesRefresh.addEventListener('click', () => act('Refresh', refreshFiles));
  ui.forgetKey.addEventListener('click', () => {
    forgetKey();
    window.location.reload();
  });
  ui.fileInput.addEventListener('change', () => {
    const files = [...(ui.fileInput.files ?? [])];
    ui.fileInput.value = '';
    act('Upload', () => uploadFiles(files));
  });
  ui.dropzone.addEventListener('dragover', (event) => {
    event.preventDefault();
    ui.dropzone.classList.add('over');
  });
  ui.dropzone.addEventListener('dragleave', () => ui.dropzone.classList.remove('over'));
  ui.dropzone.addEventListener('drop', (event) => {
    event.preventDefault();
    ui.dropzone.classList.remove('over');
    act('Upload', () => uploadFiles([...(event.dataTransfer?.files ?? [])]));
  });
}

async function start(): Promise<void> {
  wire();
  api = await connect();
  const infoResult = await api.callTool('get_system_info');
  const info = infoResult.structuredContent as SystemInfo | undefined;
  if (info === undefined) throw new Error(textOf(infoResult));
  fillLanguages(info.languages);
  showSystem(info);
  await refreshSessions(savedSession());
  document.body.dataset.ready = 'true';
  setStatus('Ready');
}

act('Start', start);
