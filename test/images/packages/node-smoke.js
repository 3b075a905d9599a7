// One cell that uses every npm package the Node image promises (README, "Packages"), with static
// import, require and dynamic import alike; prints one JSON object test/images/packages.test.ts checks.
import _ from 'lodash';
import { format, addDays } from 'date-fns';
import * as d3 from 'd3-array';
import { csvParse } from 'd3-dsv';
const math = require('mathjs');
const Papa = require('papaparse');
const dayjs = require('dayjs');
const { DateTime } = require('luxon');
const Decimal = require('decimal.js');
const ss = require('simple-statistics');
const { parse } = require('csv-parse/sync');
const { stringify } = require('csv-stringify/sync');
const uuid = require('uuid');
const YAML = require('yaml');
const { XMLParser } = require('fast-xml-parser');
const { z } = require('zod');
const ExcelJS = require('exceljs');
const dynamicMath = await import('mathjs');
const dynamicLodash = (await import('lodash')).default;

const workbook = new ExcelJS.Workbook();
workbook.addWorksheet('s').addRows([['city', 'n'], ['Oslo', 3]]);
const buffer = await workbook.xlsx.writeBuffer();
const readBack = new ExcelJS.Workbook();
await readBack.xlsx.load(buffer);

require('fs').writeFileSync('esm-file.mjs', "import _ from 'lodash';\nimport { mean } from 'd3-array';\nconsole.log(JSON.stringify([_.sum([1, 2]), mean([2, 4])]));\n");
const esmFile = JSON.parse(require('child_process').execFileSync(process.execPath, ['esm-file.mjs'], { encoding: 'utf8' }));

console.log(JSON.stringify({
  lodash: _.chunk([1, 2, 3, 4, 5], 2),
  lodashDynamic: dynamicLodash.sum([1, 2, 3]),
  dateFns: format(addDays(new Date(2024, 0, 30), 2), 'yyyy-MM-dd'),
  mathjs: math.evaluate('sqrt(16) + 2^3'),
  mathjsDynamic: dynamicMath.det([[1, 2], [3, 4]]),
  papaparse: Papa.parse('a,b\n1,2', { header: true, dynamicTyping: true }).data,
  d3Array: [d3.mean([1, 2, 3, 6]), d3.extent([5, 1, 9])],
  d3Dsv: csvParse('x,y\n1,2')[0],
  dayjs: dayjs('2024-02-28').add(1, 'day').format('YYYY-MM-DD'),
  luxon: DateTime.fromISO('2024-03-10T12:00:00Z').plus({ hours: 36 }).toUTC().toISO(),
  decimal: new Decimal('0.1').plus('0.2').toString(),
  simpleStatistics: ss.linearRegression([[1, 2], [2, 4], [3, 6]]),
  csv: [parse('a,b\n1,2', { columns: true }), stringify([['x', 'y, z']])],
  uuid: uuid.validate(uuid.v4()),
  yaml: YAML.parse('a: [1, 2]'),
  xml: new XMLParser().parse('<r><i>1</i><i>2</i></r>'),
  zod: z.object({ n: z.number() }).safeParse({ n: 'x' }).success,
  exceljs: readBack.getWorksheet('s').getRow(2).values.slice(1),
  esmFile,
}));
