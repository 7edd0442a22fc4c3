"""How a request was framed: `direct`, or an attack/framing that wraps the same underlying
request (its `base_prompt_id`). Importers read the harness's own name for it (HarmBench's
attack method, StrongREJECT's jailbreak, promptfoo's strategy, a `framing` column); this module
maps the names known to mean one of the common framings onto one spelling, and keeps every
other name exactly as given — an unknown attack is not guessed into a family."""

from __future__ import annotations

import re

from audits.ingest.errors import IngestError

DIRECT = "direct"
# The common framings, in the order pages list them.
KNOWN = (
    DIRECT,
    "prefill",
    "adversarial_suffix",
    "role_play",
    "long_reasoning",
    "multi_turn",
    "translation",
    "encoding",
)
MAX_FRAMING = 60
MAX_BASE_PROMPT_ID = 300

# Names as harnesses write them (lower-cased, separators folded to "_").
_ALIASES = {
    # No attack: StrongREJECT's "none", HarmBench's DirectRequest baseline.
    "direct": DIRECT,
    "none": DIRECT,
    "no_attack": DIRECT,
    "baseline": DIRECT,
    "plain": DIRECT,
    "directrequest": DIRECT,
    "direct_request": DIRECT,
    # The response is started for the model.
    "prefill": "prefill",
    "prefilling": "prefill",
    "prefill_attack": "prefill",
    "assistant_prefill": "prefill",
    # Optimised token suffixes (HarmBench's GCG family, PEZ, GBDA, UAT, AutoPrompt).
    "suffix": "adversarial_suffix",
    "adversarial_suffix": "adversarial_suffix",
    "gcg": "adversarial_suffix",
    "gcg_multi": "adversarial_suffix",
    "gcg_transfer": "adversarial_suffix",
    "ensemblegcg": "adversarial_suffix",
    "pez": "adversarial_suffix",
    "gbda": "adversarial_suffix",
    "uat": "adversarial_suffix",
    "autoprompt": "adversarial_suffix",
    # Personas (StrongREJECT's AIM, evil confidant and developer-mode jailbreaks).
    "role_play": "role_play",
    "roleplay": "role_play",
    "persona": "role_play",
    "aim": "role_play",
    "evil_confidant": "role_play",
    "dev_mode_v2": "role_play",
    "dev_mode_with_rant": "role_play",
    # Long benign reasoning placed before the request.
    "long_reasoning": "long_reasoning",
    "long_reasoning_prefix": "long_reasoning",
    "reasoning_prefix": "long_reasoning",
    # Built up over several turns (promptfoo's crescendo and GOAT strategies).
    "multi_turn": "multi_turn",
    "multiturn": "multi_turn",
    "crescendo": "multi_turn",
    "goat": "multi_turn",
    # Into another language.
    "translation": "translation",
    "multilingual": "translation",
    # Encoded (StrongREJECT's base64 and ROT13 jailbreaks, promptfoo's encodings).
    "encoding": "encoding",
    "base64": "encoding",
    "rot13": "encoding",
    "rot_13": "encoding",
    "leetspeak": "encoding",
    "hex": "encoding",
}
# Families named by a prefix: StrongREJECT's translation_hmong, base64_input_only, …
_PREFIXES = (("translation_", "translation"), ("base64_", "encoding"))
_FOLD = re.compile(r"[\s\-]+")


def normalize_framing(raw: str | None) -> str | None:
    """The framing's canonical name when it is a known one, else the name as given (stripped);
    None for no framing. Raises IngestError for a name longer than the column holds (60)."""
    if raw is None:
        return None
    text = " ".join(str(raw).split())
    if not text:
        return None
    if len(text) > MAX_FRAMING:
        raise IngestError(
            f"A framing may be at most {MAX_FRAMING} characters; one is {len(text)}.",
            code="malformed",
        )
    folded = _FOLD.sub("_", text.lower())
    if folded in _ALIASES:
        return _ALIASES[folded]
    for prefix, family in _PREFIXES:
        if folded.startswith(prefix):
            return family
    return text


def check_base_prompt_id(raw: str | None) -> str:
    text = (raw or "").strip()
    if len(text) > MAX_BASE_PROMPT_ID:
        raise IngestError(
            f"A base_prompt_id may be at most {MAX_BASE_PROMPT_ID} characters.", code="malformed"
        )
    return text


def framing_label(framing: str) -> str:
    """How a page names a framing: the known ones in words, others as given."""
    if framing in KNOWN:
        return framing.replace("_", " ")
    return framing or "(none)"
