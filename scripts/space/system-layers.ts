/**
 * The system layers of an execution image's Dockerfile: its RUN instructions before the first COPY,
 * the part that depends on nothing but the base image (Debian packages, placeholders, dpkg rules).
 * The Space image runs all three languages in one container, so its Dockerfile repeats these
 * layers of images/python, images/node and images/bash verbatim: each package list has one home.
 */

/** One instruction of a Dockerfile, with the comment lines just above it and its continuation lines. */
interface Instruction {
  readonly keyword: string;
  /** The instruction's source as written, leading comments included. */
  readonly text: string;
}

function splitInstructions(dockerfile: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: string[] = [];
  let current: string[] | undefined;
  let keyword = '';
  for (const line of dockerfile.split('\n')) {
    const trimmed = line.trim();
    if (current !== undefined) {
      current.push(line);
      // A comment line inside a continued instruction does not end it (Docker drops such lines).
      if (trimmed.startsWith('#') || line.trimEnd().endsWith('\\')) continue;
      instructions.push({ keyword, text: current.join('\n') });
      current = undefined;
      continue;
    }
    if (trimmed === '') {
      pending = [];
      continue;
    }
    if (trimmed.startsWith('#')) {
      pending.push(line);
      continue;
    }
    keyword = (trimmed.split(/\s+/, 1)[0] ?? '').toUpperCase();
    current = [...pending, line];
    pending = [];
    if (!line.trimEnd().endsWith('\\')) {
      instructions.push({ keyword, text: current.join('\n') });
      current = undefined;
    }
  }
  if (current !== undefined) throw new Error('the Dockerfile ends inside a continued instruction');
  return instructions;
}

/** The RUN instructions before the first COPY or ADD, as written, joined by blank lines. */
export function systemLayers(dockerfile: string): string {
  const layers: string[] = [];
  for (const instruction of splitInstructions(dockerfile)) {
    if (instruction.keyword === 'COPY' || instruction.keyword === 'ADD') break;
    if (instruction.keyword === 'RUN') layers.push(instruction.text);
  }
  if (layers.length === 0) throw new Error('no RUN instruction before the first COPY');
  return layers.join('\n\n');
}
