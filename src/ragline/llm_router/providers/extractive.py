"""The `extractive` provider: no model, answers with the best-matching sentences of the context.

    model = ExtractiveModel()
    model.complete(request).text
    # "Run pip install ragline. [Source: guide.md, page 3]"

It reads the numbered context blocks and the question of a grounded prompt
(`ragline.llm_router.grounding`), scores every context sentence against the question with BM25
(lowercase words, stopwords removed, inflections folded so "rise" meets "rises" and "rising"),
and answers with the best few, each followed
by the citation of its block. When no sentence contains enough of the question's terms it says
"I don't have enough information". Always available, deterministic, a few milliseconds.
It follows no instruction in the context: it only selects sentences.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ragline.core.chat import ChatRequest, Completion, FinishReason, StreamChunk, Usage
from ragline.llm_router.config import ExtractiveConfig
from ragline.llm_router.grounding import NOT_ENOUGH_INFO, ContextBlock, parse_user_prompt
from ragline.llm_router.tokens import TokenCounter, count_tokens

_K1, _B = 1.2, 0.75
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[`A-Z0-9])")
_NEW_SEGMENT = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|#+\s|>\s?)")
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing don down during each either else
    etc ever every few for from further get gets had has have having he her here hers him his
    how however i if in into is isn it its itself just let me more most much must my no nor not
    now of off on once only or other our ours out over own per please same she should so some
    such than that the their theirs them then there these they this those through to too under
    until up upon us use used using very via was we were what when where whether which while who
    whom whose why will with within without would yes yet you your yours"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    block: ContextBlock
    position: int
    terms: Counter[str]


class ExtractiveModel:
    """A `ChatModel` that quotes the context instead of generating.

    ExtractiveModel(ExtractiveConfig(max_sentences=2)).complete(request)
    """

    def __init__(
        self, config: ExtractiveConfig | None = None, counter: TokenCounter = count_tokens
    ) -> None:
        self._config = config or ExtractiveConfig()
        self._count = counter

    @property
    def name(self) -> str:
        return "extractive:bm25"

    def complete(self, request: ChatRequest) -> Completion:
        started = time.perf_counter()
        prompt = request.messages[-1].content if request.messages[-1].role == "user" else ""
        blocks, question = parse_user_prompt(prompt)
        picked = best_sentences(question, blocks, self._config)
        text, finish = self._fit(picked, request.max_tokens)
        tokens_in = sum(self._count(m.content) for m in request.messages)
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(tokens_in, self._count(text), source="counted"),
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=finish,
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        completion = self.complete(request)
        for piece in re.findall(r"\S+\s*", completion.text):
            yield StreamChunk(piece, self.name)
        yield StreamChunk("", self.name, completion.finish_reason, completion.usage)

    def _fit(self, picked: Sequence[_Sentence], max_tokens: int) -> tuple[str, FinishReason]:
        """Whole cited sentences while they fit in `max_tokens`; a first one that does not fit
        is cut at a word boundary."""
        if not picked:
            return NOT_ENOUGH_INFO, "stop"
        parts: list[str] = []
        used = 0
        for sentence in picked:
            cited = f"{sentence.text} {sentence.block.citation}"
            # tiktoken splits words before merging, so counts add up across a joining space
            cost = self._count(f" {cited}" if parts else cited)
            if used + cost <= max_tokens:
                parts.append(cited)
                used += cost
            elif parts:
                return " ".join(parts), "length"
            else:
                return self._cut(sentence, max_tokens), "length"
        return " ".join(parts), "stop"

    def _cut(self, sentence: _Sentence, max_tokens: int) -> str:
        """The longest start of `sentence` that fits with its citation (or alone, if need be)."""
        words = sentence.text.split()
        for suffix in (["…", sentence.block.citation], ["…"], []):
            low, high = 0, len(words)
            while low < high:
                mid = (low + high + 1) // 2
                if self._count(" ".join([*words[:mid], *suffix])) <= max_tokens:
                    low = mid
                else:
                    high = mid - 1
            if low:
                return " ".join([*words[:low], *suffix])
        return ""


def best_sentences(
    question: str, blocks: Sequence[ContextBlock], config: ExtractiveConfig
) -> list[_Sentence]:
    """Context sentences that cover at least `min_overlap` of the question, best first."""
    query = set(terms(question))
    sentences = _split(blocks, config.min_words)
    if not query or not sentences:
        return []
    df: Counter[str] = Counter()
    for sentence in sentences:
        df.update(query & sentence.terms.keys())
    n = len(sentences)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in query}
    whole = sum(idf.values())
    avg_len = sum(s.terms.total() for s in sentences) / n
    scored: list[tuple[float, _Sentence]] = []
    for sentence in sentences:
        shared = query & sentence.terms.keys()
        if sum(idf[t] for t in shared) / whole < config.min_overlap:
            continue
        norm = _K1 * (1 - _B + _B * sentence.terms.total() / avg_len)
        score = sum(
            idf[t] * sentence.terms[t] * (_K1 + 1) / (sentence.terms[t] + norm) for t in shared
        )
        scored.append((score, sentence))
    scored.sort(key=lambda item: (-item[0], item[1].block.index, item[1].position))
    picked: list[_Sentence] = []
    seen: set[str] = set()
    for _, sentence in scored:
        key = " ".join(sentence.text.lower().split())
        if key not in seen:  # overlapping chunks repeat sentences
            seen.add(key)
            picked.append(sentence)
    return picked[: config.max_sentences]


def terms(text: str) -> list[str]:
    """The lowercase words of two or more characters, stopwords removed, inflections folded.

    Example:
        >>> terms("Why does the dough rise? It rises and keeps rising.")
        ['dough', 'ris', 'ris', 'keep', 'ris']
    """
    words = _WORD.findall(text.lower())
    return [inflection_stem(w) for w in words if len(w) > 1 and w not in STOPWORDS]


def inflection_stem(word: str) -> str:
    """`word` without its English inflection (-s, -es, -ies, -ed, -ing, a final -e), so
    "rise", "rises" and "rising" meet; derivations stay apart ("capital" is not
    "capitalize"), which a full stemmer such as Porter's would merge, making unrelated
    sentences look like answers.

    Example:
        >>> [inflection_stem(w) for w in ("tides", "studies", "caused", "running", "capital")]
        ['tid', 'study', 'caus', 'run', 'capital']
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return _undouble(word[: -len(suffix)]).removesuffix("e")
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word.removesuffix("e") if len(word) > 3 else word


def _undouble(stem: str) -> str:
    """ "runn" -> "run", but "fall" and "pass" keep their doubled letters."""
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def _split(blocks: Sequence[ContextBlock], min_words: int) -> list[_Sentence]:
    out: list[_Sentence] = []
    for block in blocks:
        for position, text in enumerate(sentences(block.text)):
            if len(text.split()) >= min_words:
                out.append(_Sentence(text, block, position, Counter(terms(text))))
    return out


def sentences(text: str) -> list[str]:
    """Sentences of `text`: paragraphs and list items first, then sentence ends within them."""
    segments: list[list[str]] = []
    heading = False
    for line in text.splitlines():
        marker = _NEW_SEGMENT.match(line)
        if not line.strip():
            segments.append([])
        elif heading or marker or not segments:
            segments.append([line[marker.end() if marker else 0 :].strip()])
        else:
            segments[-1].append(line.strip())
        heading = marker is not None and marker.group().lstrip().startswith("#")
    out: list[str] = []
    for segment in segments:
        joined = " ".join(segment)
        out += [s.strip() for s in _SENTENCE_END.split(joined) if s.strip()]
    return out
