"""The `extractive` provider: no model, answers with the context sentences that answer the question.

    model = ExtractiveModel()
    model.complete(request).text
    # "Run pip install ragline. [Source: guide.md, page 3]"

It reads the numbered context blocks and the question of a grounded prompt
(`ragline.llm_router.grounding`) and scores every context sentence by
- its words: BM25 of the question's terms (lowercase, stopwords removed, inflections folded
  so "refunds" meets "refund" and "rising" meets "rise");
- the kind of answer asked for: "how long", "when", "how many" want a number, a date or a
  duration; "who" wants a name;
- its block's rank: blocks come best first from retrieval, which judged the whole chunk with
  dense and sparse search, so a sentence of a lower block must match clearly better to win;
- a question in the context (an FAQ's "How long do refunds take?") is not an answer: its
  match passes to the sentence after it.
It quotes the best sentence, then (up to `max_sentences`) those nearly as good that cover
`min_overlap` of the question's terms, each followed by the citation of its block.

Whether the context is relevant at all is retrieval's call (`AnswerConfig.min_relevance` in
`ragline.rag.answer`, before any model is asked), not a word count: an answer may share one
word with its question ("How long do refunds take?" / "Refunds are paid within 14 days of
the return being received."). It says "I don't have enough information" only when it has
nothing to choose by: no context sentence shares a word with the question or holds the kind
of answer asked for. Always available, deterministic, a few milliseconds. It follows no
instruction in the context: it only selects sentences.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ragline.core.chat import (
    ChatRequest,
    Completion,
    FinishReason,
    StreamChunk,
    Usage,
    unhonoured,
)
from ragline.llm_router.config import ExtractiveConfig
from ragline.llm_router.errors import BadRequest
from ragline.llm_router.grounding import NOT_ENOUGH_INFO, ContextBlock, parse_user_prompt
from ragline.llm_router.tokens import TokenCounter, count_tokens

_K1, _B = 1.2, 0.75
RANK_DECAY = 0.5  # block k (0 = retrieval's best) weighs 1 / (1 + RANK_DECAY * k)
CUE_BONUS = 0.25  # the kind of answer asked for, in shares of the question's whole IDF
NEAR_BEST = 0.6  # a further sentence is quoted when it scores this share of the best one
CARRY = 0.9  # the share of an FAQ question's match that passes to the sentence after it
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
_AMOUNT_WORDS = """
    one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty
    fifty hundred thousand million billion half dozen minute hour day week fortnight month year
    decade century january february march april june july august september october november
    december monday tuesday wednesday thursday friday saturday sunday"""
_OPENS = r"^\W*(?:(?:in|on|at|by|for|since|until)\s+)?"
_CUES = (  # (what the question opens with, what an answer to it holds)
    (
        re.compile(
            _OPENS + r"(?:how\s+(?:long|often|soon|many|much|old|far|big|large|fast|tall)"
            r"|what\s+(?:year|time|date|age|day)|when)\b",
            re.IGNORECASE,
        ),
        re.compile(rf"\d|\b(?:{'|'.join(_AMOUNT_WORDS.split())})s?\b", re.IGNORECASE),
    ),
    (re.compile(_OPENS + r"who(?:m|se)?\b", re.IGNORECASE), re.compile(r"\s[A-Z][a-z]")),
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    block: ContextBlock
    rank: int  # its block's place in the prompt: 0 is retrieval's best
    position: int
    terms: Counter[str]


@dataclass(frozen=True, slots=True)
class _Scored:
    sentence: _Sentence
    score: float  # words and cue, weighed by the block's rank
    share: float  # the IDF-weighted share of the question's terms it holds


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
        """Quote the context's best sentences. It writes no JSON (a schema or JSON mode is a
        BadRequest, so the router tries the next model); every sampling option and tool is
        dropped (`Completion.dropped`)."""
        if request.json_schema is not None or request.json_object or request.regex is not None:
            raise BadRequest(
                "the extractive answerer quotes sentences and writes no JSON; configure a "
                "model for structured output (llm.provider, e.g. local or openai:gpt-4o-mini)"
            )
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
            dropped=unhonoured(request, frozenset()),
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        completion = self.complete(request)
        dropped = completion.dropped
        for piece in re.findall(r"\S+\s*", completion.text):
            yield StreamChunk(piece, self.name, dropped=dropped)
            dropped = ()
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
    """The context sentences to quote, best first: the best one, then those scoring at least
    `NEAR_BEST` of it that hold `min_overlap` of the question's terms. None when there is
    nothing to choose by: no sentence shares a term with the question or holds the kind of
    answer it asks for (a number for "how long", a name for "who")."""
    query = set(terms(question))
    scored = _score(question, query, _split(blocks, config.min_words))
    if not query or not any(s.score > 0 for s in scored):
        return []
    scored.sort(key=lambda s: (-s.score, s.sentence.rank, s.sentence.position))
    best = scored[0]
    picked = [best.sentence]
    seen = {_key(best.sentence)}
    for candidate in scored[1:]:
        if len(picked) == config.max_sentences or candidate.score < NEAR_BEST * best.score:
            break
        if candidate.share >= config.min_overlap and _key(candidate.sentence) not in seen:
            seen.add(_key(candidate.sentence))  # overlapping chunks repeat sentences
            picked.append(candidate.sentence)
    return picked


def _score(question: str, query: set[str], sentences: Sequence[_Sentence]) -> list[_Scored]:
    """Every sentence that is not itself a question, scored by its words (BM25 over the
    context's sentences, in shares of the question's whole IDF), the answer kind the question
    asks for, and its block's rank. A context question passes `CARRY` of its match on."""
    if not query or not sentences:
        return []
    df: Counter[str] = Counter()
    for sentence in sentences:
        df.update(query & sentence.terms.keys())
    n = len(sentences)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in query}
    whole = sum(idf.values())
    avg_len = max(sum(s.terms.total() for s in sentences) / n, 1.0)
    wanted = next((answer for asks, answer in _CUES if asks.search(question)), None)
    out: list[_Scored] = []
    carried = (0.0, 0.0)
    for i, sentence in enumerate(sentences):
        shared = query & sentence.terms.keys()
        norm = _K1 * (1 - _B + _B * sentence.terms.total() / avg_len)
        tf = sentence.terms
        words = sum(idf[t] * tf[t] * (_K1 + 1) / (tf[t] + norm) for t in shared) / whole
        share = sum(idf[t] for t in shared) / whole
        if i and sentences[i - 1].block is sentence.block:
            words, share = max(words, carried[0]), max(share, carried[1])
        if sentence.text.endswith("?"):
            carried = (CARRY * words, CARRY * share)
            continue
        carried = (0.0, 0.0)
        cue = CUE_BONUS if wanted is not None and wanted.search(sentence.text) else 0.0
        out.append(_Scored(sentence, (words + cue) / (1 + RANK_DECAY * sentence.rank), share))
    return out


def _key(sentence: _Sentence) -> str:
    return " ".join(sentence.text.lower().split())


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
    for rank, block in enumerate(blocks):
        for position, text in enumerate(sentences(block.text)):
            if len(text.split()) >= min_words:
                out.append(_Sentence(text, block, rank, position, Counter(terms(text))))
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
