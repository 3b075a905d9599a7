/**
 * The code editor: CodeMirror 6 with one highlighting mode per Codecell language, loaded on first
 * use (separate chunks) and swapped in place. It lives in a shadow root so that CodeMirror's styles
 * go in as constructed style sheets: the page's CSP allows no inline <style>.
 */
import { defaultKeymap, history, historyKeymap, indentWithTab, toggleComment } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, indentOnInput, StreamLanguage, syntaxHighlighting, type StreamParser } from '@codemirror/language';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';

const legacy = (parser: StreamParser<unknown>): Extension => StreamLanguage.define(parser);

async function modeFor(language: string): Promise<Extension> {
  switch (language) {
    case 'python': return (await import('@codemirror/lang-python')).python();
    case 'javascript': return (await import('@codemirror/lang-javascript')).javascript();
    case 'typescript': return (await import('@codemirror/lang-javascript')).javascript({ typescript: true });
    case 'php': return (await import('@codemirror/lang-php')).php();
    case 'bash': return legacy((await import('@codemirror/legacy-modes/mode/shell')).shell);
    case 'c': return legacy((await import('@codemirror/legacy-modes/mode/clike')).c);
    case 'cpp': return legacy((await import('@codemirror/legacy-modes/mode/clike')).cpp);
    case 'java': return legacy((await import('@codemirror/legacy-modes/mode/clike')).java);
    case 'go': return legacy((await import('@codemirror/legacy-modes/mode/go')).go);
    case 'rust': return legacy((await import('@codemirror/legacy-modes/mode/rust')).rust);
    case 'r': return legacy((await import('@codemirror/legacy-modes/mode/r')).r);
    case 'd': return legacy((await import('@codemirror/legacy-modes/mode/d')).d);
    case 'fortran': return legacy((await import('@codemirror/legacy-modes/mode/fortran')).fortran);
    default: return [];
  }
}

const theme = EditorView.theme({
  '&': { minHeight: '14rem', fontSize: '14px' },
  '&.cm-focused': { outline: '2px solid #2458c6' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', minHeight: '14rem' },
});

export interface CodeEditor {
  readonly view: EditorView;
  code(): string;
  setCode(code: string): void;
  setLanguage(language: string): void;
}

export function createEditor(parent: HTMLElement, onRun: () => void, onChange: () => void = () => undefined): CodeEditor {
  const mode = new Compartment();
  const shadow = parent.attachShadow({ mode: 'open' });
  const host = document.createElement('div');
  shadow.append(host);
  const view = new EditorView({
    root: shadow,
    parent: host,
    state: EditorState.create({
      doc: '',
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        theme,
        keymap.of([
          { key: 'Mod-Enter', run: () => (onRun(), true), preventDefault: true },
          { key: 'Mod-/', run: toggleComment },
          indentWithTab,
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        mode.of([]),
        EditorView.contentAttributes.of({ 'aria-label': 'Code' }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange();
        }),
      ],
    }),
  });
  let wanted = '';
  return {
    view,
    code: () => view.state.doc.toString(),
    setCode: (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
    setLanguage: (language) => {
      wanted = language;
      modeFor(language)
        .then((extension) => {
          // A slower chunk must not override a language picked after it.
          if (wanted === language) view.dispatch({ effects: mode.reconfigure(extension) });
        })
        .catch(() => view.dispatch({ effects: mode.reconfigure([]) }));
    },
  };
}
