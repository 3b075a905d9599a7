/**
 * Documents and structured text in Python: Excel reports (xlsxwriter, openpyxl), Word (python-docx),
 * PDF (reportlab, read back, merged and rotated with pypdf), HTML from jinja2, YAML, Markdown, HTML scraping
 * with BeautifulSoup, ZIP archives. Each file is downloaded and its bytes checked, and read back.
 */
import { expect } from 'vitest';
import { SALES, SALES_CSV, revenueOf, sumBy } from './helpers/fixtures.js';
import { describePrograms, lastJson, type ProgramCase } from './helpers/programs.js';

const ZIP_MAGIC = 'PK\u0003\u0004';

function magic(bytes: Buffer, length = 4): string {
  return bytes.subarray(0, length).toString('latin1');
}

const cases: ProgramCase[] = [
  {
    name: 'xlsxwriter: a formatted sales report with a formula and a chart, read back with openpyxl',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      await session.python(`import pandas as pd
df = pd.read_csv('/mnt/data/sales.csv')
df['revenue'] = df['units'] * df['price']
summary = df.groupby('region', as_index=False)['revenue'].sum()
with pd.ExcelWriter('/mnt/data/report.xlsx', engine='xlsxwriter') as writer:
    summary.to_excel(writer, sheet_name='Summary', index=False)
    df.to_excel(writer, sheet_name='Data', index=False)
    wb = writer.book
    ws = writer.sheets['Summary']
    money = wb.add_format({'num_format': '#,##0.00', 'bold': True})
    ws.set_column('B:B', 14, money)
    ws.write_formula('B6', '=SUM(B2:B5)')
    chart = wb.add_chart({'type': 'column'})
    chart.add_series({'categories': '=Summary!$A$2:$A$5', 'values': '=Summary!$B$2:$B$5', 'name': 'Revenue'})
    ws.insert_chart('D2', chart)
print('written')`);
      const bytes = await session.download('report.xlsx');
      expect(magic(bytes)).toBe(ZIP_MAGIC);
      const run = await session.python(`from openpyxl import load_workbook
import json
wb = load_workbook('/mnt/data/report.xlsx')
ws = wb['Summary']
rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_row=5)]
print(json.dumps({'sheets': wb.sheetnames, 'rows': rows, 'formula': ws['B6'].value, 'charts': len(ws._charts), 'data_rows': wb['Data'].max_row}))`);
      const expected = [...sumBy(SALES, (sale) => sale.region, revenueOf).entries()].sort((a, b) => a[0].localeCompare(b[0]));
      const answer = lastJson<{ sheets: string[]; rows: [string, number][]; formula: string; charts: number; data_rows: number }>(run);
      expect(answer.sheets).toEqual(['Summary', 'Data']);
      expect(answer.rows.map(([region]) => region)).toEqual(expected.map(([region]) => region));
      answer.rows.forEach(([, revenue], i) => expect(revenue).toBeCloseTo(expected[i]?.[1] ?? NaN, 6));
      expect(answer.formula).toBe('=SUM(B2:B5)');
      expect(answer).toMatchObject({ data_rows: 25 });
    },
  },
  {
    name: 'openpyxl: a workbook with styles, merged cells and a number format round-trips',
    async run(session) {
      const run = await session.python(`from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
wb = Workbook()
ws = wb.active
ws.title = 'Budget'
ws.merge_cells('A1:C1')
ws['A1'] = 'Budget 2024'
ws['A1'].font = Font(bold=True, size=14)
ws.append(['Item', 'Cost', 'Qty'])
for item in [('Laptop', 1299.99, 3), ('Monitor', 249.5, 6), ('Desk', 410, 3)]:
    ws.append(item)
for cell in ws['B']:
    cell.number_format = '#,##0.00'
ws['A2'].fill = PatternFill('solid', fgColor='FFFF00')
wb.save('budget.xlsx')
back = load_workbook('budget.xlsx')['Budget']
total = sum(back.cell(row=r, column=2).value * back.cell(row=r, column=3).value for r in range(3, 6))
print(back['A1'].value, back['A1'].font.b, back.merged_cells.ranges[0].coord, back['B3'].number_format, round(total, 2))`);
      expect(run.out.stdout).toBe('Budget 2024 True A1:C1 #,##0.00 6626.97\n');
      expect(magic(await session.download('budget.xlsx'))).toBe(ZIP_MAGIC);
    },
  },
  {
    name: 'python-docx: a Word report with a heading, a table and bullets, read back',
    async run(session) {
      const run = await session.python(`from docx import Document
from docx.shared import Pt
doc = Document()
doc.add_heading('Quarterly Review', level=1)
p = doc.add_paragraph('Revenue grew by ')
p.add_run('12%').bold = True
p.add_run(' over the quarter.')
for point in ['New customers: 40', 'Churn: 2%']:
    doc.add_paragraph(point, style='List Bullet')
table = doc.add_table(rows=1, cols=2)
table.rows[0].cells[0].text = 'Region'
table.rows[0].cells[1].text = 'Revenue'
for region, revenue in [('North', '1,200'), ('South', '950')]:
    cells = table.add_row().cells
    cells[0].text, cells[1].text = region, revenue
doc.save('/mnt/data/review.docx')

back = Document('/mnt/data/review.docx')
print([para.text for para in back.paragraphs])
print([[c.text for c in row.cells] for row in back.tables[0].rows])`);
      expect(run.out.stdout).toBe(
        "['Quarterly Review', 'Revenue grew by 12% over the quarter.', 'New customers: 40', 'Churn: 2%']\n" +
          "[['Region', 'Revenue'], ['North', '1,200'], ['South', '950']]\n",
      );
      const bytes = await session.download('review.docx');
      expect(magic(bytes)).toBe(ZIP_MAGIC);
      expect(bytes.includes(Buffer.from('word/document.xml'))).toBe(true);
    },
  },
  {
    name: 'reportlab: a two-page PDF invoice, its text read back with pypdf',
    async run(session) {
      const run = await session.python(`from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from pypdf import PdfReader

c = canvas.Canvas('/mnt/data/invoice.pdf', pagesize=A4)
c.setFont('Helvetica-Bold', 16)
c.drawString(72, 770, 'Invoice INV-2024-017')
c.setFont('Helvetica', 11)
y = 740
for item, amount in [('Consulting', 1500.00), ('Hosting', 240.50)]:
    c.drawString(72, y, f'{item}: {amount:.2f} EUR')
    y -= 18
c.showPage()
c.drawString(72, 770, 'Total due: 1740.50 EUR')
c.save()

reader = PdfReader('/mnt/data/invoice.pdf')
print(len(reader.pages))
print(reader.pages[0].extract_text())
print(reader.pages[1].extract_text())
print(round(float(reader.pages[0].mediabox.width)), round(float(reader.pages[0].mediabox.height)))`);
      const lines = run.out.stdout.split('\n');
      expect(lines[0]).toBe('2');
      expect(run.out.stdout).toContain('Invoice INV-2024-017');
      expect(run.out.stdout).toContain('Hosting: 240.50 EUR');
      expect(run.out.stdout).toContain('Total due: 1740.50 EUR');
      expect(run.out.stdout).toContain('595 842');
      const bytes = await session.download('invoice.pdf');
      expect(magic(bytes, 5)).toBe('%PDF-');
      expect(bytes.subarray(-6).toString('latin1')).toContain('%%EOF');
    },
  },
  {
    name: 'pypdf: merge two generated PDFs, rotate a page, and read the result back',
    async run(session) {
      const run = await session.python(`from reportlab.pdfgen import canvas
from pypdf import PdfReader, PdfWriter

for name, pages in [('a.pdf', 2), ('b.pdf', 1)]:
    c = canvas.Canvas(name)
    for i in range(pages):
        c.drawString(72, 720, f'{name} page {i + 1}')
        c.showPage()
    c.save()

writer = PdfWriter()
for name in ['a.pdf', 'b.pdf']:
    for page in PdfReader(name).pages:
        writer.add_page(page)
writer.pages[2].rotate(90)
writer.add_metadata({'/Title': 'Merged report'})
with open('merged.pdf', 'wb') as f:
    writer.write(f)

merged = PdfReader('merged.pdf')
print(len(merged.pages), merged.metadata.title, merged.pages[2].get('/Rotate'))
print([p.extract_text().strip() for p in merged.pages])`);
      expect(run.out.stdout).toBe("3 Merged report 90\n['a.pdf page 1', 'a.pdf page 2', 'b.pdf page 1']\n");
      expect(magic(await session.download('merged.pdf'), 5)).toBe('%PDF-');
    },
  },
  {
    name: 'jinja2: an HTML report rendered from a template and data',
    async run(session) {
      await session.upload('templates/report.html', `<h1>{{ title }}</h1>
<ul>
{% for row in rows %}  <li>{{ row.name }}: {{ "%.1f"|format(row.score) }}</li>
{% endfor %}</ul>
<p>Best: {{ (rows|max(attribute='score')).name }}</p>
`);
      await session.python(`from jinja2 import Environment, FileSystemLoader, select_autoescape
env = Environment(loader=FileSystemLoader('/mnt/data/templates'), autoescape=select_autoescape())
html = env.get_template('report.html').render(title='Scores <2024>', rows=[{'name': 'Ada', 'score': 9.25}, {'name': 'Lin', 'score': 9.75}])
with open('/mnt/data/report.html', 'w') as f:
    f.write(html)`);
      const html = (await session.download('report.html')).toString('utf8');
      expect(html).toBe('<h1>Scores &lt;2024&gt;</h1>\n<ul>\n  <li>Ada: 9.2</li>\n  <li>Lin: 9.8</li>\n</ul>\n<p>Best: Lin</p>');
    },
  },
  {
    name: 'YAML config read, changed and written back',
    async run(session) {
      await session.upload('config.yaml', 'service:\n  name: api\n  replicas: 2\n  ports: [80, 443]\nfeatures:\n  beta: false\n');
      const run = await session.python(`import yaml, json
with open('config.yaml') as f:
    config = yaml.safe_load(f)
config['service']['replicas'] *= 3
config['features']['beta'] = True
with open('config.yaml', 'w') as f:
    yaml.safe_dump(config, f, sort_keys=False)
print(json.dumps(config))`);
      expect(lastJson(run)).toEqual({ service: { name: 'api', replicas: 6, ports: [80, 443] }, features: { beta: true } });
      expect((await session.download('config.yaml')).toString('utf8')).toBe(
        'service:\n  name: api\n  replicas: 6\n  ports:\n  - 80\n  - 443\nfeatures:\n  beta: true\n',
      );
    },
  },
  {
    name: 'a Markdown summary table written with to_markdown and shown with read_file',
    async run(session) {
      await session.python(`import pandas as pd
df = pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp_c': [4.5, 19.25]})
with open('summary.md', 'w') as f:
    f.write('# Weather\\n\\n' + df.to_markdown(index=False) + '\\n')`);
      const shown = await session.tool('read_file', { path: 'summary.md' });
      const text = shown.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
      expect(text).toContain('# Weather');
      expect(text).toMatch(/\| city\s+\|\s+temp_c \|/);
      expect(text).toMatch(/\| Lima\s+\|\s+19\.25 \|/);
    },
  },
  {
    name: 'a cleaned CSV export downloads byte for byte',
    async run(session) {
      await session.upload('raw.csv', 'name , score\n Ada ,9\nLin,  7\n,5\nSam,8\n');
      await session.python(`import pandas as pd
df = pd.read_csv('raw.csv', skipinitialspace=True)
df.columns = [c.strip() for c in df.columns]
df['name'] = df['name'].str.strip()
df = df.dropna(subset=['name']).sort_values('score', ascending=False)
df.to_csv('clean.csv', index=False)`);
      expect((await session.download('clean.csv')).toString('utf8')).toBe('name,score\nAda,9\nSam,8\nLin,7\n');
    },
  },
  {
    name: 'BeautifulSoup: scrape a table from an uploaded HTML page',
    async run(session) {
      await session.upload(
        'page.html',
        '<html><body><table id="prices"><tr><th>Fruit</th><th>Price</th></tr><tr><td>Apple</td><td>1.20</td></tr>' +
          '<tr><td>Kiwi</td><td>0.45</td></tr><tr><td>Mango</td><td>2.10</td></tr></table><a href="/next">next</a></body></html>',
      );
      const run = await session.python(`from bs4 import BeautifulSoup
import json
with open('/mnt/data/page.html') as f:
    soup = BeautifulSoup(f.read(), 'html.parser')
rows = soup.select('#prices tr')[1:]
prices = {r.find_all('td')[0].get_text(): float(r.find_all('td')[1].get_text()) for r in rows}
print(json.dumps({'prices': prices, 'total': round(sum(prices.values()), 2), 'link': soup.a['href']}))`);
      expect(lastJson(run)).toEqual({ prices: { Apple: 1.2, Kiwi: 0.45, Mango: 2.1 }, total: 3.75, link: '/next' });
    },
  },
  {
    name: 'a ZIP archive of generated files, listed and downloaded',
    async run(session) {
      const run = await session.python(`import zipfile, os
os.makedirs('out', exist_ok=True)
for i in range(3):
    with open(f'out/part{i}.txt', 'w') as f:
        f.write(f'part {i}\\n' * (i + 1))
with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir('out')):
        z.write(os.path.join('out', name), arcname=name)
with zipfile.ZipFile('bundle.zip') as z:
    print([(i.filename, i.file_size) for i in z.infolist()])`);
      expect(run.out.stdout).toBe("[('part0.txt', 7), ('part1.txt', 14), ('part2.txt', 21)]\n");
      const bytes = await session.download('bundle.zip');
      expect(magic(bytes)).toBe(ZIP_MAGIC);
      expect(bytes.includes(Buffer.from('part2.txt'))).toBe(true);
    },
  },
];

describePrograms('python document programs', cases);
