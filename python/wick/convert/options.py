"""The options that shape a plan, declared once.

:class:`PlanOptions` is the one list of plan options. Each field carries what
every interface needs to offer it: its Python keyword (the field name), its
command-line flag, help text, how a flag's text becomes a value, and which
planners take it (``"convert"``: a Hugging Face directory; ``"requantize"``:
a GGUF file). From it come

* the keyword arguments of :func:`wick.convert`, :func:`~wick.convert.build_plan`,
  :func:`~wick.convert.build_plan_from_parts`, :func:`~wick.convert.convert_model`,
  :func:`~wick.convert.requantize_plan` and :func:`~wick.convert.requantize_model`
  (their signatures and the option list of their docstrings are generated:
  :func:`takes_plan_options`);
* the flags of ``wick convert`` and ``wick quantize`` (:meth:`PlanOptions.add_arguments`,
  :meth:`PlanOptions.from_arguments`);
* the spelling of an option in error messages (:func:`spell`: ``pure=True`` in
  Python, ``--pure`` on the command line).

Adding an option is adding a field here (and using it in the planner).
Functions accept either keywords or ``options=PlanOptions(...)``, or both
(keywords win)::

    wick.convert(model, "out.gguf", type="Q4_K_M", pure=True)
    opts = PlanOptions(output_tensor_type="Q8_0", tensor_types=[("ffn_down", "Q8_0")])
    plan = build_plan(model, "Q4_K_M", options=opts)
"""

from __future__ import annotations

import argparse
import contextvars
import dataclasses
import functools
import inspect
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from ..errors import WickTypeError, WickValueError

__all__ = ["PlanOptions", "takes_plan_options", "spell", "command_line"]

CONVERT = "convert"        # planning from a Hugging Face model directory
REQUANTIZE = "requantize"  # planning from a GGUF file (llama-quantize)
_BOTH = (CONVERT, REQUANTIZE)


def _upper(s: str) -> str:
    return s.upper()


def _regex_type(s: str) -> Tuple[str, str]:
    pat, sep, typ = s.rpartition("=")
    if not sep or not pat:
        raise argparse.ArgumentTypeError(f"expected REGEX=TYPE, got {s!r}")
    return pat, typ.upper()


