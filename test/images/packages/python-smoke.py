# One cell that uses every Python library the image promises (README, "Packages"); prints one JSON
# object of results that test/images/packages.test.ts checks.
import importlib, io, json, subprocess, warnings
out = {"versions": {}}
for module in ["numpy", "pandas", "scipy", "sympy", "matplotlib", "seaborn", "sklearn", "statsmodels",
               "openpyxl", "xlsxwriter", "xlrd", "odf", "PIL", "tabulate", "cloudpickle", "plotly",
               "networkx", "xarray", "h5py", "tables", "requests", "bs4", "lxml", "tqdm", "yaml",
               "jinja2", "markdown", "rich", "pydantic", "sqlalchemy", "chardet", "dateutil", "pytz",
               "docx", "reportlab", "qrcode", "pypdf", "PyPDF2", "pdfminer", "fitz", "cv2", "skimage",
               "wordcloud", "geopandas", "shapely", "pyproj", "graphviz"]:
    m = importlib.import_module(module)
    out["versions"][module] = str(getattr(m, "__version__", getattr(m, "VERSION", "")) or "imported")

import numpy as np, pandas as pd
import statsmodels.api as sm
fit = sm.OLS([2, 4, 5, 4, 5], sm.add_constant([1, 2, 3, 4, 5])).fit()
out["ols"] = [round(float(p), 6) for p in fit.params]

df = pd.DataFrame({"city": ["Oslo", "Lima"], "n": [3, 4]})
df.to_excel("book.xlsx", index=False, engine="xlsxwriter")
import openpyxl
out["xlsx"] = [[c.value for c in row] for row in openpyxl.load_workbook("book.xlsx").active.iter_rows()]
df.to_excel("book.ods", index=False, engine="odf")
out["ods"] = pd.read_excel("book.ods", engine="odf").to_dict("list")
out["style_html"] = "<table" in df.style.to_html()

from reportlab.pdfgen import canvas
pdf = canvas.Canvas("doc.pdf"); pdf.drawString(72, 720, "Codecell PDF 42"); pdf.showPage(); pdf.save()
import pypdf, PyPDF2, fitz
from pdfminer.high_level import extract_text
fitz_doc = fitz.open("doc.pdf")  # a page keeps only a weak reference to its document
out["pdf"] = {
    "pypdf": pypdf.PdfReader("doc.pdf").pages[0].extract_text().strip(),
    "PyPDF2": PyPDF2.PdfReader("doc.pdf").pages[0].extract_text().strip(),
    "pdfminer": extract_text("doc.pdf").strip(),
    "fitz": fitz_doc[0].get_text().strip(),
    "pdftotext": subprocess.run(["pdftotext", "doc.pdf", "-"], capture_output=True, text=True, check=True).stdout.strip(),
}

import docx
document = docx.Document(); document.add_paragraph("Hello from python-docx"); document.save("doc.docx")
out["docx"] = [p.text for p in docx.Document("doc.docx").paragraphs]

import cv2
cv2.imwrite("small.png", np.full((3, 4, 3), (255, 0, 0), dtype=np.uint8))
img = cv2.imread("small.png")
out["cv2"] = {"shape": list(img.shape), "pixel": img[0, 0].tolist(), "gray": int(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[0, 0])}
from skimage import measure
out["skimage_regions"] = int(measure.label(np.array([[1, 0, 1], [1, 0, 1], [0, 0, 0]])).max())

import networkx as nx
out["networkx"] = nx.shortest_path_length(nx.path_graph(5), 0, 4)
import plotly.graph_objects as go
out["plotly"] = json.loads(go.Figure(go.Bar(x=["a"], y=[7])).to_json())["data"][0]["y"]
import xarray as xr
out["xarray"] = float(xr.DataArray(np.arange(6).reshape(2, 3), dims=("r", "c")).mean("c")[1])
import h5py
with h5py.File("d.h5", "w") as f: f["x"] = np.arange(4)
with h5py.File("d.h5") as f: out["h5py"] = f["x"][:].tolist()
import tables
out["tables"] = tables.is_hdf5_file("d.h5")

