"""Sample strings for comparing tokenizations (llama.cpp with a converted file's metadata vs.
Hugging Face ``tokenizers`` on the fixture's tokenizer.json): unicode, digits, whitespace,
the fixture's special tokens inside text, and a chat-template rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

BASE = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and\ttabs\nnewlines\n\n",
    "numbers 1234567 and 3.14159, 42",
    "Ünïcödé — émojis 🤖🚀 and 中文字符",
    "don't won't I'm you're",
    "a",
]


def _content(tok) -> Optional[str]:
    if isinstance(tok, dict):
        return tok.get("content")
    return tok


def chat_rendering(model_dir: Path) -> Optional[str]:
    """tokenizer_config.json's chat_template rendered (jinja2) for a short conversation, or None."""
    try:
        import jinja2
    except ImportError:
        return None
    tc = json.loads((Path(model_dir) / "tokenizer_config.json").read_text(encoding="utf-8"))
    tpl = tc.get("chat_template")
    if not isinstance(tpl, str):
        return None
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]
    return env.from_string(tpl).render(messages=messages, add_generation_prompt=True,
                                       bos_token=_content(tc.get("bos_token")) or "",
                                       eos_token=_content(tc.get("eos_token")) or "")


def samples(model_dir: Path) -> List[str]:
    """The strings for one fixture: BASE, two of its special tokens in text, its chat rendering."""
    out = list(BASE)
    d = Path(model_dir)
    specials: List[str] = []
    if (d / "tokenizer.json").is_file():
        tj = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
        specials = [t["content"] for t in tj.get("added_tokens", []) if t.get("special")]
    if specials:
        pick = specials[1:3] if len(specials) > 2 else specials
        out.append(f"{pick[0]}special tokens in text{pick[-1]} and after")
    chat = chat_rendering(d)
    if chat:
        out.append(chat)
    return out
