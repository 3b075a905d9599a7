/** The code editor: CodeMirror 6 with one highlighting mode per Codecell language, swapped in place. */
import { defaultKeymap, history, historyKeymap, indentWithTab, toggleComment } from '@codemirror/commands';
import { javascript } from '@codemirror/lang-javascript';
import { php } from '@codemirror/lang-php';
import { python } from '@codemirror/lang-python';
import { bracketMatching, defaultHighlightStyle, indentOnInput, StreamLanguage, syntaxHighlighting, type LanguageSupport } from '@codemirror/language';
import { c, cpp, java } from '@codemirror/legacy-modes/mode/clike';
import { d } from '@codemirror/legacy-modes/mode/d';
import { fortran } from '@codemirror/legacy-modes/mode/fortran';
import { go } from '@codemirror/legacy-modes/mode/go';
import { r } from '@codemirror/legacy-modes/mode/r';
import { rust } from '@codemirror/legacy-modes/mode/rust';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';

function modeFor(language: string): Extension {
  switch (language) {
    case 'python': return python();
    case 'javascript': return javascript();
    case 'typescript': return javascript({ typescript: true });
    case 'php': return php() as LanguageSupport;
    case 'bash': return StreamLanguage.define(shell);
    case 'c': return StreamLanguage.define(c);
    case 'cpp': return StreamLanguage.define(cpp);
    case 'java': return StreamLanguage.define(java);
    case 'go': return StreamLanguage.define(go);
    case 'rust': return StreamLanguage.define(rust);
    case 'r': return StreamLanguage.define(r);
    case 'd': return StreamLanguage.define(d);
    case 'fortran': return StreamLanguage.define(fortran);
    default: return [];
  }
}

export interface CodeEditor {
  readonly view: EditorView;
  code(): string;
  setCode(code: string): void;
  setLanguage(language: string): void;
}

export function createEditor(parent: HTMLElement, onRun: () => void): CodeEditor {
  const mode = new Compartment();
  const view = new EditorView({
    parent,
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
        keymap.of([
          { key: 'Mod-Enter', run: () => (onRun(), true), preventDefault: true },
          { key: 'Mod-/', run: toggleComment },
          indentWithTab,
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        mode.of(modeFor('python')),
        EditorView.contentAttributes.of({ 'aria-label': 'Code' }),
      ],
    }),
  });
  return {
    view,
    code: () => view.state.doc.toString(),
    setCode: (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
    setLanguage: (language) => view.dispatch({ effects: mode.reconfigure(modeFor(language)) }),
  };
}