import bs4, lxml.etree, yaml, jinja2, markdown, chardet, pytz
from dateutil import parser as dateparser
out["bs4"] = bs4.BeautifulSoup("<p><b>bold</b> text</p>", "lxml").b.text
out["lxml"] = lxml.etree.fromstring("<r><i>1</i><i>2</i></r>").xpath("count(//i)")
out["yaml"] = yaml.safe_load("a: [1, 2]\nb: x")
out["jinja2"] = jinja2.Template("{{ n }} items").render(n=3)
out["markdown"] = markdown.markdown("# Title")
out["chardet"] = chardet.detect("naïve café déjà vu, où est la gare".encode("latin-1"))["encoding"]
out["dateutil"] = dateparser.parse("2024-03-05T10:30:00+01:00").isoformat()
out["pytz"] = str(pytz.timezone("Europe/Oslo").localize(__import__("datetime").datetime(2024, 7, 1)).utcoffset())

from sqlalchemy import create_engine, text
with create_engine("sqlite://").connect() as conn:
    out["sqlalchemy"] = conn.execute(text("select 6 * 7")).scalar()
import pydantic
class Point(pydantic.BaseModel):
    x: int
out["pydantic"] = Point(x="5").x
import rich.console
console = rich.console.Console(record=True, width=40); console.print("[bold]rich[/bold] text")
out["rich"] = console.export_text().strip()
import qrcode
out["qrcode"] = list(qrcode.make("codecell").size)
import tqdm
out["tqdm"] = sum(tqdm.tqdm(range(5), file=io.StringIO()))
import requests
out["requests"] = requests.Request("GET", "http://example.invalid/", params={"q": "a b"}).prepare().url

import shapely.geometry, pyproj, geopandas as gpd
out["shapely"] = shapely.geometry.Polygon([(0, 0), (2, 0), (2, 3), (0, 3)]).area
x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(10, 0)
out["pyproj"] = round(x)
gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=gpd.points_from_xy([0, 3], [0, 4]), crs="EPSG:3857")
out["geopandas"] = float(gdf.geometry[0].distance(gdf.geometry[1]))

import graphviz
png = graphviz.Digraph(graph_attr={"dpi": "72"}, edge_attr={}, node_attr={}, format="png")
png.edge("a", "b")
out["graphviz_png"] = png.pipe()[:8] == b"\x89PNG\r\n\x1a\n"
out["sqlite3_cli"] = subprocess.run(["sqlite3", ":memory:", "select 6 * 7;"], capture_output=True, text=True, check=True).stdout.strip()

from wordcloud import WordCloud
out["wordcloud"] = list(WordCloud(width=120, height=80, random_state=1).generate("data data data plot plot chart").to_image().size)

# CJK labels: each character must get its own glyph. A font without them draws the same box for all.
import matplotlib
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
def glyph(ch, family=None):
    fig = Figure(figsize=(0.6, 0.6), dpi=50)
    fig.text(0.1, 0.1, ch, fontsize=20, **({"family": family} if family else {}))
    canvas = FigureCanvasAgg(fig); canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    default = [glyph(ch) for ch in "数据图"]
out["cjk"] = {
    "distinct_default": not np.array_equal(default[0], default[1]) and not np.array_equal(default[1], default[2]),
    "inked": bool((default[0][..., :3] < 128).any()),
    "missing_glyph_warnings": sum("missing from" in str(w.message) for w in caught),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    boxed = [glyph(ch, "DejaVu Sans") for ch in "数据"]
out["cjk"]["same_box_without_cjk_font"] = bool(np.array_equal(boxed[0], boxed[1]))
# Colour emoji through Pillow (Noto Color Emoji is a bitmap font: size 109 only).
from PIL import Image, ImageDraw, ImageFont
emoji_font = ImageFont.truetype("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf", 109)
emoji = Image.new("RGB", (140, 140), "white")
ImageDraw.Draw(emoji).text((0, 0), "\U0001F600", font=emoji_font, embedded_color=True)
out["emoji_colours"] = len(set(emoji.getdata()))
print(json.dumps(out))
