/**
 * Plots and pictures in Python, written the way a model writes them: matplotlib and seaborn charts
 * shown inline, figures saved for download, Chinese labels, an oversized figure, plotly HTML, image
 * processing with PIL, OpenCV and scikit-image. Sizes come from the PNG headers, pixels from code.
 */
import { expect } from 'vitest';
import { SALES_CSV } from './helpers/fixtures.js';
import { describePrograms, expectFigureSize, lastJson, pngSize, type ProgramCase } from './helpers/programs.js';

const cases: ProgramCase[] = [
  {
    name: 'a bar chart with plt.show() comes back as one image of about 600×400',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.python(`import pandas as pd
import matplotlib.pyplot as plt

df = pd.read_csv('/mnt/data/sales.csv')
totals = df.groupby('region')['units'].sum()
fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
totals.plot(kind='bar', ax=ax, color='steelblue')
ax.set_title('Units by region')
ax.set_ylabel('Units')
plt.tight_layout()
plt.show()`);
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 600, height: 400 });
      expect(run.out.images).toEqual([expect.objectContaining({ width: run.images[0]?.width, height: run.images[0]?.height })]);
    },
  },
  {
    name: 'plt.savefig with the figure still open gives one inline image and the saved file',
    async run(session) {
      const run = await session.python(`import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 2 * np.pi, 200)
plt.figure(figsize=(8, 5))
plt.plot(x, np.sin(x), label='sin')
plt.plot(x, np.cos(x), label='cos')
plt.legend()
plt.savefig('/mnt/data/waves.png', dpi=100)
print('saved')`);
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 800, height: 500 });
      expect(run.out.files).toEqual([expect.objectContaining({ path: 'waves.png', mime_type: 'image/png', change: 'created' })]);
      // Same figure, same dpi, same settings: the saved file has the inline image's size.
      expect(pngSize(await session.download('waves.png'))).toEqual({ width: run.images[0]?.width, height: run.images[0]?.height });
    },
  },
  {
    name: 'four subplots in one figure are one image; two figures are two',
    async run(session) {
      const run = await session.python(`import matplotlib.pyplot as plt
import numpy as np
fig, axes = plt.subplots(2, 2, figsize=(10, 8), dpi=50)
for i, ax in enumerate(axes.flat):
    ax.hist(np.random.default_rng(i).normal(size=200), bins=20)
    ax.set_title(f'sample {i}')
plt.show()
plt.figure(figsize=(3, 2), dpi=100)
plt.scatter([1, 2, 3], [3, 1, 2])
plt.show()`);
      expect(run.images).toHaveLength(2);
      expectFigureSize(run.images[0], { width: 500, height: 400 });
      expectFigureSize(run.images[1], { width: 300, height: 200 });
    },
  },
  {
    name: 'a seaborn correlation heatmap',
    async run(session) {
      const run = await session.python(`import seaborn as sns
import pandas as pd
import numpy as np
import matplotlib.pyplot as plt
rng = np.random.default_rng(0)
df = pd.DataFrame(rng.normal(size=(50, 4)), columns=list('abcd'))
df['e'] = df['a'] * 2 + 1
corr = df.corr()
plt.figure(figsize=(5, 4), dpi=100)
sns.heatmap(corr, annot=True, fmt='.2f', cmap='coolwarm')
plt.title('Correlation')
print(round(corr.loc['a', 'e'], 6))`);
      expect(run.out.stdout).toBe('1.0\n');
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 500, height: 400 });
    },
  },
  {
    name: '%matplotlib inline at the top of a cell, as notebooks have it',
    async run(session) {
      const run = await session.python(`%matplotlib inline
import matplotlib.pyplot as plt
plt.figure(figsize=(4, 3), dpi=100)
plt.plot([1, 2, 3], [1, 4, 9])
plt.show()`);
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 400, height: 300 });
    },
  },
  {
    name: 'Chinese labels render with a CJK font: no missing-glyph warnings',
    async run(session) {
      const run = await session.python(`import warnings
import matplotlib.pyplot as plt
plt.rcParams['font.sans-serif'] = ['Noto Sans CJK SC', 'Noto Sans CJK JP', 'DejaVu Sans']
plt.rcParams['axes.unicode_minus'] = False
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.bar(['北京', '上海', '广州'], [120, 95, 80])
    ax.set_title('各城市销售额（万元）')
    ax.set_xlabel('城市')
    fig.canvas.draw()
missing = [str(w.message) for w in caught if 'missing from' in str(w.message)]
print('missing glyphs:', len(missing))
plt.show()`);
      expect(run.out.stdout).toBe('missing glyphs: 0\n');
      expect(run.out.stderr).not.toContain('missing from');
      expect(run.images).toHaveLength(1);
      expectFigureSize(run.images[0], { width: 600, height: 400 });
    },
  },
  {
    name: 'a 6,300 px wide figure is downscaled inline; the full-size PNG stays a download',
    async run(session) {
      const run = await session.python(`import matplotlib.pyplot as plt
import numpy as np
fig = plt.figure(figsize=(63, 12), dpi=100)
rng = np.random.default_rng(1)
plt.imshow(rng.random((120, 630)), aspect='auto')
fig.savefig('/mnt/data/wide.png')
plt.show()`);
      expect(run.images).toHaveLength(1);
      const inline = run.images[0];
      const saved = pngSize(await session.download('wide.png'));
      expectFigureSize(saved, { width: 6300, height: 1200 });
      expect(inline?.width).toBeLessThan(saved.width);
      expect(inline?.bytes.length).toBeLessThan(5 * 1024 * 1024);
      // The aspect ratio survives the downscale (to a pixel).
      expect(Math.abs((inline?.height ?? 0) - ((inline?.width ?? 0) * saved.height) / saved.width)).toBeLessThanOrEqual(1);
    },
  },
  {
    name: 'an interactive plotly chart written as HTML',
    async run(session) {
      await session.upload('sales.csv', SALES_CSV);
      const run = await session.python(`import plotly.express as px
import pandas as pd
df = pd.read_csv('/mnt/data/sales.csv')
fig = px.bar(df.groupby('product', as_index=False)['units'].sum(), x='product', y='units', title='Units by product')
fig.write_html('/mnt/data/units.html', include_plotlyjs=True)
print(len(fig.data), fig.layout.title.text)`);
      expect(run.out.stdout).toBe('1 Units by product\n');
      const html = (await session.download('units.html')).toString('utf8');
      expect(html).toContain('Units by product');
      expect(html).toContain('Plotly.newPlot');
    },
  },
  {
    name: 'PIL: a gradient is made, blurred, cropped and thumbnailed; pixels checked',
    async run(session) {
      const run = await session.python(`from PIL import Image, ImageFilter, ImageDraw
import json
img = Image.new('RGB', (256, 100))
for x in range(256):
    for y in range(100):
        img.putpixel((x, y), (x, 0, 255 - x))
draw = ImageDraw.Draw(img)
draw.rectangle([10, 10, 29, 29], fill=(0, 255, 0))
img.save('/mnt/data/gradient.png')
gray = img.convert('L')
thumb = img.copy()
thumb.thumbnail((64, 64))
crop = img.crop((100, 0, 150, 50))
blurred = img.filter(ImageFilter.BoxBlur(1))
print(json.dumps({'pixel': img.getpixel((200, 50)), 'green': img.getpixel((20, 20)), 'gray_size': gray.size, 'mode': gray.mode,
                  'thumb': thumb.size, 'crop': crop.size, 'blur_mid': blurred.getpixel((128, 50))}))`);
      expect(lastJson(run)).toEqual({ pixel: [200, 0, 55], green: [0, 255, 0], gray_size: [256, 100], mode: 'L', thumb: [64, 25], crop: [50, 50], blur_mid: [128, 0, 127] });
      expect(pngSize(await session.download('gradient.png'))).toEqual({ width: 256, height: 100 });
    },
  },
  {
    name: 'PIL Image.show() shows the picture instead of doing nothing',
    async run(session) {
      const run = await session.python(`from PIL import Image
img = Image.new('RGB', (120, 80), (255, 0, 0))
img.show()`);
      expect(run.images).toHaveLength(1);
      expect(run.images[0]).toMatchObject({ width: 120, height: 80 });
    },
  },
  {
    name: 'OpenCV: threshold an uploaded picture and count the white pixels and contours',
    async run(session) {
      // The uploaded "photo": a PNG made by PIL in the same session, as a model would prepare test input.
      await session.python(`from PIL import Image, ImageDraw
img = Image.new('L', (200, 100), 0)
d = ImageDraw.Draw(img)
d.rectangle([10, 10, 59, 59], fill=255)
d.rectangle([100, 20, 139, 79], fill=200)
img.save('/mnt/data/shapes.png')`);
      const run = await session.python(`import cv2, json
img = cv2.imread('/mnt/data/shapes.png', cv2.IMREAD_GRAYSCALE)
_, mask = cv2.threshold(img, 127, 255, cv2.THRESH_BINARY)
contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
boxes = sorted(cv2.boundingRect(c) for c in contours)
edges = cv2.Canny(img, 50, 150)
cv2.imwrite('/mnt/data/mask.png', mask)
print(json.dumps({'shape': img.shape, 'white': int((mask == 255).sum()), 'boxes': boxes, 'has_edges': bool(edges.any())}))`);
      expect(lastJson(run)).toEqual({ shape: [100, 200], white: 50 * 50 + 40 * 60, boxes: [[10, 10, 50, 50], [100, 20, 40, 60]], has_edges: true });
      expect(pngSize(await session.download('mask.png'))).toEqual({ width: 200, height: 100 });
    },
  },
  {
    name: 'scikit-image: Otsu threshold and labelled regions of a synthetic image',
    async run(session) {
      const run = await session.python(`import numpy as np, json
from skimage import filters, measure
img = np.zeros((80, 80))
img[10:30, 10:30] = 1.0
img[50:70, 40:75] = 0.8
t = filters.threshold_otsu(img)
labels = measure.label(img > t)
areas = sorted(int(r.area) for r in measure.regionprops(labels))
print(json.dumps({'regions': int(labels.max()), 'areas': areas, 't_between': bool(0 < t < 0.8)}))`);
      expect(lastJson(run)).toEqual({ regions: 2, areas: [400, 700], t_between: true });
    },
  },
];

describePrograms('python plot and image programs', cases);
