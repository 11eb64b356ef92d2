"""Facts, not verdicts: what the tests may know of a notebook's graded names.

At grading, the notebook runs on the student's side, which holds no hidden test and no answer key;
after its last cell, the facts of each graded name are written as plain data, a line per name
(:func:`take`, :func:`line`; lab5_grading_mode takes each name in a process of its own): numbers,
strings, sequences of every kind as lists or arrays, settings, an object's class and configuration, a
fingerprint of its weights, what a function returns on inputs the grader chose. The grader reads that
file as untrusted data (:func:`read`: each line counted before it is parsed, each name validated against
its declaration, a damaged one "not gradable" with a reason and the others read) and runs every test,
public and hidden, in its own process against the stand-ins made from it. A forged fact gains nothing:
to forge ``quiz_q1 == "orange"`` or the pretrained weights' fingerprint, a student must know the answer;
and no verdict crosses.

Tests see the same stand-ins wherever they run: ``lab5_checks.require`` extracts a live notebook's
facts, writes them to JSON and reads them back, exactly as grading does. A test that reads what no
declaration carries fails with :class:`UndeclaredFact`, which says what to declare in ``GRADED``
(the build executes every test against the solution, so such a test never ships).

Students get this module with the public tests (docs/design.md, "The trust boundary").
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

FORMAT = 2  # JSON lines: a header, then one line per graded name (written as it is taken), then an end line
FILE_LIMIT = 16 * 2**20  # the facts file the grader reads (a real notebook's: FACTS_MEASURED)
NAME_LIMIT = 4 * 2**20  # bytes of one name's line
SHOWN = 80  # characters of a student's value that a message may echo (lab5_checks.shown)
TEXT_LIMIT = 100_000  # a longer string is kept as its length and first characters, not as a string
ITEMS_LIMIT = 100_000  # values in one name's facts as they are taken (a list of 4,000 tweets is 4,000)
# What the grader parses, counted on the bytes before it builds anything ("[", ",", ":" bound the number
# of values from above): one name, and the whole file. A real notebook's: docs/performance.md, "Facts".
SYNTAX_LIMIT = 4 * ITEMS_LIMIT
SYNTAX_TOTAL_LIMIT = 600_000
READ_MEMORY = 80 * 2**20  # the most that reading any facts file of FILE_LIMIT costs the grader (measured)
DEPTH_LIMIT = 32
CALL_LIMIT_S = 10  # one call of a notebook's function while its facts are taken
MESSAGE_LIMIT = 300  # of an exception a notebook's code raised
HEAD_ROWS = 20  # rows of a dataset whose values are kept
EMBEDDING_ROWS = tuple(range(1000, 30001, 2500))  # the word-embedding rows a model's fingerprint keeps


# What the notebook's code may raise, when the facts call it, that becomes a fact ("tok_fn raised X"). In
# the student's own kernel, Exception (an interrupt stays an interrupt); at grading, where each name is
# taken in a process of its own (lab5_grading_mode.take_facts), BaseException: SystemExit too.
GUARD: type[BaseException] = Exception


class UndeclaredFact(Exception):
    """A test reads something of a name that its declaration in GRADED does not carry (an author's
    error, never a student's: not an AssertionError, so that it fails the build loudly)."""


class StudentCodeError(Exception):
    """What a notebook's function raised when the grader's inputs were given to it."""


# ---------------------------------------------------------------------------------------------
# Plain values: what crosses as JSON, tagged where JSON has no type of its own
# ---------------------------------------------------------------------------------------------


class Opaque:
    """A value that does not cross as data (an object of another kind, a text too long): its type and
    the start of its repr, which a message may show. A test that uses it as data (its length, its
    items, a number, a comparison) fails with what it is, never with an error about this class."""

    name = ""  # the graded name it is (or is part of), where the reader knows it

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__

    @property
    def message(self) -> str:
        what = f"{self.name} holds" if self.name else "a value is"
        return (
            f"{what} {_short(self.text, SHOWN)} (a {_short(self.type_name, 60)}), which the autograder cannot read "
            "as data: make it a list, a number or a string (e.g. list(...), float(...))."
        )

    def _refuse(self, *args, **kwargs):
        raise AssertionError(self.message)


for _use in (
    "__len__ __iter__ __reversed__ __getitem__ __contains__ __float__ __int__ __index__ __complex__ __round__ "
    "__lt__ __le__ __gt__ __ge__ __add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ "
    "__floordiv__ __rfloordiv__ __mod__ __pow__ __neg__ __pos__ __abs__ __array__ __call__"
).split():
    setattr(Opaque, _use, Opaque._refuse)


def _type_name(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__


def _short(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Budget:
    def __init__(self):
        self.left = ITEMS_LIMIT

    def take(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise ValueError(f"more than {ITEMS_LIMIT:,} values")


def _opaque(value, text: str | None = None) -> dict:
    return {"t": "opaque", "type": _type_name(value), "repr": text or _short(_safe_repr(value), 200)}


def encode(value, budget: _Budget | None = None, depth: int = 0):
    """``value`` as JSON data: plain types as they are (their subclasses as the plain type, any other
    number as an int or a float), NumPy scalars tagged with their dtype, arrays and tensors (numbers or
    strings) as arrays, every other sequence (a datasets Column, a pandas Series of objects, a deque, any
    collections.abc.Sequence) as a list, mappings with string keys as dicts; what cannot cross as data
    becomes an opaque note of its type and repr."""
    import numbers
    from collections.abc import Mapping, Sequence

    budget = budget or _Budget()
    budget.take()
    if depth > DEPTH_LIMIT:
        return _opaque(value, "(nested too deep)")
    if value is None or type(value) is bool:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        text = str.__str__(value)
        if len(text) > TEXT_LIMIT:
            return {"t": "opaque", "type": "str", "repr": f"a text of {len(text):,} characters, {text[:SHOWN]!r}..."}
        budget.take(len(text) // 64)
        return text
    if value is Ellipsis:
        return {"t": "ellipsis"}
    if isinstance(value, (bytes, bytearray, memoryview, type)):
        return _opaque(value)
    if _is_numpy(value) and getattr(value, "shape", None) == ():
        if value.dtype.kind in "biuf":
            return {"t": "np", "dtype": str(value.dtype), "v": value.item()}
        return _opaque(value)
    if isinstance(value, numbers.Integral):  # int and its subclasses, or any other integer type
        number = int.__int__(value) if isinstance(value, int) else int(value)
        if abs(number) >= 2**63:  # no count of this lab's is that large; JSON readers refuse the largest
            return _opaque(value, f"an integer of {int(number.bit_length() * 0.30103) + 1:,} digits")
        return number
    if isinstance(value, numbers.Real):
        return float.__float__(value) if isinstance(value, float) else float(value)
    if isinstance(value, (list, tuple, range)):
        items = [encode(v, budget, depth + 1) for v in value]
        return {"t": "tuple", "v": items} if isinstance(value, tuple) else items
    if isinstance(value, Mapping):
        keys = list(value.keys())
        if all(isinstance(k, str) for k in keys):
            return {"t": "dict", "v": {str.__str__(k): encode(value[k], budget, depth + 1) for k in keys}}
        return _opaque(value, _short(f"a mapping with keys such as {_safe_repr(keys[:3])}", 200))
    if hasattr(value, "__array__") and hasattr(value, "shape"):
        return _encode_array(value, budget, depth)
    if isinstance(value, Sequence) or (hasattr(value, "__len__") and hasattr(value, "__iter__")):
        return _encode_items(value, budget, depth)
    return _opaque(value)


def _encode_items(value, budget: _Budget, depth: int):
    """A sequence of another kind than list or tuple, as a list of its items (its length checked first)."""
    n = len(value)
    if n > budget.left:
        return _opaque(value, _short(f"a {_type_name(value)} of {n:,} items", 200))
    return [encode(v, budget, depth + 1) for v in value]


def _is_numpy(value) -> bool:
    return type(value).__module__ == "numpy"


def _safe_repr(value) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 (a student's __repr__)
        return f"<{_type_name(value)}>"


def _encode_array(value, budget: _Budget, depth: int):
    """An array or a tensor: numbers and strings as an array of their dtype (a 0-d one as a NumPy scalar),
    objects (a pandas Series of strings) item by item."""
    import numpy as np

    try:
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu()
        array = np.asarray(value)
    except Exception:  # noqa: BLE001
        return _opaque(value)
    if array.size > budget.left:
        return _opaque(value, f"an array of shape {array.shape}, dtype {array.dtype}")
    if array.ndim == 0 and array.dtype.kind in "biuf":
        return {"t": "np", "dtype": str(array.dtype), "v": array.item()}
    if array.dtype.kind in "biufU" and array.ndim > 0:
        budget.take(int(array.size))
        return {"t": "array", "type": _type_name(value), "dtype": str(array.dtype), "v": array.tolist()}
    if array.dtype.kind == "O":
        return encode(array.tolist(), budget, depth + 1)
    return _opaque(value, f"an array of shape {array.shape}, dtype {array.dtype}")


class NotGradable(Exception):
    """Facts that are not what their declaration reads (malformed, forged, too large)."""


def decode(node, depth: int = 0):
    """The value that :func:`encode` wrote, checked: NotGradable unless it is such data."""
    if depth > DEPTH_LIMIT + 2:
        raise NotGradable("nested too deep")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [decode(v, depth + 1) for v in node]
    if type(node) is not dict:
        raise NotGradable(f"a value of type {type(node).__name__}")
    tag = node.get("t")
    if tag == "dict" and type(node.get("v")) is dict:
        return {k: decode(v, depth + 1) for k, v in node["v"].items()}
    if tag == "tuple" and type(node.get("v")) is list:
        return tuple(decode(v, depth + 1) for v in node["v"])
    if tag == "ellipsis":
        return Ellipsis
    if tag == "np" and type(node.get("v")) in (bool, int, float):
        dtype = _dtype(node.get("dtype"), "biuf")
        try:
            return dtype.type(node["v"])
        except (OverflowError, ValueError, TypeError):
            raise NotGradable(f"a number that does not fit a {dtype}") from None
    if tag == "array":
        import numpy as np

        dtype = _dtype(node.get("dtype"), "biufU")
        try:
            return np.asarray(node.get("v"), dtype=dtype)
        except (TypeError, ValueError, OverflowError) as e:
            raise NotGradable(f"an array that does not read as {dtype} ({e})") from None
    if tag == "opaque":
        return Opaque(_text(node.get("type"), 200), _text(node.get("repr"), 300))
    raise NotGradable(f"a value tagged {_text(tag, 40)!r}")


def _dtype(name, kinds: str):
    import numpy as np

    try:
        dtype = np.dtype(str(name)[:20])
    except TypeError:
        raise NotGradable(f"a dtype {_text(name, 40)!r}") from None
    if dtype.kind not in kinds:
        raise NotGradable(f"a dtype {dtype}")
    return dtype


def _text(value, limit: int) -> str:
    return _short(value if isinstance(value, str) else repr(value), limit)


def canonical(value) -> str:
    """A call's inputs as a key that does not depend on how they were written (lists or arrays,
    2 or 2.0), so that a test's call finds the call the facts recorded."""

    def plain(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)) or (_is_numpy(v) and getattr(v, "shape", None) == ()):
            return float(v)
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if hasattr(v, "tolist"):
            return plain(v.tolist())
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return repr(v)

    return json.dumps(plain(value), sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Stand-ins: what a test holds of a graded name
# ---------------------------------------------------------------------------------------------


class StandIn:
    """An object of the notebook, as its facts carry it. ``type_name`` is its class; ``is_a(name)``
    whether that class or one it derives from is called ``name`` (e.g. "Trainer"); ``same_as(name)``
    whether the notebook bound the same object to the graded name ``name`` too."""

    kind = "object"
    _declared = ("type_name", "is_a", "same_as", "graded_name")

    def __init__(self, name: str, data: dict, env: FactsEnv):
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "graded_name", name)
        object.__setattr__(self, "type_name", _text(data.get("type"), 200))

    def is_a(self, class_name: str) -> bool:
        """Whether the object is an instance of the lab's class ``class_name`` (one of IDENTITIES), as the
        kernel found with that class object, whatever the object's class calls itself."""
        if class_name not in IDENTITIES:
            raise UndeclaredFact(
                f"a test asks whether {self.graded_name} is a {class_name}, which lab5_facts.IDENTITIES does not "
                f"name: add it there ({', '.join(IDENTITIES)})"
            )
        found = self._data.get("is")
        return isinstance(found, dict) and found.get(class_name) is True

    def same_as(self, name: str) -> bool:
        return name in (self._data.get("aliases") or [])

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        kind = type(self).__name__
        raise UndeclaredFact(
            f"a test reads {self.graded_name}.{attr}, which the facts of {self.graded_name} ({kind}) do not carry: "
            f"declare it in lab5_facts.GRADED[{self.graded_name!r}] (or read what {kind} carries: "
            f"{', '.join(sorted(set(self._declared)))})"
        )

    def __setattr__(self, attr, value):
        raise AttributeError(f"facts of {self.graded_name} are read-only")

    def __repr__(self) -> str:
        return f"<{self.type_name}>"

    def _value(self, key: str):
        return decode(self._data.get(key))

    def _resolve(self, key: str, kind: type[StandIn]):
        """A part of this object: another graded name (a reference) or facts of its own."""
        node = self._data.get(key)
        if node is None:
            return None
        if isinstance(node, dict) and "ref" in node:
            ref = node["ref"]
            if ref not in self._env:
                raise NotGradable(f"{self.graded_name}.{key} refers to {_text(ref, 40)}, which has no facts")
            return self._env[ref]
        if isinstance(node, dict) and node.get("kind") == kind.kind:
            return kind(f"{self.graded_name}.{key}", node, self._env)
        if isinstance(node, dict) and node.get("kind") == "object":
            return StandIn(f"{self.graded_name}.{key}", node, self._env)
        raise NotGradable(f"{self.graded_name}.{key} is not what its facts should be")


class WrongKind(StandIn):
    """A graded name whose value is not the kind of object its declaration reads: any use of it fails
    with what it is instead."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AssertionError(self.message)

    @property
    def message(self) -> str:
        return (
            f"{self.graded_name} is {_text(self._data.get('repr'), SHOWN)} ({self.type_name}), not "
            f"{_text(self._data.get('expected', 'what the question asks for'), SHOWN)}."
        )

    def __len__(self):
        raise AssertionError(self.message)


class Config:
    """A model's configuration, as its ``to_dict()`` and ``num_labels``: attributes, and ``to_dict()``."""

    def __init__(self, values: dict):
        self._values = values

    def to_dict(self) -> dict:
        return dict(self._values)

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return self._values[attr]
        except KeyError:
            raise AttributeError(f"the model's configuration has no {attr}") from None


class EstimatorFacts(StandIn):
    """A scikit-learn estimator: ``get_params()`` and the fitted attributes its declaration names (an
    attribute it had not learned is missing, as on the real object: ``hasattr`` says False)."""

    kind = "estimator"
    _declared = StandIn._declared + ("get_params", "<fitted attributes of its declaration>")

    def get_params(self) -> dict:
        params = self._value("params")
        if not isinstance(params, dict):
            raise NotGradable(f"{self.graded_name}'s parameters are not a dict")
        return params

    def __getattr__(self, attr: str):
        fitted = self._data.get("fitted")
        if isinstance(fitted, dict) and attr in (self._data.get("declared") or []):
            if attr not in fitted:
                raise AttributeError(f"{self.graded_name} has no {attr} (it is not fitted)")
            return decode(fitted[attr])
        return super().__getattr__(attr)


class ModelFacts(StandIn):
    """A transformers model: its configuration (``config``) and the fingerprint of its word
    embeddings (``embedding_rows``: rows EMBEDDING_ROWS of that matrix, or None)."""

    kind = "model"
    _declared = StandIn._declared + ("config", "embedding_rows")

    @property
    def config(self) -> Config:
        values = self._value("config")
        if not isinstance(values, dict):
            raise NotGradable(f"{self.graded_name}'s configuration is not a dict")
        return Config(values)

    @property
    def embedding_rows(self):
        node = self._data.get("embeddings")
        if node is None:
            return None
        import numpy as np

        try:
            rows, width = node["rows"], int(node["width"])
            values = np.frombuffer(base64.b64decode(node["values"], validate=True), dtype="<f4")
            if rows != list(EMBEDDING_ROWS) or values.size != len(rows) * width:
                raise ValueError("not the rows the grader asked for")
        except (KeyError, TypeError, ValueError) as e:
            raise NotGradable(f"{self.graded_name}'s fingerprint does not read ({e})") from None
        return values.reshape(len(rows), width)


class ArgumentsFacts(StandIn):
    """TrainingArguments, as their ``to_dict()``: every setting as an attribute, and ``to_dict()``."""

    kind = "arguments"
    _declared = StandIn._declared + ("to_dict", "<every setting>")

    def to_dict(self) -> dict:
        values = self._value("values")
        if not isinstance(values, dict):
            raise NotGradable(f"{self.graded_name}'s settings are not a dict")
        return values

    def __getattr__(self, attr: str):
        values = self.to_dict()
        if attr in values:
            return values[attr]
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"{self.graded_name} has no setting {attr}")


class RowsFacts(StandIn):
    """A datasets.Dataset: its length, column names, the columns its declaration keeps whole, and its
    first HEAD_ROWS rows (``ds[i]``)."""

    kind = "rows"
    _declared = StandIn._declared + (
        "len()",
        "column_names",
        "ds[column] for the declared columns",
        f"ds[i] for i < {HEAD_ROWS}",
    )

    def __len__(self) -> int:
        n = self._data.get("length")
        if type(n) is not int or n < 0:
            raise NotGradable(f"{self.graded_name}'s length is not a number")
        return n

    @property
    def column_names(self) -> list:
        names = self._value("column_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise NotGradable(f"{self.graded_name}'s column names are not strings")
        return names

    def __getitem__(self, key):
        if isinstance(key, str):
            columns = self._data.get("columns") or {}
            if key in columns:
                return decode(columns[key])
            if key in (self._data.get("declared") or []):
                raise KeyError(f"{self.graded_name} has no column {key!r}")
            raise UndeclaredFact(
                f"a test reads the column {key!r} of {self.graded_name}, which its facts do not "
                f"keep: add it to the columns of lab5_facts.GRADED[{self.graded_name.split('.')[0]!r}]"
            )
        if isinstance(key, int) and not isinstance(key, bool):
            head = self._data.get("head") or []
            if 0 <= key < min(len(head), HEAD_ROWS):
                row = decode(head[key])
                if not isinstance(row, dict):
                    raise NotGradable(f"row {key} of {self.graded_name} is not a dict")
                return row
            if 0 <= key < HEAD_ROWS:
                raise IndexError(f"{self.graded_name} has {len(head)} rows")
            raise UndeclaredFact(
                f"a test reads row {key} of {self.graded_name}; its facts keep rows 0 to {HEAD_ROWS - 1} "
                "(lab5_facts.HEAD_ROWS)"
            )
        raise TypeError(f"{self.graded_name}[...] takes a column name or a row number")


class FunctionFacts(StandIn):
    """A function of the notebook: what it returned (or raised) for each call its declaration makes.
    Calling the stand-in with one of those inputs gives that back; any other input is undeclared."""

    kind = "function"
    _declared = StandIn._declared + ("calls with the inputs of its declaration",)

    def __init__(self, name: str, data: dict, env: FactsEnv):
        calls = data.get("calls")
        if not isinstance(calls, list) or not all(isinstance(c, dict) and isinstance(c.get("key"), str) for c in calls):
            raise NotGradable(f"the calls of {name} are not records of calls")
        super().__init__(name, data, env)

    def __call__(self, *args, **kwargs):
        key = canonical({"args": list(args), "kwargs": kwargs})
        for call in self._data.get("calls") or []:
            if isinstance(call, dict) and call.get("key") == key:
                if "raised" in call:
                    raise StudentCodeError(_text(call["raised"], MESSAGE_LIMIT))
                return decode(call.get("returned"))
        raise UndeclaredFact(
            f"a test calls {self.graded_name} with {_short(key, 120)}, which is not among the calls declared for it: "
            f"add call(...) with those inputs to lab5_facts.GRADED[{self.graded_name!r}]"
        )


class TrainerFacts(StandIn):
    """A transformers Trainer: what it was given (``model``, ``args``, ``train_dataset``,
    ``eval_dataset``, ``processing_class``, ``compute_metrics``: each the graded name's stand-in when
    it is that very object, else facts of its own) and what its data collator makes of the first
    training rows (``collated``: {"type", "ndim", "shape"} of the batch's input_ids, or {"raised"})."""

    kind = "trainer"
    _declared = StandIn._declared + (
        "model",
        "args",
        "train_dataset",
        "eval_dataset",
        "processing_class",
        "compute_metrics",
        "collated",
    )

    model = property(lambda self: self._resolve("model", ModelFacts))
    args = property(lambda self: self._resolve("args", ArgumentsFacts))
    train_dataset = property(lambda self: self._resolve("train_dataset", RowsFacts))
    eval_dataset = property(lambda self: self._resolve("eval_dataset", RowsFacts))
    processing_class = property(lambda self: self._resolve("processing_class", StandIn))
    compute_metrics = property(lambda self: self._resolve("compute_metrics", FunctionFacts))

    @property
    def collated(self) -> dict:
        value = self._value("collated")
        if not isinstance(value, dict):
            raise NotGradable(f"what {self.graded_name}'s data collator made is not recorded")
        return value


class Unreadable:
    """A graded name whose facts the grader could not read: any use of it fails with the reason."""

    def __init__(self, name: str, reason: str):
        self.graded_name, self.reason = name, reason

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AssertionError(self.message)

    @property
    def message(self) -> str:
        return f"{self.graded_name} could not be graded: {self.reason}."

    def __repr__(self) -> str:
        return f"<{self.graded_name}: not gradable>"


# ---------------------------------------------------------------------------------------------
# Declarations: what the facts of each graded name carry, and how they are taken from a live value
# ---------------------------------------------------------------------------------------------


# The lab's classes a fact may say its object is an instance of (StandIn.is_a): label -> (module, class).
# Checked in the kernel against the class objects the lab imports, with the object's real type (which no
# object can disguise), never by the name a class gives itself. "SequenceClassifier": the class
# transformers' AutoModelForSequenceClassification makes for the model's own configuration.
IDENTITIES = {
    "Trainer": ("transformers.trainer", "Trainer"),
    "TrainingArguments": ("transformers.training_args", "TrainingArguments"),
    "PreTrainedModel": ("transformers.modeling_utils", "PreTrainedModel"),
    "SequenceClassifier": ("transformers.models.auto.modeling_auto", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING"),
    "Dataset": ("datasets.arrow_dataset", "Dataset"),
    "BaseEstimator": ("sklearn.base", "BaseEstimator"),
}


def identities(value) -> dict[str, bool]:
    """Label -> whether ``value``'s type is (derives from) the lab's class of IDENTITIES. Only modules the
    notebook imported are looked in: one it never imported cannot have made the object."""
    import sys

    kind, found = type(value), {}
    for label, (module_name, name) in IDENTITIES.items():
        module = sys.modules.get(module_name)
        try:
            cls = getattr(module, name, None) if module is not None else None
            if label == "SequenceClassifier":  # the class transformers makes for the model's own configuration
                model = found.get("PreTrainedModel")
                cls = cls[type(object.__getattribute__(value, "config"))] if model and cls is not None else None
            found[label] = isinstance(cls, type) and issubclass(kind, cls)
        except Exception:  # noqa: BLE001 (no such class for this configuration)
            found[label] = False
    return found


def call(*args, **kwargs) -> tuple[tuple, dict]:
    """One call the grader makes of a notebook's function (see Function)."""
    return args, kwargs


@dataclass(frozen=True)
class Fact:
    """A declaration: how a graded name's facts are taken from its live value (``take``, in the
    notebook's kernel) and made into what a test holds (``stand_in``, wherever the test runs)."""

    kind = "value"
    expected = "a value"

    def fits(self, value) -> bool:
        return True

    def take(self, value, names: _Names, budget: _Budget) -> dict:
        return {"kind": "value", "value": encode(value, budget)}

    def stand_in(self, name: str, data: dict, env: FactsEnv):
        return decode(data.get("value"))


@dataclass(frozen=True)
class Value(Fact):
    """Plain data: numbers, strings, lists, dicts, arrays (as NumPy arrays)."""


@dataclass(frozen=True)
class _ObjectFact(Fact):
    stand_in_class = StandIn

    def fits(self, value) -> bool:
        return True

    def take(self, value, names: _Names, budget: _Budget) -> dict:
        return {
            "kind": self.stand_in_class.kind,
            "type": _type_name(value),
            "is": identities(value),
            **self.details(value, names, budget),
        }

    def details(self, value, names, budget) -> dict:
        return {}

    def stand_in(self, name: str, data: dict, env: FactsEnv):
        if data.get("kind") != self.stand_in_class.kind:
            raise NotGradable(f"its facts describe a {_text(data.get('kind'), 20)}, not {self.expected}")
        return self.stand_in_class(name, data, env)


@dataclass(frozen=True)
class Estimator(_ObjectFact):
    """A scikit-learn estimator: its parameters, and the fitted attributes named in ``fitted``."""

    fitted: tuple[str, ...] = ()
    stand_in_class = EstimatorFacts
    expected = "a scikit-learn estimator"

    def fits(self, value) -> bool:
        return callable(getattr(value, "get_params", None))

    def details(self, value, names, budget) -> dict:
        found = {}
        for attr in self.fitted:
            try:
                found[attr] = encode(getattr(value, attr), budget)
            except AttributeError:
                continue
        return {"params": encode(value.get_params(deep=False), budget), "fitted": found, "declared": list(self.fitted)}


@dataclass(frozen=True)
class Model(_ObjectFact):
    """A transformers model: its configuration, and rows EMBEDDING_ROWS of its word embeddings."""

    stand_in_class = ModelFacts
    expected = "a transformers model"

    def fits(self, value) -> bool:
        return hasattr(value, "config") and callable(getattr(value, "get_input_embeddings", None))

    def details(self, value, names, budget) -> dict:
        config = value.config.to_dict() if callable(getattr(value.config, "to_dict", None)) else {}
        config["num_labels"] = getattr(value.config, "num_labels", None)  # a property, not in to_dict()
        return {"config": encode(config, budget), "embeddings": _fingerprint(value)}


def _fingerprint(model) -> dict | None:
    try:
        weight = model.get_input_embeddings().weight.detach().float().cpu()
        if weight.ndim != 2 or weight.shape[0] <= max(EMBEDDING_ROWS):
            return None
        rows = weight[list(EMBEDDING_ROWS)].numpy().astype("<f4")
    except Exception:  # noqa: BLE001 (a model without word embeddings: no fingerprint)
        return None
    return {
        "rows": list(EMBEDDING_ROWS),
        "width": int(rows.shape[1]),
        "values": base64.b64encode(rows.tobytes()).decode(),
    }


@dataclass(frozen=True)
class Arguments(_ObjectFact):
    """transformers' TrainingArguments: every setting (``to_dict()``)."""

    stand_in_class = ArgumentsFacts
    expected = "a TrainingArguments"

    def fits(self, value) -> bool:
        return callable(getattr(value, "to_dict", None)) and hasattr(value, "output_dir")

    def details(self, value, names, budget) -> dict:
        return {"values": encode(value.to_dict(), budget)}


@dataclass(frozen=True)
class Rows(_ObjectFact):
    """A datasets.Dataset: its length and column names, the ``columns`` named here whole (those it
    has), and its first HEAD_ROWS rows."""

    columns: tuple[str, ...] = ()
    stand_in_class = RowsFacts
    expected = "a datasets.Dataset"

    def fits(self, value) -> bool:
        return hasattr(value, "column_names") and hasattr(value, "__len__") and hasattr(value, "__getitem__")

    def details(self, value, names, budget) -> dict:
        column_names = list(value.column_names)
        kept = {c: encode(list(value[c]), budget) for c in self.columns if c in column_names}
        head = [encode(dict(value[i]), budget) for i in range(min(len(value), HEAD_ROWS))]
        return {
            "length": len(value),
            "column_names": encode(column_names, budget),
            "columns": kept,
            "head": head,
            "declared": list(self.columns),
        }


@dataclass(frozen=True)
class Function(_ObjectFact):
    """A function of the notebook: what it returns (or raises) on each of ``calls`` (made with
    :func:`call`). ``adapt``: how the live function takes a call's inputs ("eval_prediction": one
    transformers EvalPrediction of the keyword arguments, as the Trainer calls compute_metrics)."""

    calls: tuple = ()
    adapt: str | None = None
    stand_in_class = FunctionFacts
    expected = "a function"

    def fits(self, value) -> bool:
        return callable(value)

    def details(self, value, names, budget) -> dict:
        calls = []
        for args, kwargs in self.calls:
            record = {"key": canonical({"args": list(args), "kwargs": kwargs})}
            live_args, live_kwargs = self._live(args, kwargs)
            try:
                returned = _bounded(lambda a=live_args, k=live_kwargs: value(*a, **k))
                record["returned"] = encode(returned, budget)
            except GUARD as e:  # the student's function raised: a fact too
                record["raised"] = _short(f"{type(e).__name__}: {e}", MESSAGE_LIMIT)
            calls.append(record)
        return {"calls": calls}

    def _live(self, args, kwargs):
        import numpy as np

        if self.adapt == "eval_prediction":
            from transformers import EvalPrediction

            return (EvalPrediction(**{k: np.asarray(v) for k, v in kwargs.items()}),), {}
        return args, kwargs


@dataclass(frozen=True)
class TrainerFact(_ObjectFact):
    """A transformers Trainer: what it was given, and its data collator's batch of the first 8
    training rows."""

    stand_in_class = TrainerFacts
    expected = "a transformers Trainer"

    def fits(self, value) -> bool:
        return hasattr(value, "args") and hasattr(value, "model")

    def details(self, value, names, budget) -> dict:
        def part(obj, fact: Fact):
            if obj is None:
                return None
            ref = names.name_of(obj)
            if ref is not None:
                return {"ref": ref}
            if fact is None or not fact.fits(obj):
                return {"kind": "object", "type": _type_name(obj), "is": identities(obj)}
            return fact.take(obj, names, budget)

        parts = {
            "model": part(value.model, Model()),
            "args": part(value.args, Arguments()),
            "train_dataset": part(getattr(value, "train_dataset", None), Rows(columns=("label", "labels"))),
            "eval_dataset": part(getattr(value, "eval_dataset", None), Rows(columns=("label", "labels"))),
            "processing_class": part(getattr(value, "processing_class", None), None),
            "compute_metrics": part(getattr(value, "compute_metrics", None), None),
        }
        return {**parts, "collated": encode(_collated(value), budget)}


def _collated(trainer) -> dict:
    """What the trainer's data collator makes of its first 8 training rows (the keys a model reads)."""
    keep = {"input_ids", "attention_mask", "token_type_ids", "label", "labels"}
    try:
        rows = [trainer.train_dataset[i] for i in range(min(8, len(trainer.train_dataset)))]
        batch = _bounded(lambda: trainer.data_collator([{k: v for k, v in row.items() if k in keep} for row in rows]))
        ids = batch["input_ids"]
        return {
            "type": _type_name(ids),
            "ndim": int(getattr(ids, "ndim", 0)),
            "shape": [int(n) for n in getattr(ids, "shape", ())],
        }
    except GUARD as e:  # a collator that cannot batch these rows: a fact
        return {"raised": _short(f"{type(e).__name__}: {e}", MESSAGE_LIMIT)}


def _bounded(compute):
    """``compute()``, stopped after CALL_LIMIT_S (a notebook's function that never returns) where a timer
    can be set; any timer already running (the grading's per-cell limit) is restored afterwards."""
    import signal
    import threading
    import time

    seconds = CALL_LIMIT_S
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return compute()

    def expired(signum, frame):
        raise TimeoutError(f"it did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    outer = signal.setitimer(signal.ITIMER_REAL, seconds)[0]
    started = time.monotonic()
    try:
        return compute()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


# The notebook's graded names (docs/design.md, "Student-facing names"): what the tests may read of each.
LONG_TEXT = " ".join(["transfer learning works"] * 200)
GRADED: dict[str, Fact] = {
    "label_names": Value(),
    "num_labels": Value(),
    "train_texts": Value(),
    "train_labels": Value(),
    "test_texts": Value(),
    "test_labels": Value(),
    "tfidf": Estimator(fitted=("vocabulary_",)),
    "bow_clf": Estimator(fitted=("classes_",)),
    "bow_preds": Value(),
    "acc_bow": Value(),
    "tokenizer": _ObjectFact(),
    "tok_fn": Function(calls=(call({"text": ["I love this lab!", "meh"]}), call({"text": [LONG_TEXT, "short"]}))),
    "tok_train": Rows(columns=("label", "labels")),
    "tok_test": Rows(columns=("label", "labels")),
    "model_ft": Model(),
    "args": Arguments(),
    "compute_metrics": Function(
        adapt="eval_prediction",
        calls=(
            call(predictions=[[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], label_ids=[0, 1]),
            call(predictions=[[2.0, -1.0, -1.0]] * 7 + [[-1.0, -1.0, 2.0]], label_ids=[0, 0, 0, 0, 0, 1, 2, 2]),
        ),
    ),
    "trainer": TrainerFact(),
    "acc_ft": Value(),
    "model_scratch": Model(),
    "trainer_scratch": TrainerFact(),
    "acc_scratch": Value(),
    "quiz_q1": Value(),
    "quiz_q2": Value(),
    "quiz_q3": Value(),
}


# ---------------------------------------------------------------------------------------------
# Taking the facts (the kernel) and reading them (the grader)
# ---------------------------------------------------------------------------------------------


class _Names:
    """The graded names of a namespace, by the object each is bound to (for references)."""

    def __init__(self, namespace: dict):
        self.by_id: dict[int, list[str]] = {}
        for name in GRADED:
            value = namespace.get(name)
            if value is not None and not isinstance(value, (int, float, str, bool)):
                self.by_id.setdefault(id(value), []).append(name)

    def name_of(self, obj) -> str | None:
        found = self.by_id.get(id(obj))
        return found[0] if found else None

    def aliases(self, name: str, obj) -> list[str]:
        return [other for other in self.by_id.get(id(obj), []) if other != name]


def order(names) -> list[str]:
    """``names`` in the order their facts are taken: plain values first, then objects, then what calls
    the notebook's code (functions, Trainers), so that a name that hangs delays no other."""
    rank = {Value: 0, Fact: 0, Function: 2, TrainerFact: 2}
    return sorted(names, key=lambda name: rank.get(type(GRADED[name]), 1))


def header() -> bytes:
    return json.dumps({"format": FORMAT}).encode() + b"\n"


def line(name: str, data: dict) -> bytes:
    """One name's facts as a line of the facts file (a record of why not, beyond NAME_LIMIT)."""
    try:
        text = json.dumps({"name": name, "facts": data}).encode()
    except (ValueError, TypeError, RecursionError) as e:
        text = json.dumps({"name": name, "facts": not_taken(f"its facts do not write as JSON ({e})")}).encode()
    if len(text) >= NAME_LIMIT:
        text = json.dumps(
            {"name": name, "facts": not_taken(f"its facts are {len(text):,} bytes (at most {NAME_LIMIT:,})")}
        )
        text = text.encode()
    return text + b"\n"


def end_line(**info) -> bytes:
    """The last line: the facts were taken to their end (``info``: what the TA is told of it)."""
    return json.dumps({"end": info}).encode() + b"\n"


def not_taken(reason: str) -> dict:
    """The facts of a name that could not be taken, and why (the name is not gradable, with the reason)."""
    return {"kind": "error", "message": _short(reason, MESSAGE_LIMIT)}


def extract(namespace: dict, names=None) -> bytes:
    """The facts file of the graded ``names`` (default: all) that ``namespace`` defines, taken in this
    process (at grading the student's side takes each in a process of its own: lab5_grading_mode)."""
    found = _Names(namespace)
    wanted = [n for n in (names if names is not None else GRADED) if n in namespace and n in GRADED]
    lines = [line(name, take(name, namespace[name], found)) for name in order(wanted)]
    return header() + b"".join(lines) + end_line(taken=order(wanted))


def take(name: str, value, names: _Names) -> dict:
    """One graded name's facts (what the notebook's code raises while they are taken: GUARD)."""
    fact = GRADED[name]
    budget = _Budget()
    try:
        if value is None or value is Ellipsis or not isinstance(fact, _ObjectFact):
            return Value().take(value, names, budget)
        if not fact.fits(value):
            return {
                "kind": "wrong",
                "type": _type_name(value),
                "repr": _short(_safe_repr(value), SHOWN),
                "expected": fact.expected,
            }
        data = fact.take(value, names, budget)
        data["aliases"] = names.aliases(name, value)
        return data
    except GUARD as e:  # whatever the student's object does when read
        return not_taken(f"reading it raised {type(e).__name__}: {e}")


class FactsEnv(dict):
    """A notebook's graded names as the tests hold them: name -> value or stand-in (only the names the
    notebook defined). ``end``: what the facts' last line says (None: they were cut off before it);
    ``unread``: lines of the file that name no graded name (something else wrote them)."""

    end: dict | None = None
    unread: int = 0
    counted: int = 0  # the values counted before parsing (what SYNTAX_TOTAL_LIMIT bounds)


_NAMED = re.compile(rb'\{"name": "([A-Za-z_][A-Za-z0-9_]{0,63})", ')


def read(data: bytes | None) -> FactsEnv:
    """The tests' view of a notebook from its facts file (``data``, untrusted), within a fixed memory and
    time: each line is counted before it is parsed (its bytes, and "[", ",", ":", which bound its number
    of values from above; and all lines together), so that one damaged name is refused alone; each name
    is validated against its declaration; a name whose facts do not read becomes Unreadable."""
    env = FactsEnv()
    if data is None:
        return env
    if len(data) > FILE_LIMIT:
        raise NotGradable(f"the facts are {len(data):,} bytes (at most {FILE_LIMIT:,})")
    first, _, rest = data.partition(b"\n")
    if first.strip() != header().strip():
        raise NotGradable("the facts are not of this lab's format")
    total = 0
    for raw in rest.split(b"\n"):
        if not raw.strip():
            continue
        if raw.startswith(b'{"end": ') and len(raw) < 2**14:
            env.end = _end_record(raw)
            continue
        named = _NAMED.match(raw)
        name = named.group(1).decode() if named else None
        if name not in GRADED:
            env.unread += 1
            continue
        syntax = raw.count(b"[") + raw.count(b",") + raw.count(b":")
        if name in env:
            env[name] = Unreadable(name, "its facts were written twice (not by the autograder)")
        elif len(raw) > NAME_LIMIT:
            env[name] = Unreadable(name, f"its facts are {len(raw):,} bytes (at most {NAME_LIMIT:,})")
        elif syntax > SYNTAX_LIMIT or total + syntax > SYNTAX_TOTAL_LIMIT:
            env[name] = Unreadable(name, f"its facts hold more values than the autograder reads ({SYNTAX_LIMIT:,})")
        else:
            total += syntax
            env.counted = total
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                reason = "nested too deep" if isinstance(e, RecursionError) else f"not JSON ({_short(str(e), 80)})"
                env[name] = Unreadable(name, f"its facts are {reason}")
                continue
            env[name] = _stand_in(name, record.get("facts") if isinstance(record, dict) else None, env)
    return env


def _end_record(raw: bytes) -> dict:
    try:
        record = json.loads(raw.decode("utf-8"))["end"]
    except (UnicodeDecodeError, ValueError, RecursionError, KeyError, TypeError):
        return {}
    return record if isinstance(record, dict) else {}


def _stand_in(name: str, node, env: FactsEnv):
    try:
        if not isinstance(node, dict):
            raise NotGradable("its facts are not a record")
        kind = node.get("kind")
        if kind == "error":
            return Unreadable(name, _text(node.get("message"), MESSAGE_LIMIT))
        if kind == "wrong":
            return WrongKind(name, node, env)
        fact = GRADED[name]
        if kind == "value":
            value = decode(node.get("value"))
            if isinstance(value, Opaque):
                value.name = name
            return value
        if not isinstance(fact, _ObjectFact):
            raise NotGradable(f"its facts describe a {_text(kind, 20)}, not a value")
        value = fact.stand_in(name, node, env)
        aliases = node.get("aliases")
        if aliases is not None and not (isinstance(aliases, list) and all(a in GRADED for a in aliases)):
            raise NotGradable("its aliases are not graded names")
        return value
    except NotGradable as e:
        return Unreadable(name, str(e))
    except RecursionError:
        return Unreadable(name, "its facts are nested too deep")


# At grading, the facts file the notebook's last cell wrote (lab5_grading_mode.write_facts): what the
# kernel's own run of the public tests reads, so that it calls none of the notebook's functions again.
TAKEN: str | None = None


def of(namespace: dict, names) -> FactsEnv:
    """What a test holds of ``names`` of a live namespace (the notebook's own kernel): their facts,
    and those of the graded names they refer to, through the facts file exactly as at grading."""
    wanted = [n for n in names if n in GRADED]
    undeclared = [n for n in names if n not in GRADED]
    if undeclared:
        raise UndeclaredFact(
            f"a test reads {', '.join(undeclared)}, which is not a graded name: declare it in lab5_facts.GRADED"
        )
    if TAKEN is not None:
        with open(TAKEN, "rb") as f:
            return read(f.read(FILE_LIMIT + 1))
    found = _Names(namespace)
    facts = {name: take(name, namespace[name], found) for name in wanted if name in namespace}
    refs = {
        node["ref"] for data in facts.values() for node in data.values() if isinstance(node, dict) and "ref" in node
    }
    facts.update({ref: take(ref, namespace[ref], found) for ref in refs - set(facts) if ref in namespace})
    return read(header() + b"".join(line(name, data) for name, data in facts.items()) + end_line(taken=list(facts)))


__all__ = [
    "GRADED",
    "UndeclaredFact",
    "StudentCodeError",
    "FactsEnv",
    "Unreadable",
    "extract",
    "read",
    "of",
    "call",
    "Value",
    "Estimator",
    "Model",
    "Arguments",
    "Rows",
    "Function",
    "TrainerFact",
]
