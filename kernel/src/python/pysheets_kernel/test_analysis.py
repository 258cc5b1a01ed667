"""Table-driven tests of the cell analysis (pysheets_kernel.sheet.analyze), and property tests that
check it against Python's own `symtable` (the ground truth for scoping).

Each case gives the cell's code and the expected `reads_names` (r), `reads_addresses` (a) and
`defines` (d), always checked; other fields are checked when the case names them. Lists are
written as space-separated strings, in order of first appearance.
"""

import importlib.util
import json
import pathlib
import random
import symtable
import sys
import types

import pytest

_HERE = pathlib.Path(__file__).parent


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, _HERE / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sheet = sys.modules.get("pysheets_sheet") or _load("pysheets_sheet", "sheet.py")
analyze = sheet.analyze

_LIST_FIELDS = {"r": "reads_names", "a": "reads_addresses", "d": "defines",
                "maybe": "maybe_defines", "mut": "mutates", "dr": "deferred_reads",
                "dw": "deferred_writes", "star": "star_imports", "ad": "address_defines"}


def C(code, r="", a="", d="", **other):
    return pytest.param(code, dict(r=r, a=a, d=d, **other), id=code[:60])


CASES = [
    # --- assignments
    C("x = 1", d="x"),
    C("x = y", r="y", d="x"),
    C("x = y = z", r="z", d="x y"),
    C("x = x + 1", r="x", d="x"),
    C("x = 1\ny = x", d="x y"),
    C("y = x\nx = 1", r="x", d="y x"),
    C("a, b = b, a", r="b a", d="a b"),
    C("a, (b, *c) = t", r="t", d="a b c"),
    C("[a, b] = t", r="t", d="a b"),
    C("*a, b = t", r="t", d="a b"),
    # --- augmented / annotated
    C("x += 1", r="x", d="x", mut="x"),  # `acc += [3]` changes a list in place
    C("x = 0\nx += step", r="step", d="x"),
    C("x -= y * z", r="x y z", d="x", mut="x"),
    C("n: int = 3", r="int", d="n"),
    C("n: int", r="int"),
    C("n: Custom = make()", r="make Custom", d="n"),
    C("def f(a: T) -> U:\n    return a", r="T U", d="f"),
    C("def f():\n    x: Local = 1\n    return x", d="f"),  # annotations in a function: not evaluated
    # --- walrus
    C("(n := 10)", d="n"),
    C("if (m := re.match(p, s)):\n    g = m.group(0)", r="re p s", d="m g", maybe="g"),
    C("[y := f(x) for x in xs]", r="xs f", d="y", maybe="y"),
    C("total = [s := s + v for v in vals]", r="vals s", d="s total", maybe="s"),
    C("print(n := 3, n)", r="print", d="n"),
    C("def f():\n    return [w := 1 for _ in r]", r="r", d="f"),
    # --- for / while
    C("for i in range(3):\n    pass", r="range", d="i", maybe="i"),
    C("for k, v in d.items():\n    t = v", r="d", d="k v t", maybe="k v t"),
    C("for i in xs:\n    s = i\nelse:\n    s = 0", r="xs", d="i s", maybe="i s"),
    C("while go():\n    n = 1", r="go", d="n", maybe="n"),
    C("s = 0\nfor i in xs:\n    s += i\ns", r="xs", d="s i", maybe="i"),
    C("for i in xs:\n    pass\ni", r="xs i", d="i", maybe="i"),
    C("async def f():\n    async for x in aiter_():\n        pass", r="aiter_", d="f"),
    # --- if / match flow
    C("if c:\n    x = 1\nelse:\n    x = 2", r="c", d="x"),
    C("if c:\n    x = 1", r="c", d="x", maybe="x"),
    C("if c:\n    x = 1\nelif e:\n    x = 2", r="c e", d="x", maybe="x"),
    C("if c:\n    x = 1\nelif e:\n    x = 2\nelse:\n    x = 3\nx", r="c e", d="x"),
    C("x = 0\nif c:\n    x = 1", r="c", d="x"),
    C("if c:\n    x = 1\nx", r="c x", d="x", maybe="x"),
    # --- with
    C("with open(p) as fh:\n    text = fh.read()", r="open p", d="fh text"),
    C("with a() as (x, y), b as z:\n    pass", r="a b", d="x y z"),
    C("with lock:\n    n = 1", r="lock", d="n"),
    C("with open(p) as self.fh:\n    pass", r="open p self", mut="self"),
    C("async def f():\n    async with s as t:\n        return t", r="s", d="f"),
    # --- try / except
    C("try:\n    x = 1\nexcept ValueError:\n    x = 2", r="ValueError", d="x"),
    C("try:\n    x = f()\nexcept E:\n    pass", r="f E", d="x", maybe="x"),
    C("try:\n    pass\nexcept E:\n    y = 1", r="E", d="y", maybe="y"),
    # A handler that runs unbinds its `as` name: a maybe-definition, never a value.
    C("try:\n    f()\nexcept E as e:\n    print(e)", r="f E print", d="e", maybe="e"),
    C("try:\n    f()\nexcept E as e:\n    msg = str(e)", r="f E str", d="e msg",
      maybe="e msg"),
    C("try:\n    f()\nexcept E as e:\n    pass\ne", r="f E e", d="e", maybe="e"),
    C("try:\n    f()\nfinally:\n    done = True", r="f", d="done"),
    C("try:\n    import foo\nexcept ImportError:\n    foo = None", r="ImportError", d="foo"),
    C("try:\n    a = 1\nexcept E:\n    raise\nelse:\n    b = a", r="E", d="a b"),
    C("try:\n    f()\nexcept* E as g:\n    pass", r="f E", d="g", maybe="g"),
    # --- imports
    C("import os", d="os"),
    C("import os.path", d="os"),
    C("import numpy as np", d="np"),
    C("import xml.etree.ElementTree as ET", d="ET"),
    C("from math import pi, tau as TAU", d="pi TAU"),
    C("from . import sibling", d="sibling"),
    C("from .pkg import thing as T", d="T"),
    C("import pandas as pd\npd.DataFrame(data)", r="data", d="pd"),
    C("from json import *", d=" ".join(__import__("json").__all__), star="json"),
    C("from math import *\nx = pi * 2",
      d=" ".join([n for n in vars(__import__("math")) if not n.startswith("_")] + ["x"]),
      star="math"),
    C("from no_such_module_xyz import *", star="no_such_module_xyz"),
    C("from .rel import *", star=".rel"),
    C("def f():\n    import os\n    return os", d="f"),
    # --- functions and defaults
    C("def f(a, b=1):\n    return a + b", d="f"),
    C("def f(a=default):\n    return a", r="default", d="f"),
    C("def f(*args, k=kd, **kw):\n    return args, kw, g", r="kd g", d="f", dr="g"),
    C("def f():\n    return helper()\ndef helper():\n    return 1", d="f helper", dr="helper"),
    C("def f():\n    y = 1\n    return y", d="f"),
    C("def f():\n    print(y)\n    y = 2", r="print", d="f", dr="print"),
    C("def f(x, /, y, *, z):\n    return x + y + z", d="f"),
    C("def outer(a):\n    def inner(b):\n        return a + b + c\n    return inner",
      r="c", d="outer", dr="c"),
    C("def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v = 2\n    return inner",
      d="outer"),
    C("rate = 1\ndef price(x):\n    return x * rate", d="rate price", dr="rate"),
    C("def price(x):\n    return x * rate\nrate = 1", d="price rate", dr="rate"),
    C("def price(x):\n    return x * rate", r="rate", d="price", dr="rate"),
    C("async def fetch(u):\n    return await get(u)", r="get", d="fetch", dr="get"),
    C("def f():\n    yield from source", r="source", d="f", dr="source"),
    # --- decorators
    C("@cache\ndef f():\n    pass", r="cache", d="f"),
    C("@app.route('/')\ndef index():\n    return page", r="app page", d="index", dr="page"),
    C("@dataclass\nclass P:\n    x: int = 0", r="dataclass int", d="P"),
    C("@deco(arg)\nclass K:\n    pass", r="deco arg", d="K"),
    # --- lambdas
    C("f = lambda a, b=dflt: a + b + off", r="dflt off", d="f", dr="off"),
    C("f = lambda: g", r="g", d="f", dr="g"),
    C("g = 1\nf = lambda: g", d="g f", dr="g"),
    C("key = lambda row: row[col]", r="col", d="key", dr="col"),
    C("sorted(xs, key=lambda x: -x)", r="sorted xs"),
    C("f = lambda x: (lambda y: x + y + z)", r="z", d="f", dr="z"),
    # --- comprehensions
    C("sq = [x * x for x in values if x > limit]", r="values limit", d="sq"),
    C("{k: v for k, v in pairs}", r="pairs"),
    C("{x for x in s}", r="s"),
    C("list(x for x in gen)", r="list gen"),
    C("[x for x in x]", r="x"),
    C("[(i, j) for i in a for j in b]", r="a b"),
    C("[j for i in rows for j in i]", r="rows"),
    C("[[c for c in r] for r in grid]", r="grid"),
    C("m = {k: v for k, vs in table.items() for v in vs if v not in skip}", r="table skip", d="m"),
    C("[None for d[k] in xs]", r="xs d k", mut="d"),
    C("[None for o.attr in xs]", r="xs o", mut="o"),
    C("x = 1\n[x for _ in r]", r="r", d="x"),
    C("[x for _ in r]\nx = 1", r="r x", d="x"),
    # --- class bodies
    C("class C:\n    pass", d="C"),
    C("class C(Base, metaclass=Meta):\n    pass", r="Base Meta", d="C"),
    C("class C:\n    size = 3\n    double = size * 2", d="C"),
    C("class C:\n    size = 3\n    def m(self):\n        return size", r="size", d="C", dr="size"),
    C("class C:\n    n = 1\n    xs = [n for _ in range(3)]", r="range n", d="C"),
    C("class C:\n    n = 1\n    xs = [i for i in range(n)]", r="range", d="C"),
    C("class C:\n    def m(self):\n        return C", d="C", dr="C"),
    C("class C:\n    x = outer_value", r="outer_value", d="C"),
    C("class C:\n    def __init__(self):\n        self.v = init_v", r="init_v", d="C", dr="init_v"),
    # --- global / nonlocal
    C("def bump():\n    global counter\n    counter += 1",
      r="counter", d="bump", dr="counter", dw="counter"),
    C("def setup():\n    global g\n    g = 1\nsetup()", d="setup g", maybe="g", dw="g"),
    C("def setup():\n    global g\n    g = 1", d="setup", dw="g"),
    C("def a():\n    global g\n    g = 1\ndef b():\n    a()\nb()", d="a b g", maybe="g", dw="g",
      dr="a"),
    C("class K:\n    global h\n    h = 2", d="h K", maybe="h"),
    C("def f():\n    global A1\n    A1 = 2", d="f", dw="A1", assigns_address="A1"),
    C("def f():\n    global x\n    return x", r="x", d="f", dr="x"),
    C("global z\nz = 1", d="z"),
    C("def f():\n    class K:\n        global g\n        g = 1\n    return K", d="f", dw="g"),
    # --- del
    C("del tmp", r="tmp"),
    C("x = 1\ndel x", d="x", maybe="x"),
    C("del d['k']", r="d", mut="d"),
    C("del obj.attr", r="obj", mut="obj"),
    C("del a, b[0]", r="a b", mut="b"),
    # --- attribute / subscript targets
    C("df['c'] = df.a * 2", r="df", mut="df"),
    C("df.loc[0, 'a'] = 1", r="df", mut="df"),
    C("obj.x = v", r="v obj", mut="obj"),
    C("obj.x += 1", r="obj", mut="obj"),
    C("obj.x: int = 1", r="int obj", mut="obj"),
    C("a[i][j] = 0", r="a i j", mut="a"),
    C("x, d[k] = 1, 2", r="d k", d="x", mut="d"),
    C("for d[k] in xs:\n    pass", r="xs d k", mut="d"),
    C("d = {}\nd['k'] = 1", d="d"),
    C("f().x = 1", r="f"),
    # --- match (all pattern kinds)
    C("match cmd:\n    case [verb, *rest]:\n        pass", r="cmd", d="verb rest", maybe="verb rest"),
    C("match p:\n    case {'k': val, **others}:\n        pass", r="p", d="val others",
      maybe="val others"),
    C("match p:\n    case Point(x=0, y=yy):\n        pass", r="p Point", d="yy", maybe="yy"),
    C("match p:\n    case Color.RED:\n        pass", r="p Color"),
    C("match p:\n    case 1 | 2 as n:\n        pass", r="p", d="n", maybe="n"),
    C("match p:\n    case (a, b) if a > lim:\n        pass", r="p lim", d="a b", maybe="a b"),
    C("match p:\n    case None:\n        pass\n    case _:\n        pass", r="p"),
    C("match p:\n    case 1:\n        r = 'a'\n    case other:\n        r = other",
      r="p", d="r other", maybe="other"),
    C("match p:\n    case 1:\n        r = 'a'\n    case _:\n        r = 'b'\nr", r="p", d="r"),
    C("match p:\n    case [1, *_]:\n        pass", r="p"),
    C("match p:\n    case str() | bytes():\n        pass", r="p str bytes"),
    # --- f-strings, strings, comments
    C("s = f'{name}: {value:{width}}'", r="name value width", d="s"),
    C("f'{x!r}'", r="x"),
    C("s = 'x + A1'  # y and B2", d="s"),
    C("f'{A1 * 2}'", a="A1"),
    # --- async
    C("await task", r="task"),
    C("result = await fetch(url)", r="fetch url", d="result"),
    C("async def main():\n    await asyncio.sleep(t)", r="asyncio t", d="main", dr="asyncio t"),
    # --- addresses in every scope
    C("A1 + B2 * A1 + XFD1048576 + foo", r="foo", a="A1 B2 XFD1048576"),
    C("a1 + XFE1 + A0 + A1048577 + ABCD1", r="a1 XFE1 A0 A1048577 ABCD1"),
    C("def f(Q77):\n    return Q77 * 2", d="f"),
    C("[B2 * 2 for B2 in range(3)]", r="range"),
    C("g = lambda C3: C3 + 1", d="g"),
    C("R2 = 0.91\nR2 * 2", d="R2", ad="R2", assigns_address="R2"),
    C("y = R2 * 2", a="R2", d="y"),
    C("R2 * 2\nR2 = 1", a="R2", d="R2", ad="R2", assigns_address="R2"),
    C("def f():\n    return C3 * 2", a="C3", d="f", dr="C3"),
    C("def f():\n    C3 = 1\n    return C3", d="f", assigns_address=None),
    C("class K:\n    F1 = 0.8\n    G = F1 * 2", d="K"),
    C("B2 = 1\nA1 = 2", d="B2 A1", ad="B2 A1", assigns_address="B2"),
    C("for Q1 in qs:\n    pass", r="qs", d="Q1", maybe="Q1", ad="Q1"),
    C("try:\n    f()\nexcept E as A1:\n    pass", r="f E", d="A1", assigns_address="A1"),
    C("x = [A1 for _ in r]", r="r", a="A1", d="x"),
    C("import os as A1", d="A1", ad="A1"),
    # --- builtins
    C("max * 2", r="max"),
    C("max = 10", d="max"),
    C("max = 10\nmax * 2", d="max"),
    C("sum = A1 + A2", a="A1 A2", d="sum"),
    C("print(len(xs))", r="print len xs"),
    C("def f():\n    return len(x)", r="len x", d="f", dr="len x"),
    C("display(df)", r="display df"),
    # --- kernel helpers
    C('__pysheets_magics__.line_magic("time")\nt = 1', d="t"),
    C('total = sum(__pysheets_range__("A1", "A3"))', r="sum", d="total"),
    # --- mutation rule 1 (negatives above: `d = {}; d['k'] = 1`, `f().x = 1`)
    C("lst[0] = 1\n", r="lst", mut="lst"),
    # --- mutation rule 2
    C("lst.append(2)", r="lst", mut="lst"),
    C("x = lst.append(2)", r="lst", d="x", mut="lst"),
    C("lst = []\nlst.append(1)", d="lst"),
    C("lst.count(2)", r="lst"),
    C("n = lst.index(3)", r="lst", d="n"),
    C("d.setdefault(k, []).append(v)", r="d k v", mut="d"),
    C("obj.items.sort()", r="obj", mut="obj"),
    C("rows[0].extend(more)", r="rows more", mut="rows"),
    C("df.drop(columns=['a'], inplace=True)", r="df", mut="df"),
    C("df2 = df.drop(columns=['a'])", r="df", d="df2"),
    C("df.fillna(0, inplace=False)\nx = 1", r="df", d="x", mut="df"),  # rule 3, not 2
    C("out = df.fillna(0, inplace=False)", r="df", d="out"),
    C("v = rng.normal(0, 1)", r="rng", d="v", mut="rng"),
    C("v = random.random()", r="random", d="v", mut="random"),
    C("v = np.random.normal(size=3)", r="np", d="v", mut="np"),
    C("np.random.seed(0)", r="np", mut="np"),
    C("torch.manual_seed(0)", r="torch", mut="torch"),
    C("a2 = np.append(a, 1)", r="np a", d="a2"),
    C("y = math.gamma(x)", r="math x", d="y"),
    C("q.put(item)", r="q item", mut="q"),
    C("dq.appendleft(0)", r="dq", mut="dq"),
    C("arr.fill(0)", r="arr", mut="arr"),
    C("s = {1}\ns.add(2)", d="s"),
    C("[out.append(x) for x in xs]", r="xs out", mut="out"),
    C("x.copy().append(1)", r="x"),
    # --- mutation rule 3
    C("process(df)\nx = 1", r="process df", d="x", mut="df"),
    C("process(df)", r="process df"),  # the last statement: its value is shown
    C("ax.plot(x, y)\nax", r="ax x y", mut="ax"),
    C("ax.plot(x, y)", r="ax x y"),
    C("print(df)\nx = 1", r="print df", d="x"),
    C("len(df)\n1", r="len df"),
    C("f(*args, key=val)\n1", r="f args val", mut="args val"),
    C("f(a.b, g(c))\n1", r="f a g c"),
    C("await client.send(m)\n1", r="client m", mut="client"),
    C("for p in ps:\n    p.ax.plot(z)", r="ps z", d="p", maybe="p"),
    C("for p in ps:\n    canvas.draw(p)", r="ps canvas", d="p", maybe="p", mut="canvas"),
    C("if c:\n    update(state)", r="c update state", mut="state"),
    # --- mutation rule 4
    C("first = next(it)", r="next it", d="first", mut="it"),
    C("setattr(obj, 'a', 1)", r="setattr obj", mut="obj"),
    C("delattr(obj, 'a')", r="delattr obj", mut="obj"),
    C("random.shuffle(deck)", r="random deck", mut="random deck"),
    C("np.random.shuffle(arr)", r="np arr", mut="np arr"),
    C("x = heapq.heappop(h)", r="heapq h", d="x", mut="h"),
    C("heappush(h, 1)", r="heappush h", mut="h"),
    C("bisect.insort(sl, 5)", r="bisect sl", mut="sl"),
    C("it = iter(xs)\nfirst = next(it)", r="iter xs next", d="it first"),
    C("getattr(obj, 'a')", r="getattr obj"),
    # --- mutations in functions: deferred writes
    C("def add(x):\n    lst.append(x)", r="lst", d="add", dr="lst", dw="lst"),
    C("def add(x):\n    lst.append(x)\nadd(1)", r="lst", d="add", mut="lst", dr="lst", dw="lst"),
    C("def add(x):\n    lst = []\n    lst.append(x)", d="add"),
    C("def f():\n    df['c'] = 1", r="df", d="f", dr="df", dw="df"),
    C("def f(df):\n    df['c'] = 1", d="f"),
    C("h = lambda: lst.append(1)\nh()", r="lst", d="h", mut="lst", dr="lst", dw="lst"),
    C("class K:\n    def m(self):\n        reg.add(self)", r="reg", d="K", dr="reg", dw="reg"),
    C("def f():\n    global g\n    g.append(1)", r="g", d="f", dr="g", dw="g"),
    # --- dynamic
    C("globals()['x'] = 1", r="globals", dynamic=True),
    C("globals().update(a=1)", r="globals", dynamic=True),
    C("vars()['y'] = 2", r="vars", dynamic=True),
    C("exec('z = 1')", r="exec", dynamic=True),
    C("import m\nsetattr(m, 'x', 1)", r="setattr", d="m", dynamic=True),
    C("setattr(sys.modules[__name__], 'x', 1)", r="setattr sys __name__", mut="sys",
      dynamic=True),
    C("mod = sys.modules[__name__]", r="sys __name__", d="mod", dynamic=True),
    C("mod = sys.modules['__main__']", r="sys", d="mod", dynamic=True),
    C("js = sys.modules['json']", r="sys", d="js", dynamic=False),
    C("__builtins__.x = 1", r="__builtins__", mut="__builtins__", dynamic=True),
    C("import builtins\nbuiltins.answer = 42", d="builtins", dynamic=True),
    C("setattr(obj, 'x', 1)\nobj.x", r="setattr obj", mut="obj", dynamic=False),
    C("g = globals()\nx = g.get('a')", r="globals", d="g x", dynamic=False),
    C("def f():\n    globals()['w'] = 1", r="globals", d="f", dr="globals", dynamic=True),
]


