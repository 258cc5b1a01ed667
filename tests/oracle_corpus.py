"""The Run-All oracle's corpus (issue 9): small realistic notebooks, each with one edit.

Each case is data:
- ``name``: a short id;
- ``cells``: the notebook's cell sources, in notebook order (no labels: addresses A1, A2, ...);
- ``edit``: the index of the edited cell, and ``new``: its new source
  (insert cases have ``insert_at`` instead of ``edit``: ``new`` is a new cell put there);
- ``names`` (optional): names to compare besides those the cells bind visibly
  (``globals()[...]``, ``exec``, star imports);
- ``why``: which rule of issue 9 the case exercises.

The protocol: every original cell runs once in order (with a cellId), then only the edited
cell runs with its new code; the sheet must then equal a fresh ipykernel's Run All of the
edited notebook (see ``tests/oracle.py``).

``INSERT_CASES`` are kept apart: they need the notebook's order, which the kernel may not know
(a new cell takes the next free address), so they are reported but not counted in the main pass.
"""

from __future__ import annotations

from typing import Any

FIG = "/tmp/pysheets-oracle-fig.png"


def case(name: str, why: str, cells: list[str], edit: int, new: str, **extra: Any) -> dict:
    return {"name": name, "why": why, "cells": cells, "edit": edit, "new": new, **extra}


def insert(name: str, why: str, cells: list[str], at: int, new: str, **extra: Any) -> dict:
    return {"name": name, "why": why, "cells": cells, "insert_at": at, "new": new, **extra}