def option(default: Any, *, help: str, flag: Optional[str] = None, metavar: Optional[str] = None,  # noqa: A002
           parse: Optional[Callable[[str], Any]] = None, repeat: bool = False,
           choices: Optional[Sequence[str]] = None, scope: Sequence[str] = _BOTH) -> Any:
    """A :class:`PlanOptions` field: its default and how interfaces offer it.

    Args:
        default: the value when the option is not given (a bool field becomes
            a switch on the command line).
        help: one line, for ``--help`` and the generated docstrings.
        flag: the command-line flag (None: Python only).
        metavar: the flag's argument name in ``--help``.
        parse: turns the flag's text into a value (default: the text).
        repeat: the flag may be given several times; the value is a tuple.
        choices: the values the flag (and the keyword) accept.
        scope: the planners that take the option: ``"convert"``, ``"requantize"``.
    """
    meta = {"help": help, "flag": flag, "metavar": metavar, "parse": parse, "repeat": repeat,
            "choices": tuple(choices) if choices else None, "scope": tuple(scope)}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class PlanOptions:
    """Every option that changes a plan (what is written), beside the model and the target.

    Sequences are stored as tuples. The Python keyword is the field name; the
    command-line flag and help are in each field's metadata (see the module
    docstring).

    Attributes:
        revision: the branch, tag or commit of a Hugging Face Hub model id
            (:mod:`wick.hub`; default: main).
        tokenizer_pre: force ``tokenizer.ggml.pre`` (byte-level BPE tokenizers only).
        model_name: force ``general.name``.
        pure: llama-quantize ``--pure``: every quantizable tensor gets the target's
            default type (no mixture).
        output_tensor_type: llama-quantize ``--output-tensor-type``.
        token_embedding_type: llama-quantize ``--token-embedding-type``.
        tensor_types: llama-quantize ``--tensor-type REGEX=TYPE``, as
            ``(regex, type)`` pairs; the first regex found in a tensor's name wins.
        leave_output_tensor: llama-quantize ``--leave-output-tensor``.
        imatrix: an importance matrix (a path, a :class:`wick.imatrix.ImatrixFile`
            or an :class:`~wick.convert.ImatrixInfo`), as ``llama-quantize --imatrix``.
        imatrix_include, imatrix_exclude: llama-quantize's ``--include-weights``
            and ``--exclude-weights`` (name substrings).
        intermediate: reproduce llama.cpp's two-step pipeline through an
            intermediate GGUF file of this precision (``convert_hf_to_gguf.py
            --outtype`` TYPE, then ``llama-quantize``) for every target but TYPE
            itself: ``"f32"``, ``"bf16"`` or ``"f16"``. A lossy intermediate
            rounds every tensor the converter writes in it (``{"op": "round"}``
            in the plan), as the two programs do. ``None`` (the default): the
            converter alone for F32, F16, BF16 and Q8_0 (it writes those
            itself), its F32 file + llama-quantize for the other targets — no
            lossy step. See docs/convert.md, "Which pipeline".
        split_max_size, split_max_tensors: write a split model, as ``llama-gguf-split
            --split-max-size 2G`` (``"2G"``, ``"500M"`` or bytes) or ``--split-max-tensors N``
            would split the file: ``output`` less ``.gguf`` + ``-00001-of-0000N.gguf`` …,
            all appearing together (:mod:`wick.convert.split`; the plan's ``split``). One
            of the two at most.
        fp8_as_q8: ``convert_hf_to_gguf.py --fp8-as-q8``: weights dequantized from
            float8 are written as Q8_0 (targets F32, F16, BF16, Q8_0).
        imatrix_names: GGUF names of the tensors an importance matrix would cover,
            for a plan to display only (no file, no checks); exclusive with ``imatrix``.
    """

    revision: Optional[str] = option(
        None, flag="--revision", metavar="REV", scope=(CONVERT,),
        help="with a Hugging Face Hub model id: the branch, tag or commit (default: main)")
    tokenizer_pre: Optional[str] = option(
        None, flag="--tokenizer-pre", metavar="NAME", scope=(CONVERT,),
        help="force tokenizer.ggml.pre (byte-level BPE tokenizers Wick does not recognise)")
    model_name: Optional[str] = option(
        None, flag="--model-name", metavar="NAME", scope=(CONVERT,),
        help="force general.name (default: from the model card or the directory name)")
    pure: bool = option(
        False, flag="--pure", help="no mixture: every quantizable tensor gets the target's default type")
    output_tensor_type: Optional[str] = option(
        None, flag="--output-tensor-type", metavar="TYPE", parse=_upper, help="ggml type for output.weight")
    token_embedding_type: Optional[str] = option(
        None, flag="--token-embedding-type", metavar="TYPE", parse=_upper, help="ggml type for token_embd.weight")
    tensor_types: Tuple[Tuple[str, str], ...] = option(
        (), flag="--tensor-type", metavar="REGEX=TYPE", parse=_regex_type, repeat=True,
        help="the type of tensors whose name matches REGEX (repeatable; the first match wins)")
    leave_output_tensor: bool = option(
        False, flag="--leave-output-tensor", help="keep output.weight unquantized")
    imatrix: Any = option(
        None, flag="--imatrix", metavar="FILE",
        help="importance matrix (llama-imatrix output, GGUF or legacy .dat), as llama-quantize --imatrix")
    imatrix_include: Tuple[str, ...] = option(
        (), flag="--include-weights", metavar="NAME", repeat=True,
        help="use the imatrix only for tensors whose name contains NAME (repeatable)")
    imatrix_exclude: Tuple[str, ...] = option(
        (), flag="--exclude-weights", metavar="NAME", repeat=True,
        help="do not use the imatrix for tensors whose name contains NAME (repeatable)")
    intermediate: Optional[str] = option(
        None, flag="--intermediate", metavar="TYPE", parse=str.lower, choices=("f32", "bf16", "f16"), scope=(CONVERT,),
        help="reproduce convert_hf_to_gguf.py --outtype TYPE + llama-quantize for every target, rounding included "
             "(f16: the F16 route); default: the converter alone for F32/F16/BF16/Q8_0, else its F32 file + "
             "llama-quantize, with no lossy step")
    split_max_size: Optional[Union[int, str]] = option(
        None, flag="--split-max-size", metavar="SIZE",
        help="write a split model, as llama-gguf-split --split-max-size: at most SIZE of tensor data a part "
             "(500M, 2G: decimal units; or bytes); OUTPUT less .gguf + -00001-of-0000N.gguf ...")
    split_max_tensors: Optional[int] = option(
        None, flag="--split-max-tensors", metavar="N", parse=int,
        help="write a split model of at most N tensors a part, as llama-gguf-split --split-max-tensors")
    fp8_as_q8: bool = option(
        False, flag="--fp8-as-q8", scope=(CONVERT,),
        help="write weights dequantized from float8 as Q8_0 (F32/F16/BF16/Q8_0 targets), as convert_hf_to_gguf.py "
             "--fp8-as-q8")
    imatrix_names: Optional[Tuple[str, ...]] = option(
        None, scope=(CONVERT,),
        help="names of the tensors an imatrix would cover, for a plan to display (no file, no checks)")

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        for name in ("imatrix_include", "imatrix_exclude"):
            v = getattr(self, name)
            if isinstance(v, str) or not _iterable(v) or not all(isinstance(x, str) for x in v):
                raise WickTypeError(f"{spell(name)}: expected a sequence of strings, got {v!r}")
            set_(name, tuple(v))
        if self.imatrix_names is not None:
            if isinstance(self.imatrix_names, str) or not _iterable(self.imatrix_names):
                raise WickTypeError(f"{spell('imatrix_names')}: expected a sequence of tensor names")
            set_("imatrix_names", tuple(self.imatrix_names))
        pairs = []
        for item in self.tensor_types if _iterable(self.tensor_types) and not isinstance(self.tensor_types, str) \
                else [self.tensor_types]:
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                raise WickTypeError(f"{spell('tensor_types')}: expected (regex, type) pairs, got {item!r}")
            pairs.append((item[0], item[1]))
        set_("tensor_types", tuple(pairs))
        if isinstance(self.intermediate, str):  # "F16" as well as "f16"
            set_("intermediate", self.intermediate.lower())
        for f in fields(self):
            if f.metadata["choices"] and getattr(self, f.name) not in (None,) + f.metadata["choices"]:
                raise WickValueError(f"{spell(f.name)}: {getattr(self, f.name)!r} is not one of "
                                     f"{', '.join(f.metadata['choices'])}")
        from .split import split_options

        split_options(self.split_max_size, self.split_max_tensors)  # checks them
        if self.imatrix is not None and self.imatrix_names is not None:
            from .errors import PlanError

            raise PlanError(f"convert: give {spell('imatrix')} or {spell('imatrix_names')}, not both")
        if (self.imatrix_include or self.imatrix_exclude) and self.imatrix is None:
            raise WickValueError(f"{spell('imatrix_include')} / {spell('imatrix_exclude')} need {spell('imatrix')}")

    # ------------------------------------------------------------ Python keywords
    @classmethod
    def names(cls, scope: Optional[str] = None) -> Tuple[str, ...]:
        """The option names (Python keywords), in declaration order; only those
        ``scope`` (``"convert"`` or ``"requantize"``) takes, if given."""
        return tuple(f.name for f in fields(cls) if scope is None or scope in f.metadata["scope"])

    @classmethod
    def of(cls, options: Optional[PlanOptions] = None, keywords: Optional[Mapping[str, Any]] = None, *,
           scope: str = CONVERT, caller: str = "build_plan") -> PlanOptions:
        """``options`` (or the defaults) with ``keywords`` applied, checked against ``scope``.

        Raises:
            wick.WickTypeError: an unknown keyword, or an option ``scope`` does not
                take (the message lists the options).
        """
        if options is not None and not isinstance(options, PlanOptions):
            raise WickTypeError(f"options: expected a PlanOptions, got {type(options).__name__}")
        keywords = dict(keywords or {})
        allowed = cls.names(scope)
        for k in keywords:
            if k not in allowed:
                why = ("does not apply to " + ("requantizing a GGUF file" if scope == REQUANTIZE else
                                               "converting a model directory")
                       if k in cls.names() else "is not an option")
                raise WickTypeError(f"{caller}(): {k!r} {why}; the options are: {', '.join(allowed)}")
        opts = options or cls()
        if options is not None:
            stray = [n for n in cls.names() if n not in allowed and getattr(opts, n) != _default(n)]
            if stray:
                raise WickTypeError(f"{caller}(): options {', '.join(stray)} do not apply here")
        return dataclasses.replace(opts, **keywords) if keywords else opts

    def changed(self) -> Dict[str, Any]:
        """The options that differ from their defaults, by name."""
        return {n: getattr(self, n) for n in self.names() if getattr(self, n) != _default(n)}

    # ------------------------------------------------------------ command line
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, scope: str) -> None:
        """Add the flag of every option ``scope`` takes to ``parser``."""
        group = parser.add_argument_group("plan options")
        for f in fields(cls):
            m = f.metadata
            if m["flag"] is None or scope not in m["scope"]:
                continue
            if f.default is False:
                group.add_argument(m["flag"], dest=f.name, action="store_true", help=m["help"])
                continue
            kw: Dict[str, Any] = {"dest": f.name, "help": m["help"], "metavar": m["metavar"]}
            if m["parse"] is not None:
                kw["type"] = m["parse"]
            if m["choices"]:
                kw["choices"] = m["choices"]
            if m["repeat"]:
                kw.update(action="append", default=[])
            group.add_argument(m["flag"], **kw)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, scope: str) -> PlanOptions:
        """The options parsed by a parser :meth:`add_arguments` prepared."""
        given = {f.name: getattr(args, f.name) for f in fields(cls)
                 if f.metadata["flag"] is not None and scope in f.metadata["scope"]}
        return cls(**given)