def _split(s):
    return s.split() if isinstance(s, str) else list(s)


@pytest.mark.parametrize("code,expected", CASES)
def test_table(code, expected):
    got = analyze(code)
    assert got["error"] is None, got["error"]
    for key, value in expected.items():
        field = _LIST_FIELDS.get(key, key)
        want = _split(value) if key in _LIST_FIELDS else value
        assert got[field] == want, f"{field}: {got[field]!r} != {want!r}\n{code}"
    # always: no mutation unless the case says so
    if "mut" not in expected:
        assert got["mutates"] == [], got["mutates"]
    if "dynamic" not in expected:
        assert got["dynamic"] is False


def test_methods_that_change_their_object_are_found_and_then_count_as_mutating():
    account = ("class Account:\n"
               "    def __init__(self, b):\n        self.balance = b\n"
               "    def deposit(self, v):\n        self.balance += v\n        return self.balance\n"
               "    def add_tag(self, t):\n        self.tags.append(t)\n"
               "    def total(self):\n        return self.balance\n"
               "    @staticmethod\n    def make(x):\n        x.y = 1\n")
    got = analyze(account)
    assert got["mutating_methods"] == ["deposit", "add_tag"]
    # A call of one on another cell's object, even as the shown value, changes it in place.
    assert analyze("acct.deposit(70)", ["deposit"])["mutates"] == ["acct"]
    assert analyze("acct.deposit(70)")["mutates"] == []
    assert analyze("acct.total()", ["deposit"])["mutates"] == []
    assert analyze("acct = make()\nacct.deposit(1)", ["deposit"])["mutates"] == []


