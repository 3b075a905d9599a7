import { describe, expect, it } from 'vitest';
import { ONE_SHOT_LANGUAGES, type OneShotLanguageInfo } from '../../../src/domain/types.js';
import { runnableLanguages } from '../../../src/engine/system-info.js';

const entry = (language: OneShotLanguageInfo['language'], installed: boolean): OneShotLanguageInfo => ({
  language,
  image: `img-${language}`,
  installed,
  version: installed ? '1.0' : null,
});

describe('the languages get_system_info names', () => {
  it('names only the stateful languages where no one-shot image exists (the process executor of a Space)', () => {
    expect(runnableLanguages([])).toEqual(['python', 'javascript', 'typescript', 'bash']);
  });

  it('adds the installed one-shot languages and leaves out the missing ones', () => {
    const info = ONE_SHOT_LANGUAGES.map((language) => entry(language, language === 'c' || language === 'go'));
    expect(runnableLanguages(info)).toEqual(['python', 'javascript', 'typescript', 'bash', 'c', 'go']);
  });
});