CORPUS: list[dict[str, Any]] = [
    # -- one namespace, rebound per reader -------------------------------------------------
    case("rebind_reader", "namespace rebound per reader: the later x must win",
         ["x = 1", "y = x * 10", "x = 2", "x + 100"], 0, "x = 7"),
    case("rebind_function_reads_x", "namespace rebound per reader, seen by a later function",
         ["x = 1", "y = x * 10", "x = 2", "def show():\n    return x", "show()"], 0, "x = 7"),
    case("rebind_df_dropna", "df = df.dropna() reads the previous df; a later name stays",
         ["import pandas as pd\ndf = pd.DataFrame({'a': [1, None, 3]})", "n_raw = len(df)",
          "df = df.dropna()", "len(df)"],
         0, "import pandas as pd\ndf = pd.DataFrame({'a': [1, None, None, 4]})"),
    case("rebind_running_total", "a name rebound in three cells: each reads the one before",
         ["total = 0", "total = total + 5", "total = total * 2", "total"], 1,
         "total = total + 6"),
    case("rebind_then_print", "an edited early definer must not leak past a later one",
         ["unit = 'cm'", "label = f'size in {unit}'", "unit = 'mm'", "f'{label}; now {unit}'"],
         0, "unit = 'm'"),

    # -- a function's global reads, resolved at the caller ----------------------------------
    case("rate_price", "function global read resolved at the caller (issue's rate/price)",
         ["rate = 0.1", "def price(x):\n    return round(x * (1 + rate), 2)", "rate = 0.2",
          "price(100)"], 2, "rate = 0.3"),
    case("lambda_global", "a lambda's global read resolved at the caller",
         ["k = 2", "scale = lambda v: v * k", "k = 3", "scale(10)"], 2, "k = 5"),
    case("helper_redefined_after_caller", "a helper redefined after its caller",
         ["def helper(v):\n    return v + 1", "def compute(v):\n    return helper(v) * 2",
          "def helper(v):\n    return v + 10", "compute(1)"],
         2, "def helper(v):\n    return v + 100"),
    case("function_reads_config", "a function reading a global dict, value None cut-off",
         ["config = {'tax': 0.2}", "def net(g):\n    return g * (1 - config['tax'])",
          "net(100)"], 0, "config = {'tax': 0.25}"),
    case("method_reads_global", "a method reading a global; the class cell's value is None",
         ["unit = 'kg'",
          "class Item:\n    def __init__(self, w):\n        self.w = w\n"
          "    def label(self):\n        return f'{self.w} {unit}'",
          "Item(3).label()"], 0, "unit = 'lb'"),
    case("default_arg_bound_at_def", "a default argument is evaluated when the def runs",
         ["base = 10", "def add(v, b=base):\n    return v + b", "add(1)"], 0, "base = 20"),
    case("function_edit_caller_updates", "editing a function re-runs its callers",
         ["def tax(v):\n    return v * 0.2", "amounts = [100, 250]",
          "taxes = [tax(a) for a in amounts]", "sum(taxes)"],
         0, "def tax(v):\n    return v * 0.25"),

    # -- definitions skipped at run time --------------------------------------------------
    case("if_skipped", "a definition under if, skipped by the edit (issue's speed/mode)",
         ["speed = 5", "mode = 'fast'", "if mode == 'fast':\n    speed = 10", "speed * 2"],
         1, "mode = 'slow'"),
    case("try_skipped", "a definition in try, skipped when it raises",
         ["value = -1", "raw = '42'", "try:\n    value = int(raw)\nexcept ValueError:\n    pass",
          "value * 2"], 1, "raw = 'abc'"),
    case("loop_skipped", "a definition in a loop body that no longer runs",
         ["best = None", "items = [3, 9, 4]",
          "for v in items:\n    if best is None or v > best:\n        best = v", "best"],
         1, "items = []"),
    case("if_label", "an if that no longer fires leaves the earlier value",
         ["label = 'unset'", "score = 80", "if score >= 50:\n    label = 'pass'",
          "label.upper()"], 1, "score = 30"),
    case("while_loop", "a while loop rebinding its input name",
         ["n = 10", "steps = 0\nwhile n > 1:\n    n = n // 2\n    steps += 1", "(steps, n)"],
         0, "n = 100"),

    # -- names shaped like addresses ------------------------------------------------------
    case("r2_score", "an address-shaped variable (R2, an R-squared score)",
         ["import numpy as np\ny = np.array([1.0, 2.0, 3.0, 4.0])\n"
          "pred = np.array([1.1, 1.9, 3.2, 3.9])",
          "R2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()",
          "round(float(R2), 4)"],
         0, "import numpy as np\ny = np.array([1.0, 2.0, 3.0, 4.0])\n"
            "pred = np.array([1.5, 1.5, 3.5, 3.5])"),
    case("f1_score", "an address-shaped variable (F1 score)",
         ["precision = 0.8\nrecall = 0.6",
          "F1 = 2 * precision * recall / (precision + recall)", "f'F1={F1:.3f}'"],
         0, "precision = 0.8\nrecall = 0.9"),
    case("quarters", "address-shaped variables (Q1..Q4, quarters)",
         ["Q1 = 120\nQ2 = 150\nQ3 = 90\nQ4 = 200", "year = Q1 + Q2 + Q3 + Q4", "year / 4"],
         0, "Q1 = 130\nQ2 = 150\nQ3 = 90\nQ4 = 210"),
    case("address_loop_variable", "an address-shaped loop variable at top level (P1)",
         ["total = 0\nfor P1 in [1, 2, 3]:\n    total += P1", "total * 10"],
         0, "total = 0\nfor P1 in [1, 2, 3, 4]:\n    total += P1"),
    case("address_parameter", "a function parameter spelled like an address (Q77)",
         ["def f(Q77):\n    return Q77 * 2", "f(21)"], 0, "def f(Q77):\n    return Q77 * 3"),
    case("address_comprehension_var", "a comprehension variable spelled like a real cell (A2)",
         ["vals = [A2 * 2 for A2 in range(3)]", "sum(vals)"],
         0, "vals = [A2 * 2 for A2 in range(5)]"),
    case("address_lambda_param", "a lambda parameter spelled like an address (B1)",
         ["double = lambda B1: B1 * 2", "double(4)"], 0, "double = lambda B1: B1 * 3"),

    # -- globals()[...], exec, setattr ----------------------------------------------------
    case("globals_subscript", "definitions through globals()[...]",
         ["for i in range(3):\n    globals()[f'v{i}'] = i * 10", "v2 + 1"],
         0, "for i in range(3):\n    globals()[f'v{i}'] = i * 100", names=["v0", "v1", "v2"]),
    case("exec_definition", "a definition through exec",
         ["exec('alpha = 3')", "alpha * 2"], 0, "exec('alpha = 4')", names=["alpha"]),
    case("globals_update", "definitions through globals().update",
         ["globals().update(gamma=5, delta=6)", "gamma + delta"],
         0, "globals().update(gamma=50, delta=6)", names=["gamma", "delta"]),
    case("setattr_main_module", "a definition through setattr(module, ...)",
         ["import sys\nsetattr(sys.modules[__name__], 'beta', 2)", "beta * 5"],
         0, "import sys\nsetattr(sys.modules[__name__], 'beta', 3)", names=["beta"]),

    # -- early cutoff: same value, changed definitions -------------------------------------
    case("assign_shape_cutoff", "early cutoff on an unchanged value ((3, 3)) with a changed df",
         ["import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6]})",
          "rate = 2", "out = df.assign(c=df.a * rate); out.shape", "int(out.c.sum())"],
         1, "rate = 3"),
    case("def_price_cutoff", "a def cell re-runs with value None: its readers must re-run",
         ["rate = 0.5", "def price(q):\n    return q * rate", "price(10)"], 0, "rate = 2"),
    case("print_cutoff", "a cell whose value is None (print) but whose hl changed",
         ["bq = 3", "hl = bq * 10\nprint(hl)", "hl + 1"], 0, "bq = 4"),
    case("bool_value_cutoff", "the cell's value (c, a bool) is unchanged, b changed",
         ["a = 1", "b = a * 2\nc = b > 0", "b + 100"], 0, "a = 5"),
    case("len_value_cutoff", "the cell's value (a length) is unchanged, the list changed",
         ["names = ['ann', 'bob']", "upper = [n.upper() for n in names]\nlen(upper)",
          "', '.join(upper)"], 0, "names = ['cy', 'di']"),

    # -- removed definitions ----------------------------------------------------------------
    case("removed_ry", "a definition removed by an edit leaves the namespace (issue's rx/ry)",
         ["rx = 1\nry = 2", "ry * 10"], 0, "rx = 1"),
    case("removed_function", "a function removed by an edit",
         ["def square(v):\n    return v * v\ndef cube(v):\n    return v ** 3", "cube(2)"],
         0, "def square(v):\n    return v * v"),
    case("renamed_variable", "a variable renamed: the old name is gone",
         ["total_cost = 100", "total_cost * 2"], 0, "cost = 100"),
    case("removed_import", "an import removed by an edit",
         ["import math\nimport statistics", "statistics.mean([1, 2, 3])"], 0, "import math"),

    # -- star import, builtins -------------------------------------------------------------
    case("star_import_pi", "a star import defines pi; a later pi = 3 must not reach back",
         ["from math import *", "round(pi, 2)", "pi = 3", "pi * 2"], 2, "pi = 4",
         names=["pi"]),
    case("star_import_sqrt", "a star import's sqrt, redefined later",
         ["from math import *", "sqrt(16)", "def sqrt(v):\n    return -1", "sqrt(9)"],
         2, "def sqrt(v):\n    return -2", names=["sqrt"]),
    case("builtin_max", "a builtin's name defined by a cell (max = 10)",
         ["max = 10", "max * 2"], 0, "max = 11"),
    case("builtin_sum", "a builtin's name defined by a cell (sum = ...)",
         ["a1 = 3\na2 = 4", "sum = a1 + a2", "sum * 10"], 0, "a1 = 5\na2 = 4"),
    case("builtin_len_function", "a function shadowing a builtin (def len)",
         ["def len(x):\n    return 42", "len([1, 2])"], 0, "def len(x):\n    return 7"),
    case("builtin_list", "a list named list",
         ["list = [1, 2, 3]", "list[0] + list[-1]"], 0, "list = [5, 6, 7]"),

    # -- global declarations -----------------------------------------------------------------
    case("global_in_called_function", "global g assigned in a function the cell calls",
         ["g = 0", "def bump():\n    global g\n    g = 5", "bump()", "g * 2"],
         1, "def bump():\n    global g\n    g = 7"),
    case("global_set_mode", "a setter function with global, called by a later cell",
         ["def set_mode(m):\n    global mode\n    mode = m", "set_mode('dev')", "mode.upper()"],
         1, "set_mode('prod')"),
    case("global_in_class_body", "global in a class body",
         ["counter = 0", "class Registry:\n    global counter\n    counter = 10", "counter + 1"],
         1, "class Registry:\n    global counter\n    counter = 20"),

    # -- comprehension targets, except-as ---------------------------------------------------
    case("comprehension_subscript_target", "a subscript target in a comprehension's for",
         ["d = {}", "k = 'x'", "[None for d[k] in [1, 2, 3]]", "sorted(d.items())"],
         1, "k = 'y'"),
    case("comprehension_attribute_target", "an attribute target in a comprehension's for",
         ["import types\nobj = types.SimpleNamespace(v=0)", "vals = [1, 5, 2]",
          "[None for obj.v in vals]", "obj.v"], 1, "vals = [4, 8]"),
    case("except_as_shadow", "an except-as name is deleted after the handler",
         ["e = 2.5", "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    msg = str(e)",
          "e * 2"], 0, "e = 3.5"),
    case("except_as_saved", "an except-as name is not a definition; saved text is",
         ["err = None", "try:\n    int('x')\nexcept ValueError as err:\n    saved = repr(err)",
          "saved"], 1, "try:\n    int('yz')\nexcept ValueError as err:\n    saved = repr(err)"),

    # -- in-place mutation --------------------------------------------------------------------
    case("pandas_new_column", "in-place mutation: mdf['c'] = ... (issue's example)",
         ["import pandas as pd\nmdf = pd.DataFrame({'a': [1, 2]})", "mdf['c'] = mdf.a * 2",
          "int(mdf['c'].sum())"], 1, "mdf['c'] = mdf.a * 3"),
    case("pandas_loc_assign", "in-place mutation: df.loc[...] = ...",
         ["import pandas as pd\nprices = pd.DataFrame({'item': ['a', 'b', 'c'], "
          "'p': [1.0, 2.0, 3.0]})",
          "prices.loc[prices.p > 1.5, 'p'] = 0.0", "float(prices.p.sum())"],
         1, "prices.loc[prices.p > 2.5, 'p'] = 0.0"),
    case("object_attribute_assign", "in-place mutation: obj.x = ...",
         ["class Box:\n    def __init__(self):\n        self.x = 1", "box = Box()", "box.x = 5",
          "box.x * 3"], 2, "box.x = 6"),
    case("pandas_del_column", "in-place mutation: del df['c']",
         ["import pandas as pd\nt = pd.DataFrame({'a': [1], 'b': [2], 'c': [3]})", "del t['c']",
          "list(t.columns)"], 1, "del t['b']"),
    case("list_append", "in-place mutation by a method call: lst.append",
         ["lst = [1]", "lst.append(2)", "len(lst)"], 1, "lst.append(3)"),
    case("pandas_drop_inplace", "in-place mutation: df.drop(..., inplace=True)",
         ["import pandas as pd\nraw = pd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6], "
          "'c': [7, 8, 9]})",
          "raw.drop(columns=['b'], inplace=True)", "list(raw.columns)"],
         1, "raw.drop(columns=['c'], inplace=True)"),
    case("dict_update", "in-place mutation: d.update",
         ["settings = {'a': 1}", "settings.update(b=2)", "sorted(settings)"],
         1, "settings.update(c=3)"),
    case("set_add", "in-place mutation: set.add",
         ["seen = set()", "seen.add('x')\nseen.add('y')", "len(seen)"], 1, "seen.add('z')"),
    case("list_augmented_assign", "acc += [...] mutates and rebinds",
         ["acc = [0]", "acc += [1, 2]", "acc"], 1, "acc += [3]"),
    case("sort_in_place_definer_edit", "a list sorted in place, its definer edited",
         ["nums = [3, 1, 2]", "nums.sort()", "nums[0]"], 0, "nums = [9, 7, 8]"),
    case("pandas_revenue_groupby", "a derived column then a groupby reading it",
         ["import pandas as pd\nsales = pd.DataFrame({'region': ['n', 's', 'n'], "
          "'units': [10, 20, 30], 'price': [2.0, 3.0, 4.0]})",
          "sales['revenue'] = sales.units * sales.price",
          "sales.groupby('region')['revenue'].sum().to_dict()"],
         1, "sales['revenue'] = sales.units * sales.price * 2"),
    case("pandas_apply_function", "a function applied into a new column, function edited",
         ["import pandas as pd\ntemps = pd.DataFrame({'c': [20.0, 25.0, 30.0]})",
          "def to_f(c):\n    return c * 9 / 5 + 32", "temps['f'] = temps.c.apply(to_f)",
          "temps.f.tolist()"], 1, "def to_f(c):\n    return round(c * 1.8 + 30)"),
    case("account_method_mutates", "a method call that mutates an object (deposit)",
         ["class Account:\n    def __init__(self, balance):\n        self.balance = balance\n"
          "    def deposit(self, v):\n        self.balance += v\n        return self.balance",
          "acct = Account(100)", "acct.deposit(50)", "acct.balance"],
         2, "acct.deposit(70)"),

    # -- iterators and seeded random generators ---------------------------------------------
    case("iterator_next", "an iterator consumed across cells (next(it))",
         ["it = iter([10, 20, 30, 40])", "first = next(it)", "second = next(it)",
          "first + second"], 1, "first = next(it) * 2"),
    case("generator_next", "a generator consumed across cells",
         ["def gen():\n    n = 0\n    while True:\n        n += 1\n        yield n", "g = gen()",
          "a = next(g)", "b = next(g)", "a * 10 + b"], 2, "a = next(g) + 100"),
    case("numpy_default_rng", "a seeded numpy Generator drawn from in several cells",
         ["import numpy as np\nrng = np.random.default_rng(42)",
          "a = rng.integers(0, 100, 3).tolist()", "b = rng.integers(0, 100, 3).tolist()",
          "a + b"], 1, "a = rng.integers(0, 100, 4).tolist()"),
    case("random_seed", "random.seed then draws in several cells",
         ["import random\nrandom.seed(1)", "x = random.random()", "y = random.random()",
          "round(x + y, 6)"], 1, "x = random.random() * 2"),
    case("numpy_legacy_seed", "np.random.seed then draws in several cells",
         ["import numpy as np\nnp.random.seed(0)", "a = np.random.rand(3)",
          "b = np.random.rand(3)", "round(float(a.sum() + b.sum()), 6)"],
         1, "a = np.random.rand(4)"),
    case("rng_seed_edit", "the seed itself edited: every draw follows",
         ["import numpy as np\nrng = np.random.default_rng(0)\ndata = rng.normal(size=100)",
          "sample = rng.choice(data, 5)", "round(float(sample.mean()), 6)"],
         0, "import numpy as np\nrng = np.random.default_rng(1)\ndata = rng.normal(size=100)"),

    # -- ordinary notebooks -------------------------------------------------------------------
    case("pandas_groupby_pipeline", "an ordinary pandas pipeline",
         ["import pandas as pd",
          "df = pd.DataFrame({'dept': ['a', 'b', 'a', 'c'], 'salary': [100, 200, 150, 120]})",
          "by_dept = df.groupby('dept')['salary'].mean()", "by_dept.idxmax()",
          "float(by_dept.max())"],
         1, "df = pd.DataFrame({'dept': ['a', 'b', 'a', 'c'], 'salary': [100, 200, 150, 420]})"),
    case("pandas_filter_sort", "filter, sort, head",
         ["import pandas as pd\npeople = pd.DataFrame({'name': ['ann', 'bob', 'cy', 'di'], "
          "'age': [31, 25, 40, 19]})",
          "min_age = 21", "adults = people[people.age >= min_age].sort_values('age')",
          "adults.name.tolist()"], 1, "min_age = 30"),
    case("pandas_merge", "a merge of two frames",
         ["import pandas as pd\nleft = pd.DataFrame({'k': [1, 2, 3], 'l': ['a', 'b', 'c']})",
          "right = pd.DataFrame({'k': [2, 3, 4], 'r': [20, 30, 40]})",
          "merged = left.merge(right, on='k')", "int(merged.r.sum())"],
         1, "right = pd.DataFrame({'k': [1, 3, 4], 'r': [5, 30, 40]})"),
    case("pandas_pivot", "a pivot table",
         ["import pandas as pd\nlong = pd.DataFrame({'d': ['x', 'x', 'y'], 'k': ['p', 'q', 'p'], "
          "'v': [1, 2, 3]})",
          "wide = long.pivot_table(index='d', columns='k', values='v', aggfunc='sum')",
          "wide.fillna(0).to_dict()"],
         0, "import pandas as pd\nlong = pd.DataFrame({'d': ['x', 'y', 'y'], 'k': ['p', 'q', 'p'], "
            "'v': [1, 2, 3]})"),
    case("pandas_value_counts", "value counts of a series",
         ["import pandas as pd\ns = pd.Series(['a', 'b', 'a', 'c', 'a'])", "vc = s.value_counts()",
          "vc.to_dict()"], 0, "import pandas as pd\ns = pd.Series(['b', 'b', 'a'])"),
    case("numpy_stats", "numpy filtering and a mean",
         ["import numpy as np", "arr = np.arange(10)", "evens = arr[arr % 2 == 0]",
          "float(evens.mean())"], 1, "arr = np.arange(20)"),
    case("numpy_matrix", "a small linear algebra chain",
         ["import numpy as np\nm = np.array([[1.0, 2.0], [3.0, 4.0]])", "inv = np.linalg.inv(m)",
          "np.round(m @ inv, 6).tolist()", "float(np.linalg.det(m))"],
         0, "import numpy as np\nm = np.array([[2.0, 0.0], [0.0, 4.0]])"),
    case("matplotlib_savefig", "a figure saved to a file, a number as the value",
         ["import matplotlib.pyplot as plt\nxs = list(range(5))", "ys = [v * v for v in xs]",
          f"fig, ax = plt.subplots()\nax.plot(xs, ys)\nfig.savefig({FIG!r})\nmax(ys)"],
         0, "import matplotlib.pyplot as plt\nxs = list(range(7))"),
    case("matplotlib_figure_value", "a figure as a cell's value",
         ["import matplotlib.pyplot as plt", "data = [3, 1, 2]",
          "fig = plt.figure()\nplt.bar(range(len(data)), data)\nfig", "len(fig.axes)"],
         1, "data = [3, 1, 2, 5]"),
    case("class_methods_edit", "a class with methods, edited",
         ["class Rect:\n    def __init__(self, w, h):\n        self.w, self.h = w, h\n"
          "    def area(self):\n        return self.w * self.h",
          "r = Rect(2, 3)", "r.area()"],
         0, "class Rect:\n    def __init__(self, w, h):\n        self.w, self.h = w, h\n"
            "    def area(self):\n        return self.w * self.h * 10"),
    case("loop_accumulate", "a loop accumulating a total, then an average",
         ["prices = [10, 20, 30]", "total = 0\nfor p in prices:\n    total += p",
          "avg = total / len(prices)", "f'{avg:.1f}'"], 0, "prices = [10, 20, 30, 60]"),
    case("try_except_parse", "try/except inside a loop",
         ["raw = ['1', '2', 'x', '4']",
          "parsed = []\nbad = 0\nfor r in raw:\n    try:\n        parsed.append(int(r))\n"
          "    except ValueError:\n        bad += 1",
          "(sum(parsed), bad)"], 0, "raw = ['1', 'y', 'x', '40']"),
    case("dict_comprehension", "dict manipulation",
         ["inventory = {'apple': 3, 'pear': 5}",
          "restock = {k: v + 10 for k, v in inventory.items()}", "sorted(restock.items())"],
         0, "inventory = {'apple': 3, 'pear': 5, 'fig': 0}"),
    case("string_formatting", "f-strings",
         ["name = 'Ada'\nscore = 91.456", "line = f'{name}: {score:.1f}'", "line.upper()"],
         0, "name = 'Grace'\nscore = 88.04"),
    case("counter_words", "collections.Counter",
         ["text = 'the cat the dog'", "from collections import Counter\n"
          "counts = Counter(text.split())", "counts.most_common(1)"],
         0, "text = 'a dog a dog a cat'"),
    case("math_area", "an import and a formula",
         ["import math", "r = 2", "area = math.pi * r ** 2", "round(area, 3)"], 1, "r = 3"),
    case("function_chain", "functions calling functions",
         ["def double(v):\n    return v * 2", "def inc(v):\n    return v + 1", "double(inc(3))"],
         1, "def inc(v):\n    return v + 2"),
    case("json_parse", "json parsing",
         ["import json\npayload = '{\"a\": 1, \"b\": [1, 2]}'", "obj = json.loads(payload)",
          "len(obj['b'])"], 0, "import json\npayload = '{\"a\": 1, \"b\": [1, 2, 3]}'"),
    case("dataclass_point", "a dataclass",
         ["from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: float\n"
          "    y: float",
          "p = Point(3.0, 4.0)", "(p.x ** 2 + p.y ** 2) ** 0.5"], 1, "p = Point(6.0, 8.0)"),
    case("error_then_fixed", "a cell that raised, fixed by the edit",
         ["a = 10", "b = a / 0", "b + 1"], 1, "b = a / 2"),
    case("edit_introduces_error", "an edit that raises: readers have no value",
         ["n = 5", "m = n * 2", "m + 1"], 0, "n = undefined_name"),
    case("tuple_unpacking", "tuple unpacking",
         ["lo, hi = 1, 5", "span = hi - lo", "list(range(lo, hi))"], 0, "lo, hi = 2, 4"),
    case("walrus_if", "a walrus in an if",
         ["data = [1, 5, 9]", "if (n := len(data)) > 2:\n    big = True\nelse:\n    big = False",
          "(n, big)"], 0, "data = [1]"),
    case("augmented_number", "count += 1 reading the previous count",
         ["count = 1", "count += 1", "count"], 0, "count = 10"),
    case("closure_factory", "a closure from a factory function",
         ["def make_adder(n):\n    def add(v):\n        return v + n\n    return add",
          "add5 = make_adder(5)", "add5(10)"], 1, "add5 = make_adder(7)"),
    case("sorted_lambda_key", "sorted with a lambda key",
         ["people = [('ann', 31), ('bob', 25)]", "by_age = sorted(people, key=lambda p: p[1])",
          "by_age[0][0]"], 0, "people = [('ann', 31), ('bob', 25), ('cy', 7)]"),
    case("del_temp_name", "a del of a temporary name",
         ["tmp = 5\nkeep = tmp * 2", "del tmp", "keep"], 0, "tmp = 6\nkeep = tmp * 2"),
    case("dates", "datetime arithmetic",
         ["import datetime as dt\nstart = dt.date(2024, 1, 1)",
          "end = start + dt.timedelta(days=30)", "end.isoformat()"],
         0, "import datetime as dt\nstart = dt.date(2024, 2, 1)"),
    case("zip_dict", "dict(zip(...))",
         ["keys = ['a', 'b']\nvals = [1, 2]", "mapping = dict(zip(keys, vals))", "mapping"],
         0, "keys = ['a', 'b', 'c']\nvals = [1, 2, 3]"),
]

INSERT_CASES: list[dict[str, Any]] = [
    insert("insert_redefinition", "a new cell between definer and reader (issue's ox/oy)",
           ["ox = 1", "oy = ox * 2"], 1, "ox = 5"),
    insert("insert_helper_redefinition", "a new cell redefining a function before its caller",
           ["def f(v):\n    return v", "f(3)"], 1, "def f(v):\n    return v * 10"),
    insert("insert_mutation", "a new cell mutating a list before its reader",
           ["lst = [1, 2]", "len(lst)"], 1, "lst.append(3)"),
    insert("insert_at_end", "a new last cell rebinding a name (readers above keep theirs)",
           ["a = 2", "a * 3"], 2, "a = 100"),
]