def test_function_writes_name_what_calling_each_function_may_change():
    got = analyze("received = []\n"
                  "def target(c):\n    received.append(c)\n"
                  "def set_mode(m):\n    global mode\n    mode = m\n"
                  "def both(x):\n    target(x)\n    set_mode(x)\n"
                  "def pure(x):\n    return x + 1\n")
    assert got["function_writes"] == {"target": ["received"], "set_mode": ["mode"],
                                      "both": ["mode", "received"]} or \
        {k: sorted(v) for k, v in got["function_writes"].items()} == {
            "target": ["received"], "set_mode": ["mode"], "both": ["mode", "received"]}


def test_table_has_at_least_150_cases():
    assert len(CASES) >= 150


@pytest.mark.parametrize("code,expected", CASES)
def test_invariants(code, expected):
    got = analyze(code)
    reads = set(got["reads_names"]) | set(got["reads_addresses"])
    assert set(got["mutates"]) <= reads
    assert set(got["maybe_defines"]) <= set(got["defines"])
    assert got["address_defines"] == [n for n in got["defines"] if sheet.is_address(n)]
    assert not any(sheet.is_address(n) for n in got["reads_names"])
    assert all(sheet.is_address(n) for n in got["reads_addresses"])
    json.dumps(got)


# ------------------------------------------------------------------------------------------
# Errors, and the code Python runs