def _default(name: str) -> Any:
    return PlanOptions.__dataclass_fields__[name].default


def _iterable(v: Any) -> bool:
    try:
        iter(v)
    except TypeError:
        return False
    return True


# ---------------------------------------------------------------- spelling
_command_line = contextvars.ContextVar("wick_command_line", default=False)

# Options of the functions that run a plan (not plan options): Python keyword → flag.
_RUN_FLAGS = {"dry_run": "--dry-run", "overwrite": "--force", "threads": "--threads", "progress": "--progress"}


class command_line:
    """Context manager: error messages raised inside spell options as flags
    (``wick``'s command line uses it around every command)."""

    def __enter__(self) -> command_line:
        self._token = _command_line.set(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        _command_line.reset(self._token)


def spell(name: str, value: Any = None) -> str:
    """How to write option ``name`` (set to ``value``) for the user reading the message:
    ``pure=True`` / ``dry_run=True`` in Python, ``--pure`` / ``--dry-run`` on the command line."""
    if _command_line.get():
        m = PlanOptions.__dataclass_fields__.get(name)
        flag = m.metadata["flag"] if m is not None else _RUN_FLAGS.get(name)
        if flag:
            return flag if value is None or isinstance(value, bool) else f"{flag} {value}"
    return name if value is None else f"{name}={value!r}"


# ---------------------------------------------------------------- signatures
def takes_plan_options(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function ``f(..., options=None, **keywords)`` that takes plan options:
    its signature (for ``help()``, ``inspect`` and editors) lists every option of
    ``scope`` as a keyword-only parameter, and its docstring gains their list."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind != p.VAR_KEYWORD]
        for f in fields(PlanOptions):
            if scope in f.metadata["scope"]:
                params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                                annotation=f.type))
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        if fn.__doc__:
            fn.__doc__ = fn.__doc__.rstrip() + "\n\n" + _options_doc(scope, indent=_doc_indent(fn.__doc__))
        return fn

    return decorate


def _doc_indent(doc: str) -> str:
    lines = [line for line in doc.splitlines()[1:] if line.strip()]
    return min((line[: len(line) - len(line.lstrip())] for line in lines), key=len, default="")


def _options_doc(scope: str, indent: str = "") -> str:
    out = [f"{indent}Plan options (keyword-only; or ``options=PlanOptions(...)``, see wick.convert.options):"]
    for f in fields(PlanOptions):
        if scope in f.metadata["scope"]:
            flag = f" ({f.metadata['flag']})" if f.metadata["flag"] else ""
            out.append(f"{indent}    {f.name}{flag}: {f.metadata['help']}")
    return "\n".join(out)

