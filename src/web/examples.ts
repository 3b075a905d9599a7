/** One-click examples in the spirit of the recipe's form: a plot, data processing, state kept between runs, files, a table. */
export interface Example {
  readonly title: string;
  readonly language: string;
  readonly code: string;
}

export const EXAMPLES: readonly Example[] = [
  {
    title: 'Python: plot a decaying wave',
    language: 'python',
    code: `import numpy as np
import matplotlib.pyplot as plt

t = np.linspace(0, 12, 300)
signal = np.cos(2 * t) * np.exp(-t / 6)

plt.figure(figsize=(8, 4))
plt.plot(t, signal, label="cos(2t)·e^(-t/6)")
plt.xlabel("t")
plt.legend()
plt.grid(alpha=0.3)
plt.show()
print("peak:", round(float(signal.max()), 3))
`,
  },
  {
    title: 'Python: four kinds of chart',
    language: 'python',
    code: `import numpy as np
import matplotlib.pyplot as plt

rng = np.random.default_rng(7)
fig, axes = plt.subplots(2, 2, figsize=(9, 6))
axes[0, 0].plot(np.arange(20), rng.normal(size=20).cumsum()); axes[0, 0].set_title("walk")
axes[0, 1].scatter(rng.normal(size=60), rng.normal(size=60), alpha=0.6); axes[0, 1].set_title("scatter")
axes[1, 0].bar(list("WXYZ"), [12, 30, 21, 44]); axes[1, 0].set_title("bars")
axes[1, 1].hist(rng.normal(size=800), bins=25); axes[1, 1].set_title("histogram")
fig.tight_layout()
plt.show()
`,
  },
  {
    title: 'Python: a DataFrame as a table',
    language: 'python',
    code: `import pandas as pd

sales = pd.DataFrame({
    "region": ["north", "south", "east", "west"],
    "units": [120, 95, 143, 88],
    "price": [2.5, 3.1, 2.2, 4.0],
})
sales["revenue"] = sales.units * sales.price
sales.sort_values("revenue", ascending=False)
`,
  },
  {
    title: 'Python: state kept between runs',
    language: 'python',
    code: `# Run this twice: the counter lives on in the session.
try:
    runs += 1
except NameError:
    runs = 1
print(f"this session has run this cell {runs} time(s)")
`,
  },
  {
    title: 'Python: write a file to download',
    language: 'python',
    code: `import csv

with open("squares.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["n", "n_squared"])
    for n in range(1, 11):
        writer.writerow([n, n * n])
print("wrote squares.csv: see Files")
`,
  },
  {
    title: 'JavaScript: summary statistics',
    language: 'javascript',
    code: `const temps = [14.2, 15.8, 13.1, 17.4, 16.0, 18.9, 12.7];
const mean = temps.reduce((a, b) => a + b, 0) / temps.length;
const sd = Math.sqrt(temps.reduce((a, b) => a + (b - mean) ** 2, 0) / temps.length);
console.log(\`readings: \${temps.length}\`);
console.log(\`mean: \${mean.toFixed(2)}, sd: \${sd.toFixed(2)}\`);
console.log(JSON.stringify({ min: Math.min(...temps), max: Math.max(...temps) }, null, 2));
`,
  },
  {
    title: 'TypeScript: typed records',
    language: 'typescript',
    code: `interface Book { title: string; pages: number }
const shelf: Book[] = [{ title: "Dune", pages: 412 }, { title: "Emma", pages: 474 }];
const total: number = shelf.reduce((sum, book) => sum + book.pages, 0);
console.log(\`\${shelf.length} books, \${total} pages\`);
`,
  },
  {
    title: 'bash: look around the sandbox',
    language: 'bash',
    code: `echo "working in $(pwd)"
uname -sm
ls -la
echo "to stderr" >&2
`,
  },
];