def test_syntax_error_is_an_error_with_empty_fields():
    got = analyze("x = = 1")
    assert got["error"].startswith("SyntaxError")
    assert got["defines"] == [] and got["mutates"] == [] and got["dynamic"] is False
    assert set(got) == set(analyze("x"))


def test_a_bug_in_the_analysis_is_an_error_not_no_dependencies(monkeypatch):
    def broken(self, node):
        raise AttributeError("boom")

    monkeypatch.setattr(sheet._Analyzer, "stmt_Assign", broken)
    got = analyze("x = A1")
    assert got["error"].startswith("AnalysisError:") and "boom" in got["error"]
    assert set(got) == set(analyze("y"))


def test_an_interrupted_analysis_is_not_a_result(monkeypatch):
    # The interrupt goes on to the kernel, which shows the cell's KeyboardInterrupt: an
    # interrupted analysis never looks like "no dependencies".
    def interrupted(self, node):
        raise KeyboardInterrupt

    monkeypatch.setattr(sheet._Analyzer, "stmt_Expr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        analyze("x")


def test_deep_nesting_is_an_error():
    got = analyze("x = " + "(" * 100 + "1" + ")" * 100 + "\ny = " + "-" * 50000 + "1")
    assert got["error"] is not None


def test_mutation_rule_is_documented():
    assert "base name" in sheet._MUTATION_RULE
    assert sheet._MUTATION_RULE.strip() in (analyze.__doc__ or sheet._MUTATION_RULE)


@pytest.fixture
def entry(monkeypatch):
    """kernel/src/python/pysheets_kernel/entry.py, loaded with the real `sheet` and `magics` modules and
    stand-ins for the rest of the package (which only exists inside the kernel)."""
    magics = _load("pysheets_magics_for_entry", "magics.py")
    package = types.ModuleType("pysheets_kernel")
    package.__path__ = []
    lazy = types.ModuleType("pysheets_kernel.lazy")
    lazy.LazyModule = lambda name: importlib.import_module(name)
    package.lazy = lazy
    package.magics = magics
    package.sheet = sheet
    for name in ("display", "execution", "streams"):
        setattr(package, name, types.ModuleType(f"pysheets_kernel.{name}"))
    monkeypatch.setitem(sys.modules, "pysheets_kernel", package)
    monkeypatch.setitem(sys.modules, "pysheets_kernel.lazy", lazy)
    monkeypatch.setitem(sys.modules, "pysheets_kernel.sheet", sheet)
    monkeypatch.setitem(sys.modules, "pysheets_kernel.magics", magics)
    return _load("pysheets_entry", "entry.py")


def test_entry_analyses_the_code_after_the_magic_transform(entry):
    code = "# @B2\n%matplotlib inline\ny = A1 * 3"
    got = json.loads(entry.sheet_analyze_json(json.dumps({"code": code})))
    assert got["error"] is None
    assert got["reads_addresses"] == ["A1"]
    assert got["defines"] == ["y"]
    assert got["reads_names"] == []  # the magic helper is the kernel's business


def test_entry_reports_a_failed_analysis_as_an_error(entry, monkeypatch):
    def fail(code, mutating_methods=()):
        raise RuntimeError("analysis bug")

    monkeypatch.setattr(sheet, "analyze", fail)
    got = json.loads(entry.sheet_analyze_json(json.dumps({"code": "x = 1"})))
    assert got["error"].startswith("AnalysisError:") and "analysis bug" in got["error"]
    assert got["defines"] == [] and got["reads_names"] == []
    monkeypatch.undo()
    assert set(got) == set(analyze("x"))


def test_entry_passes_an_interrupted_analysis_on(entry, monkeypatch):
    def interrupted(code, mutating_methods=()):
        raise KeyboardInterrupt

    monkeypatch.setattr(sheet, "analyze", interrupted)
    with pytest.raises(KeyboardInterrupt):
        entry.sheet_analyze_json(json.dumps({"code": "x = 1"}))


# ------------------------------------------------------------------------------------------
# Property test against symtable


def _symtable_facts(code):
    """(module-level names referenced, assigned, imported; globals referenced in nested
    scopes; those of them referenced inside a function or lambda (deferred); names declared
    global and assigned in nested scopes), as symtable sees them."""
    top = symtable.symtable(code, "<cell>", "exec")
    referenced, assigned, nested_reads, nested_global_writes = set(), set(), set(), set()
    deferred = set()
    for sym in top.get_symbols():
        name = sym.get_name()
        if sym.is_referenced():
            referenced.add(name)
        if sym.is_assigned() or sym.is_imported():
            assigned.add(name)
    def walk(table, in_function):
        for child in table.get_children():
            later = in_function or (child.get_type() == "function"
                                    and child.get_name() not in _COMPREHENSION_SCOPES)
            for sym in child.get_symbols():
                if sym.is_global() and not sym.is_local():
                    if sym.is_referenced():
                        nested_reads.add(sym.get_name())
                        if later:
                            deferred.add(sym.get_name())
                    # `global b` then `import b` binds b too (symtable: imported, not
                    # assigned; found by the hypothesis tests)
                    if sym.is_declared_global() and (sym.is_assigned() or sym.is_imported()):
                        nested_global_writes.add(sym.get_name())
                elif sym.is_declared_global():
                    # a class body's `global g; g = 1` (is_local is False) lands here too
                    if sym.is_assigned() or sym.is_imported():
                        nested_global_writes.add(sym.get_name())
                    if sym.is_referenced():
                        nested_reads.add(sym.get_name())
                        if later:
                            deferred.add(sym.get_name())
            walk(child, later)

    walk(top, False)
    return referenced, assigned, nested_reads, deferred, nested_global_writes


# Comprehensions are scopes of their own (until Python 3.12 inlines them) that run at once.
_COMPREHENSION_SCOPES = ("listcomp", "setcomp", "dictcomp", "genexpr")


def _kernel(name):
    return name.startswith("__pysheets")


def _except_names(code):
    import ast

    return {h.name for h in ast.walk(ast.parse(code))
            if isinstance(h, ast.ExceptHandler) and h.name}


def _store_reads(code):
    """Names we count as reads that symtable counts only as bindings: the target of `x += 1`
    (read, then bound) and of `del x` (must exist)."""
    import ast

    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del):
            out.add(node.id)
    return out


