/**
 * Called by scripts/build-images.sh: `node dist/scripts/stage-extras.js <file> <image> <dir>` checks
 * the extra packages file and writes the image's extras into <dir> (see extra-packages.ts).
 */
import { ExtraPackagesError, extrasFor, readExtraPackages, stageExtras } from './extra-packages.js';

const [file, image, dir] = process.argv.slice(2);
if (!file || !image || !dir) {
  console.error('usage: stage-extras <extra-packages.json> <image> <extras dir>');
  process.exit(2);
}
try {
  stageExtras(extrasFor(file, readExtraPackages(file), image), dir);
} catch (err) {
  if (!(err instanceof ExtraPackagesError)) throw err;
  console.error(err.message);
  process.exit(1);
}
