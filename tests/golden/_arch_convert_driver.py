"""Runs the pinned convert_hf_to_gguf.py once, in its own interpreter, for
tests/golden/gen_arch_goldens.py (not a test; never imported by the suite).

    python _arch_convert_driver.py LLAMA_CPP_DIR REPORT.json PRE|- MODEL_DIR OUTTYPE=OUTFILE...

runs the converter's ``main()`` once per OUTTYPE=OUTFILE pair, in this one
interpreter (``convert_hf_to_gguf.py MODEL_DIR --outtype OUTTYPE --outfile
OUTFILE``), stopping at the first failure.

Before handing over to the converter's ``main()`` it wraps two methods of the
converter's ``conversion.base`` module, for this run only:

* ``TextModel.get_vocab_base_pre``: the real lookup runs first (its probe-text
  hash and its answer, or the NotImplementedError it raises on a vocabulary it
  does not know, are written to REPORT.json); then, when PRE is not ``-``, PRE
  is returned instead — the name the converter writes for the family's real
  tokenizer, which a shrunk vocabulary cannot hash to;
* ``ModelBase.load_hparams``: records whether transformers' AutoConfig parsed
  config.json or the converter fell back to reading the JSON itself (and the
  warning it logged).
"""

from __future__ import annotations

import json
import logging
import runpy
import sys
from hashlib import sha256


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> None:
    llama_cpp, report_path, pre, model_dir = sys.argv[1:5]
    jobs = [a.split("=", 1) for a in sys.argv[5:]]
    sys.path.insert(0, llama_cpp + "/gguf-py")
    sys.path.insert(0, llama_cpp)
    import conversion.base as base  # the converter's own module

    report: dict = {"pre_lookups": [], "hparams": []}
    cap = _Capture()
    logging.getLogger().addHandler(cap)

    real_pre = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer):
        entry: dict = {}
        try:
            import inspect
            src = inspect.getsource(real_pre)
            start = src.index("chktxt = ") + len("chktxt = ")
            import ast
            chktxt = ast.literal_eval(src[start:src.index("\n", start)])
            entry["chkhsh"] = sha256(str(tokenizer.encode(chktxt)).encode()).hexdigest()
        except Exception as e:  # pragma: no cover - diagnostic only
            entry["chkhsh_error"] = repr(e)
        try:
            entry["converter_answer"] = real_pre(self, tokenizer)
        except Exception as e:  # NotImplementedError for a vocabulary it does not know
            entry["converter_answer"] = None
            entry["converter_error"] = f"{type(e).__name__}: {e}"
        entry["written"] = pre if pre != "-" else entry["converter_answer"]
        report["pre_lookups"].append(entry)
        if entry["written"] is None:
            raise NotImplementedError("BPE pre-tokenizer was not recognized (no override given)")
        return entry["written"]

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre

    real_load = base.ModelBase.load_hparams

    def load_hparams(dir_model, is_mistral_format):
        before = len(cap.messages)
        cfg = real_load(dir_model, is_mistral_format)
        warnings = [m.splitlines()[0][:300] for m in cap.messages[before:] if "config" in m.lower()]
        report["hparams"].append({"source": "config.json (AutoConfig failed)" if warnings else "AutoConfig",
                                  "warnings": warnings})
        return cfg

    base.ModelBase.load_hparams = staticmethod(load_hparams)

    report["runs"] = []
    script = runpy.run_path(llama_cpp + "/convert_hf_to_gguf.py", run_name="convert_hf_to_gguf")
    for outtype, outfile in jobs:
        sys.argv = [llama_cpp + "/convert_hf_to_gguf.py", model_dir, "--outtype", outtype, "--outfile", outfile]
        run: dict = {"outtype": outtype, "rc": 0}
        try:
            script["main"]()
        except SystemExit as e:
            run["rc"] = e.code if isinstance(e.code, int) else 1
        except BaseException as e:
            run["exception"] = f"{type(e).__name__}: {e}"
            run["rc"] = 1
        report["runs"].append(run)
        if run["rc"]:
            break
    report["warnings"] = [m.splitlines()[0][:300] for m in cap.messages[-40:] if m.strip()]
    rc = max([r["rc"] for r in report["runs"]] or [1])
    report["rc"] = rc
    with open(report_path, "w") as f:
        json.dump(report, f)
    sys.exit(rc)


if __name__ == "__main__":
    main()