def _function_annotations(code):
    """Names in annotations inside function bodies: symtable records them, Python never
    evaluates them (without `from __future__ import annotations` semantics changing)."""
    import ast

    out = set()
    for fn in ast.walk(ast.parse(code)):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.AnnAssign) and node is not fn:
                    out.update(n.id for n in ast.walk(node.annotation) if isinstance(n, ast.Name))
    return out


def _only_deleted_or_annotated(code):
    """Module-level names symtable counts as assigned that bind nothing: `del x`, `x: int`."""
    import ast

    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del):
            out.add(node.id)
        elif isinstance(node, ast.AnnAssign) and node.value is None \
                and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def _class_body_reads(code):
    """Names a class body reads before binding them itself (`class K: x = x`): symtable calls
    them the class's locals, but Python looks them up with LOAD_NAME, which falls back to the
    module's globals, so they are global reads (found by the hypothesis tests)."""
    out, deferred = set(), set()

    def walk(table, in_function):
        for child in table.get_children():
            later = in_function or (child.get_type() == "function"
                                    and child.get_name() not in _COMPREHENSION_SCOPES)
            if child.get_type() == "class":
                names = {s.get_name() for s in child.get_symbols()
                         if s.is_local() and s.is_referenced()}
                out.update(names)
                if later:
                    deferred.update(names)
            walk(child, later)

    walk(symtable.symtable(code, "<cell>", "exec"), False)
    return out, deferred


