"""The llm step kind: a rate-limited agent over any OpenAI-compatible endpoint."""

from processors.llm.cache import LLMCache, MappingLLMCache, SqliteLLMCache, cache_key
from processors.llm.client import LLMClient, LLMRequest, LLMResult
from processors.llm.limits import RateLimiter
from processors.llm.output import OutputError, OutputSpec
from processors.llm.processor import LLMProcessor
from processors.llm.prompt import PromptError, PromptTemplate
from processors.llm.retry import CircuitBreaker, RetryConfig

__all__ = [
    "CircuitBreaker",
    "LLMCache",
    "LLMClient",
    "LLMProcessor",
    "LLMRequest",
    "LLMResult",
    "MappingLLMCache",
    "OutputError",
    "OutputSpec",
    "PromptError",
    "PromptTemplate",
    "RateLimiter",
    "RetryConfig",
    "SqliteLLMCache",
    "cache_key",
]
