"""Conformance suites for the model layer's seams, Haystack-style: one class per protocol that
an adapter's tests inherit (ragline's providers and caches, and a third party's).

    from ragline.llm_router.testing import ChatModelConformance

    class TestMyModel(ChatModelConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def model(cls) -> ChatModel:
            return MyModel()

ChatModelConformance   `ragline.core.chat.ChatModel` (usage always filled, stream == complete)
ExactCacheConformance  `ragline.llm_router.caches.exact.ExactCache` (hits keep the completion)

The suites need pytest (`pip install 'ragline[dev]'`).
"""

from ragline.llm_router.testing.cache import ExactCacheConformance
from ragline.llm_router.testing.chat import REQUEST, ChatModelConformance

__all__ = ["REQUEST", "ChatModelConformance", "ExactCacheConformance"]