def check_against_symtable(code):
    got = analyze(code)
    assert got["error"] is None, (code, got["error"])
    referenced, assigned, nested_reads, deferred, nested_writes = _symtable_facts(code)
    reads = set(got["reads_names"]) | set(got["reads_addresses"])
    defines = set(got["defines"])
    deferred_reads = set(got["deferred_reads"])
    star = set()
    if got["star_imports"]:
        # the names a star import binds are invisible to symtable
        star = defines - assigned - nested_writes
    # 1. Every read we report is a global read for symtable (at module level or nested).
    class_reads, class_deferred = _class_body_reads(code)
    symtable_reads = referenced | nested_reads | _store_reads(code) | class_reads
    assert reads <= symtable_reads, (code, reads - symtable_reads)
    # 2. Every global read symtable sees is ours: a read, or the cell's own name (flow-
    #    sensitivity: bound before), or a deferred read of a name the cell defines.
    for name in referenced - reads:
        if not _kernel(name):
            assert name in defines or name in _except_names(code) \
                or name in nested_writes, (code, name)
    for name in nested_reads - _function_annotations(code):
        if not _kernel(name):
            # read at once (comprehension, class body) or later (function, lambda)
            assert name in reads or name in defines, (code, name)
            if name in deferred:
                assert name in deferred_reads, (code, name)
    assert deferred_reads <= deferred | _store_reads(code) | class_deferred, \
        (code, deferred_reads - deferred)
    # 3. Definitions: what symtable says the module binds, minus except-as names and names
    #    only deleted or annotated; plus `global` writes of called functions, and star imports.
    expected_defs = assigned - _except_names(code) - _only_deleted_or_annotated(code)
    assert expected_defs <= defines | _only_deleted_or_annotated(code), \
        (code, expected_defs - defines)
    extra = defines - assigned - star
    assert extra <= nested_writes, (code, extra)
    # 4. Deferred writes that bind are the names symtable sees declared global and assigned
    #    in nested scopes (mutations add more: they are reads for symtable).
    dw = set(got["deferred_writes"])
    assert nested_writes - defines <= dw, (code, nested_writes - dw)
    assert dw <= nested_writes | nested_reads | _store_reads(code), \
        (code, dw - nested_writes - nested_reads)


@pytest.mark.parametrize("code,expected", CASES)
def test_table_agrees_with_symtable(code, expected):
    check_against_symtable(code)


_CURATED = [
    "import pandas as pd\ndf = pd.read_csv(path)\ndf.head()",
    "df['total'] = df.price * df.qty\ndf.total.sum()",
    "fig, ax = plt.subplots()\nax.plot(x, y)\nax.set_title(title)\nfig",
    "model = LinearRegression().fit(X, y)\nR2 = model.score(X, y)\nR2",
    "counts = {}\nfor w in words:\n    counts[w] = counts.get(w, 0) + 1",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib(N)",
    "class Account:\n    rate = RATE\n    def __init__(self, b):\n        self.b = b\n"
    "    def grow(self):\n        return self.b * (1 + Account.rate + bonus)",
    "with open(fn) as f:\n    lines = [l.strip() for l in f if l]\nlen(lines)",
    "try:\n    import ujson as js\nexcept ImportError:\n    import json as js\njs.dumps(obj)",
    "total = sum(v for k, v in d.items() if k in keep)",
    "rng = np.random.default_rng(SEED)\nsample = rng.normal(size=N)",
    "def outer():\n    x = 1\n    def mid():\n        def inner():\n            return x + y\n"
    "        return inner\n    return mid",
    "matrix = [[row[i] for row in M] for i in range(len(M[0]))]",
    "async def main():\n    async with session() as s:\n        return [await s.get(u) for u in urls]",
    "match event:\n    case {'type': 'click', 'pos': (x, y)}:\n        handle(x, y)\n"
    "    case Key(code=c) if c in keys:\n        press(c)\n    case _:\n        ignore(event)",
    "from itertools import *\nlist(islice(count(), 3))",
    "import os, sys\nsys.path.append(here)\nos.environ['K'] = v",
    "def deco(fn):\n    def wrap(*a):\n        calls.append(fn)\n        return fn(*a)\n    return wrap",
    "x = 1\ndef f():\n    global x\n    x += 1\nf()\nf()\nx",
    "Q1, Q2, Q3, Q4 = parts\ntotal = Q1 + Q2 + Q3 + Q4",
    "squares = list(map(lambda n: n ** p, nums))",
    "for i, (a, b) in enumerate(zip(xs, ys)):\n    pairs[i] = a * b",
    "while (line := next(it, None)) is not None:\n    out.append(line)",
    "lookup = {v: k for k, v in mapping.items()}\nlookup.get(key, default)",
    "class Meta(type):\n    def __new__(m, n, b, ns):\n        return super().__new__(m, n, b, ns)",
    "def gen():\n    yield from (x * k for x in src)",
    "print(f'{total:,.2f} {unit!s} {A1}')",
    "del cache[key]\ncache",
    "try:\n    run()\nexcept (ValueError, TypeError) as err:\n    log(err)\nelse:\n    ok = True\n"
    "finally:\n    cleanup()",
    "@property\ndef f(self):\n    return self._f",
    "x: list[int] = []\nx.append(A2)",
    "lam = lambda *a, **k: (a, k, extra)",
    "n = 0\nwhile n < limit:\n    n += step\nn",
    "class C:\n    items = []\n    def add(self, x):\n        self.items.append(x)\n        registry.add(x)",
    "[(lambda q: q + z)(i) for i in r]",
    "def f(a=[v for v in vals]):\n    return a",
    "if mode == 'fast':\n    speed = 10\nspeed * 2",
    "global_counter = 0\ndef inc():\n    global global_counter\n    global_counter += 1",
    "import numpy as np\narr = np.zeros(3)\narr[0] = 1\nnp.sum(arr)",
    "heapq.heapify(items)\nsmallest = heapq.heappop(items)",
]

_POOL = ["a", "b", "df", "lst", "A1", "R2", "max", "x", "f"]
_TEMPLATES = [
    "{0} = {1}", "{0} = {1} + {2}", "{0} += {1}", "{0}[{1}] = {2}", "{0}.attr = {1}",
    "{0}.append({1})", "print({0})", "{0}({1})", "del {0}",
    "for {0} in {1}:\n    {2} = {0}", "if {0}:\n    {1} = 1\nelse:\n    {2} = 2",
    "def {0}({1}):\n    return {1} + {2}", "def {0}():\n    global {1}\n    {1} = {2}",
    "{0} = lambda {1}: {1} * {2}", "{0} = [{1} for {1} in {2}]", "{0} = [{2} for {1} in {2}]",
    "class K:\n    {0} = {1}\n    def m(self):\n        return {0} + {2}",
    "try:\n    {0} = {1}\nexcept E as {2}:\n    pass", "with {0} as {1}:\n    {2}.x = 1",
    "({0} := {1})", "{0}, *{1} = {2}", "{0} = {{k: {1} for k in {2}}}",
    "import {0}", "from m import {0} as {1}", "match {0}:\n    case [{1}, *{2}]:\n        pass",
    "{0} = next({1})", "{0}.{1}({2})", "{0} = f'{{{1}}} {{{2}!r}}'",
]


def _generated(n, seed=9):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        stmts = []
        for _ in range(rnd.randint(1, 4)):
            t = rnd.choice(_TEMPLATES)
            names = rnd.sample(_POOL, 3)
            stmts.append(t.format(*names))
        code = "\n".join(stmts)
        try:
            compile(code, "<gen>", "exec")
        except SyntaxError:
            continue
        out.append(code)
    return out


@pytest.mark.parametrize("code", _CURATED)
def test_curated_agree_with_symtable(code):
    check_against_symtable(code)


def test_generated_agree_with_symtable():
    codes = _generated(600)
    assert len(codes) >= 300
    for code in codes:
        check_against_symtable(code)
